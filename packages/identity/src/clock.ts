/** Time as the SecretManager sees it; tests inject a manual clock to drive refreshes and backoff. */
export interface Clock {
  /** Milliseconds since the epoch, comparable with certificates' notBefore/notAfter. */
  now(): number;
  /** Runs `fn` after `ms`; the returned handle cancels it. The timer must not keep the process alive. */
  setTimer(fn: () => void, ms: number): TimerHandle;
}

export interface TimerHandle {
  cancel(): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    // setTimeout's limit is 2^31-1 ms (~24.8 days); longer certificate lifetimes re-arm in steps.
    const MAX = 2 ** 31 - 1;
    let t: NodeJS.Timeout;
    const due = Date.now() + ms;
    const arm = (left: number) => {
      t = setTimeout(
        () => {
          const rest = due - Date.now();
          if (rest > 0) arm(rest);
          else fn();
        },
        Math.min(Math.max(left, 0), MAX),
      );
      t.unref();
    };
    arm(ms);
    return { cancel: () => clearTimeout(t) };
  },
};

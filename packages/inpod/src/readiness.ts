// zt's readiness while in-pod: upstream's "workload proxy manager" task blocks /healthz/ready until
// the node agent's first snapshot is applied, and again whenever zt loses the node agent.

export const READINESS_TASK = 'workload proxy manager';

/** Where the client stands with the node agent, as a tagged union. */
export type InpodStatus =
  | { t: 'connecting'; attempt: number; lastError?: string }
  /** Connected; waiting for the snapshot, or for pods whose start failed (retried). */
  | { t: 'syncing' }
  | { t: 'ready' }
  | { t: 'closed' };

/** Registers a readiness task and returns its `done` (apps/ztunnel's `Readiness.register`). */
export type RegisterTask = (name: string) => () => void;

/**
 * Keeps one registration of READINESS_TASK open while `ready` is false, so the app's readiness
 * reports it as pending; re-registers after each loss.
 */
export class ReadinessGate {
  readonly #register: RegisterTask;
  #done: (() => void) | undefined;

  constructor(register: RegisterTask, ready: boolean) {
    this.#register = register;
    this.update(ready);
  }

  update(ready: boolean): void {
    if (ready) {
      this.#done?.();
      this.#done = undefined;
    } else {
      this.#done ??= this.#register(READINESS_TASK);
    }
  }

  /** Stops tracking; a pending registration stays pending (zt is going away). */
  detach(): void {
    this.#done = undefined;
  }
}

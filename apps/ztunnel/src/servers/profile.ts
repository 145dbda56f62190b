// Profiling on the admin port (loopback only), zt's counterpart of upstream's /debug/pprof/*:
//   /debug/cpuprofile?seconds=N&thread=all|main|<worker>  V8 CPU profiles (.cpuprofile)
//   /debug/heapsnapshot?thread=main|<worker>               a V8 heap snapshot (.heapsnapshot)
// One at a time (409 otherwise); nothing is opened or sampled until one is asked for.
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { send } from './http.ts';

/** The threads a profile can cover: `main`, or a data-plane worker by index. */
export type Thread = 'main' | number;

/** What the endpoints need from the running zt. */
export interface Profiler {
  /** Indexes of the worker threads running now. */
  workers(): number[];
  /** A CPU profile of each of `threads`, taken at the same time for `seconds`. */
  cpu(seconds: number, threads: readonly Thread[]): Promise<{ thread: Thread; profile: unknown }[]>;
  /** A heap snapshot of `thread`, streamed; undefined when that thread is gone. */
  heap(thread: Thread): Promise<Readable | undefined>;
}

/** Upstream's /debug/pprof/profile range: 1 to 300 seconds, 10 by default. */
export const MAX_PROFILE_SECONDS = 300;
export const DEFAULT_PROFILE_SECONDS = 10;

export function profileFileName(thread: Thread, ext: 'cpuprofile' | 'heapsnapshot'): string {
  return `${thread === 'main' ? 'main' : `worker-${thread}`}.${ext}`;
}

/** A parsed parameter, or why it is refused (a 400's body). */
type Parsed<T> = { ok: true; value: T } | { ok: false; why: string };

function parseThread(
  value: string | null,
  workers: readonly number[],
  fallback: string,
): Parsed<Thread | 'all'> {
  const v = value ?? fallback;
  if (v === 'main' || v === 'all') return { ok: true, value: v };
  if (/^\d+$/.test(v) && workers.includes(Number(v))) return { ok: true, value: Number(v) };
  return {
    ok: false,
    why: `invalid thread "${v}": expected ${fallback === 'all' ? 'all, ' : ''}main${
      workers.length ? ` or a worker index (${workers.join(', ')})` : ' (no worker threads run)'
    }\n`,
  };
}

function parseSeconds(value: string | null): Parsed<number> {
  if (value === null) return { ok: true, value: DEFAULT_PROFILE_SECONDS };
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PROFILE_SECONDS)
    return {
      ok: false,
      why: `invalid seconds "${value}": expected a whole number from 1 to ${MAX_PROFILE_SECONDS}\n`,
    };
  return { ok: true, value: n };
}

/** The two endpoints, sharing one lock. */
export class ProfileEndpoints {
  readonly #profiler: Profiler;
  #busy: { what: string; since: number } | undefined;

  constructor(profiler: Profiler) {
    this.#profiler = profiler;
  }

  /** Whether a profile is being taken (the lock is held). */
  get busy(): boolean {
    return this.#busy !== undefined;
  }

  async cpuprofile(res: ServerResponse, url: URL): Promise<void> {
    const sp = parseSeconds(url.searchParams.get('seconds'));
    if (!sp.ok) return send(res, 400, sp.why);
    const tp = parseThread(url.searchParams.get('thread'), this.#profiler.workers(), 'all');
    if (!tp.ok) return send(res, 400, tp.why);
    const seconds = sp.value;
    const thread = tp.value;
    const threads: Thread[] = thread === 'all' ? ['main', ...this.#profiler.workers()] : [thread];
    await this.#exclusive(
      res,
      `CPU profile of ${thread === 'all' ? 'all threads' : `thread ${thread}`}`,
      async () => {
        const profiles = await this.#profiler.cpu(seconds, threads);
        if (thread !== 'all') {
          const one = profiles[0];
          if (!one) return send(res, 410, `thread ${thread} is gone\n`);
          res.setHeader(
            'content-disposition',
            `attachment; filename="${profileFileName(thread, 'cpuprofile')}"`,
          );
          return send(res, 200, JSON.stringify(one.profile), 'application/json');
        }
        const body: Record<string, unknown> = {};
        for (const p of profiles) body[profileFileName(p.thread, 'cpuprofile')] = p.profile;
        res.setHeader('content-disposition', 'attachment; filename="zt-cpuprofiles.json"');
        send(res, 200, JSON.stringify(body), 'application/json');
      },
    );
  }

  async heapsnapshot(res: ServerResponse, url: URL): Promise<void> {
    const tp = parseThread(url.searchParams.get('thread'), this.#profiler.workers(), 'main');
    if (!tp.ok) return send(res, 400, tp.why);
    if (tp.value === 'all')
      return send(res, 400, 'a heap snapshot covers one thread: thread=main or a worker index\n');
    const thread = tp.value;
    await this.#exclusive(res, `heap snapshot of thread ${thread}`, async () => {
      const stream = await this.#profiler.heap(thread);
      if (!stream) return send(res, 410, `thread ${thread} is gone\n`);
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-disposition': `attachment; filename="${profileFileName(thread, 'heapsnapshot')}"`,
        'cache-control': 'no-store',
      });
      await pipeline(stream, res);
    });
  }

  async #exclusive(res: ServerResponse, what: string, run: () => Promise<void>): Promise<void> {
    if (this.#busy) {
      const s = Math.round((Date.now() - this.#busy.since) / 1000);
      return send(
        res,
        409,
        `busy: a ${this.#busy.what} started ${s} s ago; one profile at a time, try again when it is done\n`,
      );
    }
    this.#busy = { what, since: Date.now() };
    try {
      await run();
    } finally {
      this.#busy = undefined;
    }
  }
}

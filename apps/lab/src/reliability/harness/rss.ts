// Resident memory of a process (all its threads), from /proc; for bounded-memory assertions.
import { readFileSync } from 'node:fs';

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export class RssSampler {
  readonly samples: Array<{ t: number; rss: number[] }> = [];
  readonly #timer: NodeJS.Timeout;
  constructor(pids: number[], everyMs = 500) {
    const take = () => {
      try {
        this.samples.push({ t: Date.now(), rss: pids.map(rssBytes) });
      } catch {
        // a process that exited
      }
    };
    take();
    this.#timer = setInterval(take, everyMs);
  }
  stop(): void {
    clearInterval(this.#timer);
  }
  max(i: number): number {
    return Math.max(...this.samples.map((s) => s.rss[i] ?? 0));
  }
  first(i: number): number {
    return this.samples[0]?.rss[i] ?? 0;
  }
  last(i: number): number {
    return this.samples.at(-1)?.rss[i] ?? 0;
  }
}

export const MiB = 1024 * 1024;

import { readdirSync, readFileSync } from 'node:fs';
import { gauge } from './registry.ts';

// Upstream's process collector (src/metrics/process.rs): open and maximum file descriptors of the
// process, read at scrape time. Per process, not per thread: only the main thread registers them
// (the workers share the process's descriptor table), and `max` keeps any copy from adding up.

/** Descriptors open in this process; undefined where /proc is not there. */
export function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length - 1; // less the one reading the directory
  } catch {
    return undefined;
  }
}

/** The soft RLIMIT_NOFILE, as upstream reads it with getrlimit; Infinity when unlimited. */
export function maxFds(): number | undefined {
  let limits: string;
  try {
    limits = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\S+)/m.exec(limits);
  if (!m) return undefined;
  return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}

let started = false;

/** Registers `process_open_fds` and `process_max_fds`; call once, on the main thread. */
export function startProcessMetrics(): void {
  if (started) return;
  started = true;
  const open = gauge('process_open_fds', 'Number of open file descriptors', [], { aggregator: 'max' });
  const max = gauge('process_max_fds', 'Maximum number of file descriptors', [], { aggregator: 'max' });
  const collected = (g: typeof open, read: () => number | undefined) => {
    (g as unknown as { collect: () => void }).collect = () => {
      const v = read();
      if (v !== undefined) g.set(v);
    };
  };
  collected(open, openFds);
  collected(max, maxFds);
}

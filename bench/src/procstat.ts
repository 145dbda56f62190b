// CPU time and memory of a process, read from /proc: utime + stime of /proc/<pid>/stat (all of its
// threads, workers included) and VmRSS / VmHWM of /proc/<pid>/status.
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat; 100 on every Linux this runs on (getconf CLK_TCK). */
const CLK_TCK = 100;

export interface ProcSample {
  /** user + system CPU seconds since the process started. */
  cpuSeconds: number;
  rssBytes: number;
  /** Peak resident set size so far. */
  hwmBytes: number;
}

/** Parses the text of /proc/<pid>/stat; the command name may contain spaces and parentheses. */
export function parseStatCpuSeconds(stat: string): number {
  const close = stat.lastIndexOf(')');
  if (close < 0) throw new Error('not a /proc/<pid>/stat line');
  // Fields after "(comm)": state is field 3, utime field 14, stime field 15 (1-based).
  const rest = stat.slice(close + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('unreadable utime/stime');
  return (utime + stime) / CLK_TCK;
}

/** Reads `VmRSS` / `VmHWM` (kB) out of the text of /proc/<pid>/status, in bytes. */
export function parseStatusMemory(status: string): { rssBytes: number; hwmBytes: number } {
  const kb = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : Number.NaN;
  };
  return { rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM') };
}

export function sampleProc(pid: number): ProcSample {
  const cpuSeconds = parseStatCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return { cpuSeconds, ...parseStatusMemory(readFileSync(`/proc/${pid}/status`, 'utf8')) };
}

// One zt node as a child process: its JSON log lines, its metrics, its bound listeners, and the
// ways to hurt it (signals, a killed worker thread) that the reliability suite needs.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Exposition, parseExposition } from '@zt/metrics/testing';
import type { ChildCommand, ChildReady } from './zt-child.ts';

export type LogLine = Record<string, unknown> & { level?: string; message?: string; msg?: string };

export class ZtProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  /** Non-JSON output (stderr, crashes): must stay empty of stack traces. */
  readonly raw: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  ready!: ChildReady;
  readonly #waiters = new Set<() => void>();
  readonly events: Record<string, unknown>[] = [];

  private constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.#wake();
        resolve({ code, signal });
      }),
    );
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l) as LogLine);
      } catch {
        this.raw.push(l);
      }
      this.#wake();
    });
    createInterface({ input: child.stderr! }).on('line', (l) => {
      this.raw.push(l);
      this.#wake();
    });
    child.on('message', (m: Record<string, unknown>) => {
      if (m['t'] === 'ready') this.ready = m as unknown as ChildReady;
      else this.events.push(m);
      this.#wake();
    });
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  static async start(name: string, env: Record<string, string>, timeoutMs = 60_000): Promise<ZtProcess> {
    const entry = fileURLToPath(new URL('./zt-child.ts', import.meta.url));
    const child = spawn(process.execPath, ['--conditions=zt-source', entry], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const zt = new ZtProcess(name, child);
    await zt.until(() => zt.ready !== undefined || zt.child.exitCode !== null, timeoutMs, `${name} to start`);
    if (!zt.ready) throw new Error(`${name} exited before it was ready:\n${zt.raw.join('\n')}`);
    return zt;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves when `pred` holds (re-checked on every log line, message and every 100 ms). */
  until(pred: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const poll = setInterval(check, 100);
      const cleanup = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** The first log line after `from` (an index into `lines`) that matches. */
  async waitLog(
    match: (l: LogLine) => boolean,
    from = 0,
    timeoutMs = 10_000,
    what = 'log line',
  ): Promise<LogLine> {
    let found: LogLine | undefined;
    await this.until(
      () => {
        found = this.lines.slice(from).find(match);
        return found !== undefined;
      },
      timeoutMs,
      what,
    );
    return found as LogLine;
  }

  listener(kind: string, set = 'shared'): { address: string; port: number } {
    const b = this.ready.bound.find((x) => x.kind === kind && x.set === set);
    if (!b) throw new Error(`${this.name} has no ${kind} listener in set ${set}`);
    return { address: b.address, port: b.port };
  }

  async metrics(): Promise<Exposition> {
    const res = await fetch(`${this.ready.metrics}/metrics`);
    return parseExposition(await res.text());
  }

  send(cmd: ChildCommand): void {
    this.child.send(cmd);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<void> {
    if (!this.alive) return;
    this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** The message text of a pino line (zt formats it as `message`, plain pino as `msg`). */
export function messageOf(l: LogLine): string {
  return String(l.message ?? l.msg ?? '');
}

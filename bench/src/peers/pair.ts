// Starting and stopping a peer proxy pair (stunnel4 or HAProxy) with generated configs. A missing
// binary is not an error: the pair reports itself unavailable and its rows and budgets are skipped.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { haproxyConfigs, type PairPorts, stunnelConfigs } from './config.ts';
import type { TlsFiles } from './tls.ts';

export type PeerKind = 'stunnel' | 'haproxy';

const BINARIES: Record<PeerKind, string[]> = {
  stunnel: ['/usr/bin/stunnel4', '/usr/bin/stunnel'],
  haproxy: ['/usr/sbin/haproxy', '/usr/bin/haproxy'],
};

export class PeerError extends Error {
  readonly code = 'ERR_ZT_BENCH_PEER';
}

export function findBinary(kind: PeerKind): string | undefined {
  return BINARIES[kind].find((p) => existsSync(p));
}

export interface PeerPair {
  kind: PeerKind;
  entry: { host: string; port: number };
  pids: number[];
  stop(): Promise<void>;
}

/** A free TCP port on `host` (bound then released; fine on a machine we have to ourselves). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function run(bin: string, args: string[], label: string, lines: string[]): ChildProcess {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer): void => {
    for (const l of d.toString('utf8').split('\n')) if (l) lines.push(`[${label}] ${l}`);
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return child;
}

export async function startPeerPair(
  kind: PeerKind,
  opts: { dir: string; tls: TlsFiles; target: { host: string; port: number }; threads: number },
): Promise<PeerPair> {
  const bin = findBinary(kind);
  if (!bin) throw new PeerError(`${kind} is not installed (looked for ${BINARIES[kind].join(', ')})`);
  const host = opts.target.host;
  const ports: PairPorts = {
    host,
    entry: await freePort(host),
    tls: await freePort(host),
    target: opts.target.port,
  };
  const cfg =
    kind === 'stunnel' ? stunnelConfigs(ports, opts.tls) : haproxyConfigs(ports, opts.tls, opts.threads);
  const lines: string[] = [];
  const children: ChildProcess[] = [];
  for (const side of ['server', 'client'] as const) {
    const file = join(opts.dir, `${kind}-${side}.cfg`);
    writeFileSync(file, cfg[side]);
    const args = kind === 'stunnel' ? [file] : ['-db', '-f', file];
    children.push(run(bin, args, `${kind} ${side}`, lines));
  }
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map((c) => {
        if (c.exitCode !== null || c.signalCode !== null) return undefined;
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        return exited;
      }),
    );
  };
  const deadline = Date.now() + 10_000;
  for (const port of [ports.tls, ports.entry]) {
    while (!(await canConnect(host, port))) {
      const dead = children.find((c) => c.exitCode !== null);
      if (dead || Date.now() > deadline) {
        await stop();
        throw new PeerError(`${kind} pair did not start listening on ${host}:${port}:\n${lines.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    kind,
    entry: { host, port: ports.entry },
    pids: children.map((c) => c.pid ?? 0),
    stop,
  };
}

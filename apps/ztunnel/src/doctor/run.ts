// `zt doctor`'s engine: read the running zt once, run every check, collect the verdicts.
import { loadConfig } from '../config.ts';
import { checkCa, type Shared } from './check-ca.ts';
import { checkConfiguration } from './check-config.ts';
import { checkInpod } from './check-inpod.ts';
import { checkPeers } from './check-peers.ts';
import { checkPorts } from './check-ports.ts';
import { checkXds } from './check-xds.ts';
import { type Env, loadTarget, type Target } from './target.ts';
import { type CheckName, type CheckResult, type DoctorReport, result } from './types.ts';

export interface DoctorOptions {
  /** zt's admin API; default: where this environment's zt would serve it. */
  admin?: string;
  /** The environment to judge; default: zt's own, read from /proc, else this process's. */
  env?: Env;
  /** Per network probe (default 3000 ms). */
  timeoutMs?: number;
}

/** The admin URL zt configured by `env` serves: loopback ZT_BIND_ADDRESS or 127.0.0.1, ZT_ADMIN_PORT. */
export function defaultAdminUrl(env: Env = process.env): string {
  try {
    const c = loadConfig(env);
    const host = c.bindAddress.startsWith('127.') ? c.bindAddress : '127.0.0.1';
    return `http://${host}:${c.adminPort || 15000}`;
  } catch {
    return 'http://127.0.0.1:15000';
  }
}

async function timed(name: CheckName, run: () => CheckResult | Promise<CheckResult>): Promise<CheckResult> {
  const t0 = performance.now();
  let r: CheckResult;
  try {
    r = await run();
  } catch (e) {
    // A doctor that crashes helps nobody: the check fails with what went wrong.
    r = result(
      name,
      'fail',
      `the check itself failed: ${(e as Error).message ?? String(e)}`,
      [],
      'report this to zt',
    );
  }
  return { ...r, ms: Math.round(performance.now() - t0) };
}

export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const admin = opts.admin ?? defaultAdminUrl(opts.env);
  const target: Target = await loadTarget({
    admin,
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
  });
  const shared: Shared = {};
  const configuration = await timed('configuration', () => checkConfiguration(target));
  // The CA check obtains the certificate the peers check dials with.
  const [ca, xds, inpod, ports] = await Promise.all([
    timed('CA', () => checkCa(target, shared)),
    timed('xDS', () => checkXds(target)),
    timed('in-pod', () => checkInpod(target)),
    timed('ports', () => checkPorts(target)),
  ]);
  const peers = await timed('peers', () => checkPeers(target, shared));
  const s = target.status;
  return {
    admin: target.admin,
    ...(s ? { pid: s.pid, version: s.version, node: s.nodeName } : {}),
    checks: [configuration, ca, xds, peers, inpod, ports],
  };
}

/** True when no check failed (warnings allowed). */
export function healthy(report: DoctorReport): boolean {
  return report.checks.every((c) => c.verdict !== 'fail');
}

// The running zt `zt doctor` examines: what its admin API says (/status, /config_dump), the
// environment it was started with, and its working directory (its relative paths resolve there).
import { readFileSync, readlinkSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { type Config, ConfigError, loadConfig } from '../config.ts';
import type { ZtStatus } from '../servers/status.ts';

export type Env = Record<string, string | undefined>;

/** One certificate of the dump: `pem` raw or base64-encoded (upstream's shape). */
export interface DumpCert {
  pem: string;
  validFrom: string;
  expirationTime: string;
}

export interface DumpWorkload {
  uid?: string;
  name: string;
  namespace: string;
  workloadIps: string[];
  protocol?: string;
  node?: string;
  serviceAccount?: string;
  trustDomain?: string;
}

/** The parts of /config_dump the checks read. */
export interface DumpView {
  workloads: DumpWorkload[];
  services: unknown[];
  policies: unknown[];
  certificates: { identity: string; state: string; certChain: DumpCert[]; rootCerts: DumpCert[] }[];
  /** zt's effective configuration (headers redacted). */
  config: Partial<Config>;
}

export interface Target {
  /** Base URL of the admin API. */
  admin: string;
  /** Why the admin API could not be read, when it could not. */
  adminError?: string;
  status?: ZtStatus;
  dump?: DumpView;
  /** The environment zt runs with (or, failing that, this process's). */
  env: Env;
  /** Where `env` came from, for the report. */
  envSource: string;
  /** zt's configuration: the dump's when zt answered, else parsed from `env`. */
  config?: Config;
  /** Why `env` does not parse, when it does not. */
  configError?: string;
  /** zt's working directory, against which its relative paths resolve. */
  cwd: string;
  /** Per network probe. */
  timeoutMs: number;
}

export interface TargetOptions {
  admin: string;
  /** The environment to judge; default zt's own (/proc/<pid>/environ), else this process's. */
  env?: Env;
  timeoutMs?: number;
}

async function getJson<T>(url: string, timeoutMs: number): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** A process's environment, or undefined when it cannot be read (another user, another host). */
export function processEnv(pid: number): Env | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/environ`, 'latin1');
    const env: Env = {};
    for (const entry of raw.split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  } catch {
    return undefined;
  }
}

function processCwd(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

function reason(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  if (err.name === 'TimeoutError') return 'no answer in time';
  return cause ? `${err.message} (${cause})` : err.message;
}

export async function loadTarget(opts: TargetOptions): Promise<Target> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const admin = opts.admin.replace(/\/+$/, '');
  let status: ZtStatus | undefined;
  let dump: DumpView | undefined;
  let adminError: string | undefined;
  try {
    [status, dump] = await Promise.all([
      getJson<ZtStatus>(`${admin}/status`, timeoutMs),
      getJson<DumpView>(`${admin}/config_dump`, timeoutMs),
    ]);
  } catch (e) {
    adminError = `zt's admin API at ${admin} did not answer: ${reason(e)}`;
  }
  const pid = status?.pid;
  const fromZt = opts.env === undefined && pid !== undefined ? processEnv(pid) : undefined;
  const env = opts.env ?? fromZt ?? process.env;
  const envSource =
    opts.env !== undefined
      ? 'the given environment'
      : fromZt
        ? `zt's environment (/proc/${pid}/environ)`
        : "this process's environment (zt's was not readable)";
  let config: Config | undefined;
  let configError: string | undefined;
  try {
    config = loadConfig(env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    configError = e.message;
  }
  // What zt runs with wins over what its environment would give now; the dump redacts headers.
  if (dump?.config) {
    config = {
      ...(config ?? ({} as Config)),
      ...(dump.config as Config),
      caHeaders: config?.caHeaders ?? {},
      xdsHeaders: config?.xdsHeaders ?? {},
      authToken: config?.authToken,
    };
  }
  return {
    admin,
    ...(adminError ? { adminError } : {}),
    ...(status ? { status } : {}),
    ...(dump ? { dump } : {}),
    env,
    envSource,
    ...(config ? { config } : {}),
    ...(configError ? { configError } : {}),
    cwd: (pid !== undefined ? processCwd(pid) : undefined) ?? process.cwd(),
    timeoutMs,
  };
}

/** A path of zt's configuration, resolved as zt resolves it (against its working directory). */
export function ztPath(t: Target, path: string): string {
  return isAbsolute(path) ? path : join(t.cwd, path);
}

/** The PEM text of a dumped certificate, whether the dump holds it raw or base64-encoded. */
export function pemOf(c: DumpCert): string {
  return c.pem.includes('-----BEGIN') ? c.pem : Buffer.from(c.pem, 'base64').toString('utf8');
}

// Reading one environment variable of each kind, with the variable named in every refusal.
import { ZtError } from '@zt/errors';
import { parseDurationMs } from './config-duration.ts';

export type Env = Record<string, string | undefined>;

/** A variable holds a value zt cannot use: start-up stops with this message. */
export class ConfigError extends ZtError {
  readonly variable: string;
  constructor(variable: string, value: string, expected: string) {
    super('ERR_ZT_CONFIG_INVALID', `invalid ${variable}="${value}": expected ${expected}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

/** The value, with unset and empty alike meaning "not set". */
export function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

export function bool(env: Env, name: string, dflt: boolean): boolean {
  const v = str(env, name);
  if (v === undefined) return dflt;
  if (/^(true|1)$/i.test(v)) return true;
  if (/^(false|0)$/i.test(v)) return false;
  throw new ConfigError(name, v, 'true or false');
}

export function int(env: Env, name: string, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = str(env, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max)
    throw new ConfigError(name, v, `an integer in [${min}, ${max}]`);
  return n;
}

export function optInt(env: Env, name: string, min: number, max: number): number | undefined {
  return str(env, name) === undefined ? undefined : int(env, name, 0, min, max);
}

/** Milliseconds of a duration written as upstream reads it (see parseDurationMs). */
export function duration(env: Env, name: string, dfltMs: number): number {
  const v = str(env, name);
  if (v === undefined) return dfltMs;
  const ms = parseDurationMs(v);
  if (ms === undefined)
    throw new ConfigError(name, v, 'a duration such as 10s, 5m, 100ms or 1h30m (a bare number is seconds)');
  return ms;
}

export function uri(name: string, value: string): string {
  if (!/^(https?):\/\/[^/]+/.test(value))
    throw new ConfigError(name, value, 'a URI such as https://istiod:15012');
  return value;
}

/** Every variable named `<prefix>X`, as X -> value (ISTIO_META_*, as upstream adds them to the node). */
export function withPrefix(env: Env, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith(prefix) && v !== undefined) out[k.slice(prefix.length)] = v;
  }
  return out;
}

// An HTTP header name (RFC 9110 token) and a value of visible ASCII, spaces and tabs: what gRPC
// metadata may carry, and what upstream accepts in XDS_HEADER_* and CA_HEADER_*.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/** `<prefix>NAME=value` variables as gRPC headers NAME: value, refusing what is not a header. */
export function headers(env: Env, prefix: string): Record<string, string> {
  const out = withPrefix(env, prefix);
  for (const [k, v] of Object.entries(out)) {
    if (!HEADER_NAME.test(k))
      throw new ConfigError(`${prefix}${k}`, v, 'a variable name that is a header name');
    if (!HEADER_VALUE.test(v)) throw new ConfigError(`${prefix}${k}`, v, 'a header value of printable ASCII');
  }
  return out;
}

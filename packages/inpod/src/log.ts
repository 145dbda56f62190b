import { type Logger as PinoLogger, pino } from 'pino';

/** The part of a pino logger this package uses; pass the app's logger (or a child of it). */
export type Logger = Pick<PinoLogger, 'debug' | 'info' | 'warn' | 'error'>;

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

// RUST_LOG may be a filter list ("info,zt::inpod=debug"); its bare level, when it has one, applies.
function levelFromEnv(): string {
  const bare = (process.env.RUST_LOG ?? '').split(',').find((p) => LEVELS.has(p.trim().toLowerCase()));
  return bare?.trim().toLowerCase() ?? 'info';
}

let fallback: Logger | undefined;

export function defaultLogger(): Logger {
  fallback ??= pino({ name: 'inpod', level: levelFromEnv() });
  return fallback;
}

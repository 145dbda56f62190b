import { errorMessage } from '@zt/errors';
import type { Logger } from 'pino';
import { parseLogFormat } from './format.ts';
import { Logging } from './logging.ts';

let fallback: Logging | undefined;

/**
 * The logging of packages used without one (their tests, a program that embeds them): one per
 * process, following RUST_LOG and LOG_FORMAT. The app never relies on it: it reads its
 * configuration once and hands every package a logger of its own Logging.
 */
export function defaultLogging(): Logging {
  fallback ??= fromEnvironment();
  return fallback;
}

/** Scope `scope` of `defaultLogging()`: what a package logs to when it was given no logger. */
export function defaultLogger(scope: string): Logger {
  return defaultLogging().scope(scope);
}

function fromEnvironment(): Logging {
  const format = parseLogFormat(process.env['LOG_FORMAT']);
  try {
    return new Logging({ filter: process.env['RUST_LOG'] ?? 'info', format });
  } catch (e) {
    const logging = new Logging({ format });
    logging.root.warn({ err: errorMessage(e) }, 'RUST_LOG is not understood; logging at info');
    return logging;
  }
}

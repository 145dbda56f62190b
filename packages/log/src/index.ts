// zt's logging, one implementation for every package and every thread: the logger type, upstream's
// line formats (LOG_FORMAT), the RUST_LOG filter with its scopes, and the access line.
export type { Logger } from 'pino';
export { ACCESS_MESSAGE, type AccessLine, accessLevel, logAccess } from './access.ts';
export { defaultLogger, defaultLogging } from './default.ts';
export { LogFilterError } from './errors.ts';
export {
  formatLogFilter,
  type LogFilter,
  type LogLevel,
  levelFor,
  parseLogFilter,
  pinoLevel,
} from './filter.ts';
export { type LogFormat, parseLogFormat, plainLine, ztLogger, ztLoggerOptions } from './format.ts';
export { Logging, type LoggingOptions, type LogLevelControl } from './logging.ts';

import { ZtError } from '@zt/errors';

/** A log directive (RUST_LOG or admin `/logging?level=`) did not parse. */
export class LogFilterError extends ZtError {
  constructor(directive: string, why: string) {
    super(
      'ERR_ZT_LOG_FILTER',
      `invalid log level ${JSON.stringify(directive)}: ${why}; use a level (error, warn, info, debug, trace, off) ` +
        'or comma-separated <scope>=<level> clauses, e.g. "info,xds=debug"',
    );
    this.name = 'LogFilterError';
  }
}

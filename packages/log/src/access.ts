import type { Logger } from 'pino';

/**
 * Upstream's access line, "connection complete", with its field names in its order. Fields left
 * undefined are not written. Upstream logs the identities only for mTLS connections.
 */
export interface AccessLine {
  'src.addr': string;
  'src.workload'?: string | undefined;
  'src.namespace'?: string | undefined;
  'src.identity'?: string | undefined;
  'dst.addr': string;
  /** The HBONE `:authority` when the connection was tunnelled. */
  'dst.hbone_addr'?: string | undefined;
  'dst.service'?: string | undefined;
  'dst.workload'?: string | undefined;
  'dst.namespace'?: string | undefined;
  'dst.identity'?: string | undefined;
  direction: 'inbound' | 'outbound';
  bytes_sent: number;
  bytes_recv: number;
  /** As upstream prints it, e.g. `12ms`. */
  duration: string;
  /** Set when the connection ended in error. */
  error?: string | undefined;
}

export const ACCESS_MESSAGE = 'connection complete';

/** The level of an access line: warn when the connection failed, info otherwise. */
export function accessLevel(failed: boolean): 'warn' | 'info' {
  return failed ? 'warn' : 'info';
}

/**
 * Writes one access line. Pass the `access` scope's logger, so that `access=...` directives apply.
 * Callers on the hot path check `log.isLevelEnabled(accessLevel(failed))` before building the line.
 */
export function logAccess(log: Logger, line: AccessLine): void {
  if (line.error !== undefined) log.warn(line, ACCESS_MESSAGE);
  else log.info(line, ACCESS_MESSAGE);
}

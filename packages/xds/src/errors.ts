import { errorBase } from '@zt/errors';

/** Every code an xds error carries. */
export const XDS_ERROR_CODES = [
  'ERR_ZT_XDS_RESOURCE',
  'ERR_ZT_XDS_LOCAL_CONFIG',
  'ERR_ZT_XDS_CONFIG',
] as const;
export type XdsErrorCode = (typeof XDS_ERROR_CODES)[number];

/** Base of every xds error: a stable `code` for programs, a message that says what to check. */
export class XdsError extends errorBase('XdsError', XDS_ERROR_CODES) {}

/** A resource from istiod (or the local config) that cannot be accepted; the rest of its response may be. */
export class ResourceError extends XdsError {
  /** The xDS resource name (workload uid, `namespace/hostname`, or policy `namespace/name`). */
  readonly resource: string;
  readonly reason: string;
  constructor(resource: string, reason: string) {
    super('ERR_ZT_XDS_RESOURCE', `resource ${resource || '(unnamed)'} rejected: ${reason}`);
    this.name = 'ResourceError';
    this.resource = resource;
    this.reason = reason;
  }
}

/** The local config (LOCAL_XDS_PATH / LOCAL_XDS) cannot be used. `line` is 1-based when known. */
export class LocalConfigError extends XdsError {
  readonly key: string | undefined;
  readonly line: number | undefined;
  constructor(source: string, why: string, where?: { key?: string; line?: number }) {
    const at = [where?.line !== undefined ? `line ${where.line}` : '', where?.key ? `key ${where.key}` : '']
      .filter(Boolean)
      .join(', ');
    super(
      'ERR_ZT_XDS_LOCAL_CONFIG',
      `local xDS config ${source}${at ? ` (${at})` : ''}: ${why}; check LOCAL_XDS_PATH / LOCAL_XDS against ztunnel's local config format`,
    );
    this.name = 'LocalConfigError';
    this.key = where?.key;
    this.line = where?.line;
  }
}

/** The xDS client options cannot work (bad address, unreadable root certificate). */
export class XdsConfigError extends XdsError {
  constructor(message: string) {
    super('ERR_ZT_XDS_CONFIG', message);
    this.name = 'XdsConfigError';
  }
}

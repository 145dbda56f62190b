import { ZtError } from '@zt/errors';

/** A server could not bind its port. */
export class ServerListenError extends ZtError {
  readonly server: string;
  constructor(server: string, host: string, port: number, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      'ERR_ZT_SERVER_LISTEN',
      `${server} server could not listen on ${host}:${port}: ${reason}; check that no other ztunnel, Envoy or ` +
        'process holds this port in the network namespace, and that zt may bind it',
      { cause },
    );
    this.name = 'ServerListenError';
    this.server = server;
  }
}

/** The admin server was asked to listen beyond loopback. */
export class AdminNotLoopbackError extends ZtError {
  constructor(host: string) {
    super(
      'ERR_ZT_ADMIN_NOT_LOOPBACK',
      `admin server refuses to listen on ${host}: it can shut zt down and change its log level, so it binds ` +
        'loopback only (127.0.0.1, ::1 or localhost); reach it with kubectl port-forward or istioctl',
    );
    this.name = 'AdminNotLoopbackError';
  }
}

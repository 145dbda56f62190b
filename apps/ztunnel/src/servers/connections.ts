/**
 * A live connection as the admin page shows it. Structurally the same as @zt/core's ConnectionInfo,
 * declared here so that servers/ does not depend on core's progress; core's type is assignable to it.
 */
export interface ConnectionPeer {
  address: string;
  port: number;
  workload?: string | undefined;
  identity?: string | undefined;
}

export interface ConnectionInfo {
  id: string | number;
  direction: 'inbound' | 'outbound';
  protocol: 'HBONE' | 'TCP';
  src: ConnectionPeer;
  dst: ConnectionPeer & { service?: string | undefined };
  /** Epoch milliseconds. */
  startedAt: number;
  bytesSent: number;
  bytesReceived: number;
  verdict: 'allow' | 'deny' | 'none';
  /** The policy that decided the verdict, `namespace/name`. */
  policy?: string | undefined;
}

export type ConnectionsProvider = () => Promise<readonly ConnectionInfo[]> | readonly ConnectionInfo[];

/** Body of `GET /connections`: the server's clock travels along so ages do not depend on the browser's. */
export interface ConnectionsView {
  now: number;
  connections: readonly ConnectionInfo[];
}

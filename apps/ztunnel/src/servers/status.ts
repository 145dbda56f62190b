// `GET /status` on the admin port: what `zt doctor` needs to know about a running zt beyond
// /config_dump: its process, the ports it holds, and how its xDS and ZDS connections are doing.

/** A listener as the status lists it. */
export interface StatusListener {
  kind: string;
  /** `shared`, `socks5`, or a workload uid. */
  set: string;
  address: string;
  port: number;
}

export interface XdsDisconnect {
  at: string;
  /** Upstream's termination reason: ConnectionError, Error, Reconnect, Complete. */
  reason: string;
  code: number;
  details: string;
}

export interface XdsNack {
  at: string;
  typeUrl: string;
  nonce: string;
  errors: { resource: string; reason: string }[];
}

export type XdsStatus =
  | { mode: 'local'; source: string }
  | {
      mode: 'istiod';
      address: string;
      connected: boolean;
      /** When the current stream was established. */
      connectedAt?: string;
      /** Streams opened so far. */
      streams: number;
      synced: boolean;
      acks: number;
      nacks: number;
      /** When each type was last ACKed: a NACK older than its type's last ACK is history. */
      lastAck: Record<string, string>;
      lastDisconnect?: XdsDisconnect;
      lastNack?: XdsNack;
    };

export type InpodStatusView =
  | { enabled: false }
  | {
      enabled: true;
      uds: string;
      /** connecting, syncing, ready or closed (ZdsClient.status). */
      state: string;
      lastError?: string;
      /** Enrolled pods; `netnsFd` is an fd of the zt process (`/proc/<pid>/fd/<netnsFd>`). */
      pods: { uid: string; name: string; namespace: string; netnsFd: number }[];
      /** Pods whose listeners failed to start and are retried. */
      pendingPods: string[];
    };

/** Body of `GET /status`. */
export interface ZtStatus {
  pid: number;
  version: string;
  nodeName: string;
  startedAt: string;
  ready: boolean;
  /** Readiness tasks still pending. */
  pending: string[];
  workers: number;
  /** Data-plane listeners in zt's own network namespace. */
  listeners: StatusListener[];
  /** The admin, metrics and readiness servers. */
  servers: Record<string, { host: string; port: number }>;
  xds: XdsStatus;
  inpod: InpodStatusView;
}

export type StatusProvider = () => ZtStatus | Promise<ZtStatus>;

/** What the tracker reads of an XdsClient (its events). */
export interface XdsEvents {
  connections: number;
  on(event: 'connected', fn: () => void): unknown;
  on(event: 'ack', fn: (typeUrl: string, nonce: string) => void): unknown;
  on(
    event: 'nack',
    fn: (typeUrl: string, nonce: string, errors: { resource: string; reason: string }[]) => void,
  ): unknown;
  on(event: 'disconnected', fn: (reason: string, status: { code: number; details: string }) => void): unknown;
}

/** Follows an xDS client's events so the status can say whether it is connected and what it refused. */
export class XdsTracker {
  readonly #address: string;
  readonly #client: XdsEvents;
  readonly #synced: () => boolean;
  #connectedAt: Date | undefined;
  #acks = 0;
  #nacks = 0;
  readonly #lastAck: Record<string, string> = {};
  #lastDisconnect: XdsDisconnect | undefined;
  #lastNack: XdsNack | undefined;

  constructor(address: string, client: XdsEvents, synced: () => boolean) {
    this.#address = address;
    this.#client = client;
    this.#synced = synced;
    client.on('connected', () => {
      this.#connectedAt = new Date();
    });
    client.on('ack', (typeUrl) => {
      this.#acks++;
      this.#lastAck[typeUrl] = new Date().toISOString();
    });
    client.on('nack', (typeUrl, nonce, errors) => {
      this.#nacks++;
      this.#lastNack = {
        at: new Date().toISOString(),
        typeUrl,
        nonce,
        errors: errors.map((e) => ({ resource: e.resource, reason: e.reason })),
      };
    });
    client.on('disconnected', (reason, status) => {
      this.#connectedAt = undefined;
      this.#lastDisconnect = {
        at: new Date().toISOString(),
        reason,
        code: status.code,
        details: status.details,
      };
    });
  }

  status(): XdsStatus {
    return {
      mode: 'istiod',
      address: this.#address,
      connected: this.#connectedAt !== undefined,
      ...(this.#connectedAt ? { connectedAt: this.#connectedAt.toISOString() } : {}),
      streams: this.#client.connections,
      synced: this.#synced(),
      acks: this.#acks,
      nacks: this.#nacks,
      lastAck: { ...this.#lastAck },
      ...(this.#lastDisconnect ? { lastDisconnect: this.#lastDisconnect } : {}),
      ...(this.#lastNack ? { lastNack: this.#lastNack } : {}),
    };
  }
}

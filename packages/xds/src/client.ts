import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import type {
  ChannelCredentials,
  ClientDuplexStream,
  Client as GrpcClient,
  Metadata,
  StatusObject,
} from '@grpc/grpc-js';
import { Backoff } from '@zt/errors';
import { defaultLogger, type Logger } from '@zt/log';
import { grpcJs } from '@zt/proto';
import { type DecodedAddress, decodeAddress, decodeAuthorization } from './decode.ts';
import { ResourceError, XdsConfigError } from './errors.ts';
import {
  type TerminationReason,
  xdsMessageBytes,
  xdsMessages,
  xdsNacks,
  xdsTerminations,
} from './metrics.ts';
import { buildNode, type NodeInfo } from './node.ts';
import {
  ADDRESS_TYPE_URL,
  AUTHORIZATION_TYPE_URL,
  decodeAddressBytes,
  decodeAuthorizationBytes,
} from './pb.ts';
import type { StateStore, StateUpdate } from './store.ts';
import type { Authorization } from './types.ts';
import { adsService, type DeltaRequest, type DeltaResponse, type WireResource } from './wire.ts';

export interface XdsClientOptions {
  /** XDS_ADDRESS: `https://host:port` (TLS, verified) or `http://host:port` (plaintext). */
  address: string;
  /** Where applied state goes. */
  store: StateStore;
  /** XDS_ROOT_CA: PEM file that verifies istiod; re-read on each connect. Unset: the system roots. */
  rootCertPath?: string;
  /** PEM roots given directly (tests); wins over rootCertPath. */
  rootCert?: Buffer;
  /** Name to verify istiod's certificate against when it differs from the address's host. */
  serverName?: string;
  /** AUTH_TOKEN: file with the bearer token; re-read on each (re)connect. */
  tokenPath?: string;
  /** The bearer token itself (AUTH_TOKEN naming no file, as upstream takes it); tokenPath wins. */
  token?: string;
  /** CLUSTER_ID, sent as the `clusterid` header. */
  clusterId?: string;
  /** XDS_HEADER_* (prefix stripped): extra headers on the stream. */
  headers?: Record<string, string>;
  node: NodeInfo;
  logger?: Logger;
  /**
   * Reconnect backoff: the first retry waits `initialBackoffMs`, each further one twice the last, up
   * to `maxBackoffMs` (upstream's constants, 10 ms and 15 s; upstream doubles before its first wait).
   */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface XdsClientEvents {
  connected: [];
  ack: [typeUrl: string, nonce: string];
  nack: [typeUrl: string, nonce: string, errors: ResourceError[]];
  disconnected: [reason: TerminationReason, status: { code: number; details: string }];
}

type Stream = ClientDuplexStream<DeltaRequest, DeltaResponse>;

const TYPES = [ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL] as const;

// Stream ends that are routine (server-side rotation, GOAWAY): reconnect at once, as upstream does.
function isRoutineEnd(s: { code: number; details: string }): boolean {
  if (
    s.code === grpcJs().status.UNKNOWN ||
    s.code === grpcJs().status.CANCELLED ||
    s.code === grpcJs().status.DEADLINE_EXCEEDED
  ) {
    return true;
  }
  return (
    s.code === grpcJs().status.UNAVAILABLE &&
    /transport is closing|prior goaway|GOAWAY|Connection dropped/i.test(s.details)
  );
}

/**
 * Delta ADS client: subscribes to Address and Authorization, applies each response to the store
 * atomically, ACKs or NACKs it, and reconnects with backoff, resuming with the versions it holds.
 */
export class XdsClient extends EventEmitter<XdsClientEvents> {
  readonly #opts: XdsClientOptions;
  readonly #log: Logger;
  readonly #target: string;
  readonly #tls: boolean;
  /** type url -> resource name -> version last accepted. */
  readonly #known = new Map<string, Map<string, string>>(TYPES.map((t) => [t, new Map()]));
  readonly #awaitingFirstAck = new Set<string>(TYPES);
  #grpc: GrpcClient | undefined;
  #stream: Stream | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #backoff: Backoff;
  #closed = false;
  #connections = 0;

  constructor(opts: XdsClientOptions) {
    super();
    this.#opts = opts;
    this.#log = opts.logger ?? defaultLogger('xds');
    this.#backoff = new Backoff({
      initialMs: opts.initialBackoffMs ?? 10,
      maxMs: opts.maxBackoffMs ?? 15_000,
    });
    let url: URL;
    try {
      url = new URL(opts.address);
    } catch {
      throw new XdsConfigError(
        `XDS_ADDRESS "${opts.address}" is not a URL; expected https://host:port or http://host:port`,
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new XdsConfigError(`XDS_ADDRESS "${opts.address}" must start with https:// or http://`);
    }
    this.#tls = url.protocol === 'https:';
    this.#target = `${url.hostname}:${url.port || (this.#tls ? 443 : 80)}`;
  }

  /** Number of streams opened so far (1 after the first connect). */
  get connections(): number {
    return this.#connections;
  }

  start(): void {
    if (this.#closed || this.#stream || this.#timer) return;
    void this.#connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const s = this.#stream;
    this.#stream = undefined;
    s?.cancel();
    this.#grpc?.close();
    this.#grpc = undefined;
  }

  async #credentials(): Promise<ChannelCredentials> {
    if (!this.#tls) return grpcJs().credentials.createInsecure();
    const roots =
      this.#opts.rootCert ?? (this.#opts.rootCertPath ? await readFile(this.#opts.rootCertPath) : null);
    return grpcJs().credentials.createSsl(roots);
  }

  async #metadata(): Promise<Metadata> {
    const md = new (grpcJs().Metadata)();
    for (const [k, v] of Object.entries(this.#opts.headers ?? {})) md.set(k.toLowerCase(), v);
    if (this.#opts.tokenPath || this.#opts.token) {
      const token = this.#opts.tokenPath
        ? (await readFile(this.#opts.tokenPath, 'utf8')).trim()
        : (this.#opts.token ?? '');
      if (token.length === 0) {
        throw new XdsConfigError(`token file ${this.#opts.tokenPath} exists but is empty (AUTH_TOKEN)`);
      }
      md.set('authorization', `Bearer ${token}`);
      // As upstream: the cluster id goes with the token, never alone.
      if (this.#opts.clusterId) md.set('clusterid', this.#opts.clusterId);
    }
    return md;
  }

  async #connect(): Promise<void> {
    this.#timer = undefined;
    if (this.#closed) return;
    this.#connections++;
    let md: Metadata;
    let creds: ChannelCredentials;
    try {
      [md, creds] = await Promise.all([this.#metadata(), this.#credentials()]);
    } catch (e) {
      this.#log.warn(
        { err: e },
        'xds: cannot read the token or root certificate; check AUTH_TOKEN and XDS_ROOT_CA',
      );
      this.#ended(undefined, 'ConnectionError', { code: grpcJs().status.UNAVAILABLE, details: String(e) });
      return;
    }
    if (this.#closed) return;
    // A new channel per connect, so new root certificates (and DNS answers) apply.
    this.#grpc?.close();
    const Ads = adsService();
    const channelOpts: Record<string, string | number> = {
      'grpc.max_receive_message_length': 200 * 1024 * 1024,
    };
    if (this.#opts.serverName) channelOpts['grpc.ssl_target_name_override'] = this.#opts.serverName;
    const grpc = new Ads(this.#target, creds, channelOpts);
    this.#grpc = grpc;
    const call = (
      grpc as unknown as { DeltaAggregatedResources(md: Metadata): Stream }
    ).DeltaAggregatedResources(md);
    this.#stream = call;
    let established = false;
    let done = false;
    const end = (st: { code: number; details: string }) => {
      if (done) return;
      done = true;
      const reason: TerminationReason = !established
        ? 'ConnectionError'
        : st.code === grpcJs().status.OK
          ? 'Complete'
          : isRoutineEnd(st)
            ? 'Reconnect'
            : 'Error';
      this.#ended(call, reason, st);
    };
    call.on('metadata', () => {
      established = true;
      this.#log.info({ address: this.#opts.address }, 'xds: stream established');
      this.emit('connected');
    });
    call.on('data', (res: DeltaResponse) => {
      established = true;
      this.#onResponse(call, res);
    });
    call.on('error', (err: Partial<StatusObject>) =>
      end({ code: err.code ?? grpcJs().status.UNKNOWN, details: err.details ?? String(err) }),
    );
    call.on('status', (st: StatusObject) => end(st));
    call.on('end', () => end({ code: grpcJs().status.OK, details: 'stream ended' }));

    const node = buildNode(this.#opts.node);
    for (const typeUrl of TYPES) {
      const initialResourceVersions = Object.fromEntries(this.#known.get(typeUrl) ?? []);
      call.write({ node, typeUrl, initialResourceVersions });
    }
  }

  #ended(call: Stream | undefined, reason: TerminationReason, st: { code: number; details: string }): void {
    if (call && this.#stream !== call) return;
    this.#stream = undefined;
    if (this.#closed) return;
    xdsTerminations.inc({ reason });
    let delay: number;
    if (reason === 'ConnectionError' || reason === 'Error') {
      delay = this.#backoff.next();
      this.#log.warn(
        { code: st.code, details: st.details, retryInMs: delay },
        `xds: ${reason === 'ConnectionError' ? 'cannot connect to' : 'stream error from'} ${this.#opts.address}; check XDS_ADDRESS, XDS_ROOT_CA and the token, and istiod's logs`,
      );
    } else {
      // A routine end (rotation, GOAWAY): reconnect after the initial delay, and start over.
      this.#backoff.reset();
      delay = this.#opts.initialBackoffMs ?? 10;
      this.#log.debug({ code: st.code, details: st.details }, 'xds: stream ended, reconnecting');
    }
    this.emit('disconnected', reason, st);
    this.#timer = setTimeout(() => void this.#connect(), delay);
    this.#timer.unref?.();
  }

  #onResponse(call: Stream, res: DeltaResponse): void {
    const typeUrl = res.typeUrl;
    xdsMessages.inc({ url: typeUrl });
    let size = 0;
    for (const r of res.resources) size += r.resource?.value?.length ?? 0;
    xdsMessageBytes.inc({ url: typeUrl }, size);
    // A healthy stream: the next failure starts the backoff over.
    this.#backoff.reset();

    let rejects: ResourceError[] = [];
    if (typeUrl === ADDRESS_TYPE_URL || typeUrl === AUTHORIZATION_TYPE_URL) {
      rejects = this.#apply(typeUrl, res);
    } else {
      this.#log.error({ typeUrl }, 'xds: response of a type zt did not subscribe to; ignored');
    }
    const ack: DeltaRequest = { typeUrl, responseNonce: res.nonce };
    if (rejects.length) {
      const message = rejects.map((r) => `${r.resource}: ${r.reason}`).join('; ');
      ack.errorDetail = { code: grpcJs().status.INVALID_ARGUMENT, message };
      xdsNacks.inc({ url: typeUrl });
      this.#log.error(
        { typeUrl, nonce: res.nonce, error: message },
        'xds: NACK; rejected resources keep their last good version',
      );
      this.emit('nack', typeUrl, res.nonce, rejects);
    } else {
      this.#log.debug({ typeUrl, nonce: res.nonce }, 'xds: ACK');
      this.emit('ack', typeUrl, res.nonce);
    }
    if (this.#stream === call) call.write(ack);
    if (!rejects.length && this.#awaitingFirstAck.delete(typeUrl) && this.#awaitingFirstAck.size === 0) {
      this.#opts.store.markSynced();
    }
  }

  /** Decode and apply one response; returns the resources it could not accept. */
  #apply(typeUrl: string, res: DeltaResponse): ResourceError[] {
    const rejects: ResourceError[] = [];
    const accepted: WireResource[] = [];
    const update: StateUpdate = {};
    const isAddress = typeUrl === ADDRESS_TYPE_URL;
    const addresses: DecodedAddress[] = [];
    const policies: Authorization[] = [];
    for (const r of res.resources) {
      try {
        const bytes = r.resource?.value;
        if (!bytes) throw new ResourceError(r.name, 'xDS payload without resource');
        const decode = <T>(f: (b: Uint8Array) => T): T => {
          try {
            return f(bytes);
          } catch (e) {
            throw new ResourceError(r.name, `decode: ${(e as Error).message}`);
          }
        };
        if (isAddress) addresses.push(decodeAddress(r.name, decode(decodeAddressBytes)));
        else policies.push(decodeAuthorization(r.name, decode(decodeAuthorizationBytes)));
        accepted.push(r);
      } catch (e) {
        if (!(e instanceof ResourceError)) throw e;
        rejects.push(e);
      }
    }
    if (isAddress) {
      update.workloads = addresses.flatMap((a) => (a.kind === 'workload' ? [a.workload] : []));
      update.services = addresses.flatMap((a) => (a.kind === 'service' ? [a.service] : []));
      update.removedAddresses = res.removedResources;
    } else {
      update.policies = policies;
      update.removedPolicies = res.removedResources;
    }
    this.#opts.store.apply(update);
    const known = this.#known.get(typeUrl)!;
    for (const name of res.removedResources) known.delete(name);
    // Rejected resources are not recorded: on reconnect the server must send them again.
    for (const r of accepted) known.set(r.name, r.version);
    return rejects;
  }
}

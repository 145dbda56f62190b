import {
  status as grpcStatus,
  Metadata,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
} from '@grpc/grpc-js';
import {
  encodeAuthorization,
  encodeService,
  encodeWorkload,
  policyResourceName,
  serviceResourceName,
  workloadResourceName,
} from '../encode.ts';
import { parseLocalConfig } from '../local.ts';
import {
  ADDRESS_TYPE_URL,
  AUTHORIZATION_TYPE_URL,
  encodeAddressBytes,
  encodeAuthorizationBytes,
} from '../pb.ts';
import type { Authorization, Service, Workload } from '../types.ts';
import { adsService, type DeltaRequest, type DeltaResponse } from '../wire.ts';

/** Model objects to serve; resource names are derived as istiod derives them. */
export interface XdsResources {
  workloads?: Workload[];
  services?: Service[];
  policies?: Authorization[];
}

/** A raw resource (e.g. bytes that do not decode), served as is. */
export interface RawResource {
  name: string;
  value: Uint8Array;
}

/** Everything the server received, in order. */
export interface RecordedRequest {
  /** 1-based number of the stream it came on. */
  stream: number;
  typeUrl: string;
  responseNonce: string;
  /** Set on NACKs. */
  errorDetail?: { code: number; message: string };
  initialResourceVersions: Record<string, string>;
  nodeId?: string;
  /** Request headers of its stream (authorization, clusterid, ...). */
  headers: Record<string, string>;
}

export interface TestXdsServerOptions {
  /** Serve TLS with this key and certificate (the client verifies it with its root); plaintext otherwise. */
  tls?: { key: Buffer | string; cert: Buffer | string };
  /** Initial content: local-config YAML (upstream's format) and/or model objects. */
  yaml?: string;
  resources?: XdsResources;
}

interface Entry {
  version: string;
  value: Uint8Array;
}

interface StreamState {
  id: number;
  call: ServerDuplexStream<DeltaRequest, DeltaResponse>;
  subscribed: Set<string>;
}

/**
 * A real delta-ADS gRPC server on 127.0.0.1 (ephemeral port) that serves Address and Authorization
 * resources, pushes updates and removals to connected clients, can refuse or drop streams, and
 * records every request (ACKs, NACKs, initial_resource_versions, headers).
 *
 * ```ts
 * const xds = await TestXdsServer.start({ yaml });
 * const client = new XdsClient({ address: xds.address, store, node: {} });
 * xds.set({ workloads: [w] });           // pushed to connected clients
 * xds.remove({ addresses: [w.uid] });
 * await xds.close();
 * ```
 */
export class TestXdsServer {
  readonly #server: Server;
  readonly #tls: boolean;
  readonly #port: number;
  readonly #resources = new Map<string, Map<string, Entry>>([
    [ADDRESS_TYPE_URL, new Map()],
    [AUTHORIZATION_TYPE_URL, new Map()],
  ]);
  readonly #streams = new Set<StreamState>();
  #streamCount = 0;
  #nonce = 0;
  #version = 0;
  #refuse: { code: number; details: string } | undefined;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];

  private constructor(server: Server, port: number, tls: boolean) {
    this.#server = server;
    this.#port = port;
    this.#tls = tls;
  }

  static async start(opts: TestXdsServerOptions = {}): Promise<TestXdsServer> {
    const server = new Server();
    const creds = opts.tls
      ? ServerCredentials.createSsl(
          null,
          [{ private_key: Buffer.from(opts.tls.key), cert_chain: Buffer.from(opts.tls.cert) }],
          false,
        )
      : ServerCredentials.createInsecure();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    const self = new TestXdsServer(server, port, !!opts.tls);
    server.addService(adsService().service, {
      DeltaAggregatedResources: (call: ServerDuplexStream<DeltaRequest, DeltaResponse>) =>
        self.#onStream(call),
      StreamAggregatedResources: (call: ServerDuplexStream<unknown, unknown>) =>
        call.emit('error', {
          code: grpcStatus.UNIMPLEMENTED,
          details: 'zt test server speaks delta xDS only',
        }),
    });
    if (opts.yaml) self.set(parseLocalConfig(opts.yaml, 'TestXdsServer yaml'));
    if (opts.resources) self.set(opts.resources);
    return self;
  }

  /** `http://127.0.0.1:<port>`, or `https://` with TLS: what XdsClientOptions.address takes. */
  get address(): string {
    return `${this.#tls ? 'https' : 'http'}://127.0.0.1:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  /** Streams open now. */
  get activeStreams(): number {
    return this.#streams.size;
  }

  /** Streams accepted since start (refused ones included). */
  get totalStreams(): number {
    return this.#streamCount;
  }

  /** Add or replace resources and push them to every connected client (one response per type). */
  set(r: XdsResources): void {
    const addresses: RawResource[] = [
      ...(r.workloads ?? []).map((w) => ({
        name: workloadResourceName(w),
        value: encodeAddressBytes(encodeWorkload(w)),
      })),
      ...(r.services ?? []).map((s) => ({
        name: serviceResourceName(s),
        value: encodeAddressBytes(encodeService(s)),
      })),
    ];
    const policies = (r.policies ?? []).map((p) => ({
      name: policyResourceName(p),
      value: encodeAuthorizationBytes(encodeAuthorization(p)),
    }));
    if (addresses.length) this.setRaw(ADDRESS_TYPE_URL, addresses);
    if (policies.length) this.setRaw(AUTHORIZATION_TYPE_URL, policies);
  }

  /** Serve raw resource bytes under `typeUrl` (to make a client NACK), and push them. */
  setRaw(typeUrl: string, resources: RawResource[]): void {
    const store = this.#typeStore(typeUrl);
    const version = String(++this.#version);
    for (const r of resources) store.set(r.name, { version, value: r.value });
    this.#push(
      typeUrl,
      resources.map((r) => r.name),
      [],
    );
  }

  /** Remove resources by name (workload uid / namespace/hostname; policy namespace/name) and push. */
  remove(r: { addresses?: string[]; policies?: string[] }): void {
    for (const [typeUrl, names] of [
      [ADDRESS_TYPE_URL, r.addresses ?? []],
      [AUTHORIZATION_TYPE_URL, r.policies ?? []],
    ] as const) {
      if (!names.length) continue;
      const store = this.#typeStore(typeUrl);
      for (const n of names) store.delete(n);
      this.#push(typeUrl, [], names);
    }
  }

  /** Fail every new stream with this status (trailers only, as a refusing istiod does) until `accept()`. */
  refuse(
    status: { code: number; details: string } = {
      code: grpcStatus.UNAVAILABLE,
      details: 'refused by test server',
    },
  ): void {
    this.#refuse = status;
  }

  /** Accept new streams again after `refuse()`. */
  accept(): void {
    this.#refuse = undefined;
  }

  /** End every open stream with `status` (default: UNAVAILABLE "transport is closing", a routine reconnect). */
  dropStreams(
    status: { code: number; details: string } = {
      code: grpcStatus.UNAVAILABLE,
      details: 'transport is closing',
    },
  ): void {
    for (const s of this.#streams) s.call.emit('error', status);
    this.#streams.clear();
  }

  acks(typeUrl?: string): RecordedRequest[] {
    return this.requests.filter(
      (r) => r.responseNonce && !r.errorDetail && (!typeUrl || r.typeUrl === typeUrl),
    );
  }

  nacks(typeUrl?: string): RecordedRequest[] {
    return this.requests.filter(
      (r) => r.responseNonce && r.errorDetail && (!typeUrl || r.typeUrl === typeUrl),
    );
  }

  /** Resolves when `pred` holds (polled every 5 ms); rejects after `timeoutMs`. */
  async waitFor(pred: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline)
        throw new Error(`TestXdsServer: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async close(): Promise<void> {
    this.dropStreams({ code: grpcStatus.UNAVAILABLE, details: 'test server closing' });
    await new Promise<void>((resolve) => this.#server.tryShutdown(() => resolve()));
    this.#server.forceShutdown();
  }

  #typeStore(typeUrl: string): Map<string, Entry> {
    let store = this.#resources.get(typeUrl);
    if (!store) {
      store = new Map();
      this.#resources.set(typeUrl, store);
    }
    return store;
  }

  #onStream(call: ServerDuplexStream<DeltaRequest, DeltaResponse>): void {
    const id = ++this.#streamCount;
    if (this.#refuse) {
      call.emit('error', this.#refuse);
      return;
    }
    const state: StreamState = { id, call, subscribed: new Set() };
    this.#streams.add(state);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(call.metadata.getMap())) headers[k] = String(v);
    call.sendMetadata(new Metadata());
    call.on('data', (req: DeltaRequest) => {
      const rec: RecordedRequest = {
        stream: id,
        typeUrl: req.typeUrl,
        responseNonce: req.responseNonce ?? '',
        initialResourceVersions: { ...(req.initialResourceVersions ?? {}) },
        headers,
      };
      if (req.errorDetail) rec.errorDetail = { code: req.errorDetail.code, message: req.errorDetail.message };
      if (req.node?.id) rec.nodeId = req.node.id;
      this.requests.push(rec);
      if (!req.responseNonce && !state.subscribed.has(req.typeUrl)) this.#subscribe(state, req);
    });
    const done = () => this.#streams.delete(state);
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('error', done);
    call.on('cancelled', done);
  }

  // First request for a type on a stream: send what the client lacks, and the removals of what it
  // holds but the server no longer has (delta xDS resumption).
  #subscribe(state: StreamState, req: DeltaRequest): void {
    state.subscribed.add(req.typeUrl);
    const have = req.initialResourceVersions ?? {};
    const store = this.#typeStore(req.typeUrl);
    const names = [...store.entries()].filter(([n, e]) => have[n] !== e.version).map(([n]) => n);
    const removed = Object.keys(have).filter((n) => !store.has(n));
    this.#send(state, req.typeUrl, names, removed);
  }

  #push(typeUrl: string, names: string[], removed: string[]): void {
    for (const s of this.#streams) if (s.subscribed.has(typeUrl)) this.#send(s, typeUrl, names, removed);
  }

  #send(s: StreamState, typeUrl: string, names: string[], removed: string[]): void {
    const store = this.#typeStore(typeUrl);
    const resources = names.flatMap((name) => {
      const e = store.get(name);
      return e ? [{ name, version: e.version, resource: { typeUrl, value: e.value }, aliases: [] }] : [];
    });
    s.call.write({
      systemVersionInfo: String(this.#version),
      typeUrl,
      nonce: String(++this.#nonce),
      resources,
      removedResources: removed,
    });
  }
}

// A fake istio-cni node agent: serves ZDS on a SEQPACKET socket the way cni/pkg/nodeagent's
// ztunnel server does (hello first, then one request at a time, each awaiting its Ack), with pods
// that are real network namespaces. Also misbehaves on demand: garbage, dropped connections.
// Like the node agent, it keeps every zt connection open: during a rolling update of the DaemonSet
// two zt are connected, and requests go to the newest one (the one that connected last).
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeqpacketServer, type SeqpacketSocket } from '@zt/native';
import { TestNetns } from '@zt/native/testing';
import {
  decodeAck,
  decodeHello,
  encodeRequest,
  type WorkloadInfo,
  ZDS_VERSION_V1,
  type ZdsRequest,
} from '../codec.ts';

export interface FakePodSpec {
  uid: string;
  name?: string;
  namespace?: string;
  serviceAccount?: string;
  /** An existing namespace (path or /var/run/netns name); default: a new one, destroyed with the server. */
  netns?: string;
}

export interface FakePod {
  uid: string;
  info: WorkloadInfo;
  /** Path of the pod's namespace file. */
  netnsPath: string;
  /** The namespace when the fake created it (run commands inside with `netns.spawn`). */
  netns: TestNetns | undefined;
}

export interface AckRecord {
  /** What was sent: a request, or raw bytes. */
  request: ZdsRequest | { t: 'raw' };
  /** The Ack's error ('' = success). */
  error: string;
}

export interface FakeCniOptions {
  /** Socket path; default a fresh one in a temporary directory. */
  path?: string;
  /** How long to wait for zt's connection, hello and each Ack (default 10 s). */
  timeoutMs?: number;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`fake CNI: no ${what} within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export class FakeCniServer {
  readonly path: string;
  /** Every Ack zt sent, in order. */
  readonly acks: AckRecord[] = [];
  /** Pods this node agent knows (what a snapshot re-sends). */
  readonly pods = new Map<string, FakePod>();
  /** ZdsHello versions received, one per connection. */
  readonly hellos: number[] = [];
  readonly #server: SeqpacketServer;
  readonly #dir: string | undefined;
  readonly #timeoutMs: number;
  readonly #created: TestNetns[] = [];
  /** The newest connection: where requests go. */
  #conn: SeqpacketSocket | undefined;
  /** Every connection still open, the newest last. */
  readonly #conns: SeqpacketSocket[] = [];
  #serving: Promise<void> | undefined;
  #closed = false;

  constructor(opts: FakeCniOptions = {}) {
    if (opts.path) {
      this.path = opts.path;
    } else {
      this.#dir = mkdtempSync(join(tmpdir(), `zt-fake-cni-${process.pid}-`));
      this.path = join(this.#dir, 'ztunnel.sock');
    }
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#server = SeqpacketServer.listen(this.path);
  }

  get connected(): boolean {
    return this.#conn !== undefined && !this.#conn.closed;
  }

  /** zt connections still open (two while a new zt takes over from an old one). */
  get connections(): number {
    return this.#conns.filter((c) => !c.closed).length;
  }

  /**
   * Waits for zt to connect and announce itself; returns the hello's version (1 = V1). The new
   * connection becomes the one requests go to; an older one stays open, as the node agent keeps
   * an old zt's connection while that zt drains.
   */
  async accept(): Promise<number> {
    const conn = await withTimeout(this.#server.accept(), this.#timeoutMs, 'connection from zt');
    this.#conn = conn;
    this.#conns.push(conn);
    const msg = await withTimeout(conn.recv(), this.#timeoutMs, 'ZdsHello');
    if (msg === null) throw new Error('fake CNI: zt closed the connection before its ZdsHello');
    const version = decodeHello(msg.data);
    this.hellos.push(version);
    if (version !== ZDS_VERSION_V1)
      throw new Error(`fake CNI: ZdsHello with version ${version}, expected V1`);
    return version;
  }

  /**
   * Serves as the node agent does, in the background: every zt that connects gets the snapshot of
   * the known pods (adds, then SnapshotSent) and becomes the connection later requests go to.
   * Ends with close(); `snapshots` counts the snapshots sent.
   */
  serve(): void {
    if (this.#serving) return;
    const loop = async (): Promise<void> => {
      while (!this.#closed) {
        const conn = await this.#server.accept().catch(() => undefined);
        if (!conn || this.#closed) break;
        this.#conn = conn;
        this.#conns.push(conn);
        try {
          const hello = await withTimeout(conn.recv(), this.#timeoutMs, 'ZdsHello');
          if (hello === null) continue;
          this.hellos.push(decodeHello(hello.data));
          await this.sendSnapshot();
          this.snapshots++;
        } catch {
          // That zt went away mid-snapshot; it reconnects and gets a new one.
        }
      }
    };
    this.#serving = loop();
  }

  /** Snapshots sent by serve(). */
  snapshots = 0;

  /** Records a pod and, unless `spec.netns` names one, creates its network namespace. Sends nothing. */
  createPod(spec: FakePodSpec): FakePod {
    let netns: TestNetns | undefined;
    let netnsPath: string;
    if (spec.netns) {
      netnsPath = spec.netns.includes('/') ? spec.netns : `/var/run/netns/${spec.netns}`;
    } else {
      netns = new TestNetns('pod');
      this.#created.push(netns);
      netnsPath = netns.path;
    }
    const pod: FakePod = {
      uid: spec.uid,
      info: {
        name: spec.name ?? `pod-${spec.uid}`,
        namespace: spec.namespace ?? 'default',
        serviceAccount: spec.serviceAccount ?? 'default',
      },
      netnsPath,
      netns,
    };
    this.pods.set(pod.uid, pod);
    return pod;
  }

  /** createPod, then AddWorkload with its netns fd; resolves with the pod and the Ack's error. */
  async addPod(spec: FakePodSpec): Promise<{ pod: FakePod; error: string }> {
    const pod = this.createPod(spec);
    return { pod, error: await this.sendAdd(pod.uid) };
  }

  /** AddWorkload for a known pod, its namespace opened afresh and attached (SCM_RIGHTS). */
  async sendAdd(uid: string): Promise<string> {
    const pod = this.#pod(uid);
    const fd = openSync(pod.netnsPath, 'r');
    try {
      return await this.#request({ t: 'add', uid, info: pod.info }, [fd]);
    } finally {
      closeSync(fd);
    }
  }

  /** KeepWorkload: before SnapshotSent, asks zt to keep a pod it has. */
  keep(uid: string): Promise<string> {
    return this.#request({ t: 'keep', uid }, []);
  }

  /** DelWorkload; the pod is forgotten here too (its namespace stays until close). */
  del(uid: string): Promise<string> {
    this.pods.delete(uid);
    return this.#request({ t: 'del', uid }, []);
  }

  snapshotSent(): Promise<string> {
    return this.#request({ t: 'snapshotSent' }, []);
  }

  /** What the node agent does on each new connection: every known pod (add, or keep), then SnapshotSent. */
  async sendSnapshot(opts: { keep?: readonly string[] } = {}): Promise<string[]> {
    const errors: string[] = [];
    const keep = new Set(opts.keep);
    for (const uid of this.pods.keys()) {
      errors.push(keep.has(uid) ? await this.keep(uid) : await this.sendAdd(uid));
    }
    errors.push(await this.snapshotSent());
    return errors;
  }

  /** Any request, with any fds (tests of bad input). */
  send(req: ZdsRequest, fds: readonly number[] = []): Promise<string> {
    return this.#request(req, fds);
  }

  /**
   * Raw bytes as one packet; resolves with the Ack's error, or undefined when zt closed the
   * connection instead of answering.
   */
  async sendRaw(data: Uint8Array, fds: readonly number[] = []): Promise<string | undefined> {
    const conn = this.#connection();
    await conn.send(data, fds);
    const msg = await withTimeout(conn.recv(), this.#timeoutMs, 'Ack');
    if (msg === null) return undefined;
    const error = decodeAck(msg.data);
    this.acks.push({ request: { t: 'raw' }, error });
    return error;
  }

  /** Waits until zt closes the connection (reading and recording any Acks meanwhile). */
  async waitForClose(): Promise<void> {
    const conn = this.#connection();
    for (;;) {
      const msg = await withTimeout(conn.recv(), this.#timeoutMs, 'close from zt');
      if (msg === null) break;
      this.acks.push({ request: { t: 'raw' }, error: decodeAck(msg.data) });
    }
    conn.close();
    this.#conn = undefined;
  }

  /** Closes the connections to zt, as a restarting node agent does; zt reconnects. */
  dropConnection(): void {
    for (const c of this.#conns.splice(0)) c.close();
    this.#conn = undefined;
  }

  /** Closes everything and deletes the namespaces this fake created. */
  close(): void {
    this.#closed = true;
    this.dropConnection();
    this.#server.close();
    for (const ns of this.#created) ns.destroy();
    this.#created.length = 0;
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
  }

  async #request(req: ZdsRequest, fds: readonly number[]): Promise<string> {
    const conn = this.#connection();
    await conn.send(encodeRequest(req), fds);
    const msg = await withTimeout(conn.recv(), this.#timeoutMs, `Ack for ${req.t}`);
    if (msg === null) throw new Error(`fake CNI: zt closed the connection instead of acking ${req.t}`);
    const error = decodeAck(msg.data);
    this.acks.push({ request: req, error });
    return error;
  }

  #connection(): SeqpacketSocket {
    if (!this.#conn || this.#conn.closed)
      throw new Error('fake CNI: zt is not connected; call accept() first');
    return this.#conn;
  }

  #pod(uid: string): FakePod {
    const pod = this.pods.get(uid);
    if (!pod) throw new Error(`fake CNI: no pod ${uid}; createPod first`);
    return pod;
  }
}

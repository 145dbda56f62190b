import { randomInt } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv6, type Socket } from 'node:net';
import type { Question } from 'dns-packet';
import { DnsForwardError, hostPort } from './errors.ts';
import { isTruncated, truncatedHeader, tryDecode, withId } from './message.ts';
import { kubeSearchDomains } from './names.ts';
import { readResolvConf } from './resolv-conf.ts';
import type { DnsClient } from './state.ts';

// Forwarding of what the mesh does not answer, to the resolvers of resolv.conf. The client's query
// goes out as it came, under a fresh random id (so that answers can be matched and spoofed ones
// ignored); the upstream answer comes back byte for byte with the client's id restored.

export interface Upstream {
  host: string;
  port: number;
}

export interface ForwardRequest {
  /** The client's query, as received. */
  query: Buffer;
  /** The client's id, restored on the answer. */
  id: number;
  question: Question;
  /** The largest answer the client takes: its UDP limit, or 65535 over TCP. */
  maxSize: number;
  signal?: AbortSignal;
}

/** What the proxy needs of a forwarder; SystemForwarder is the one zt uses. */
export interface Forwarder {
  /** The search domains the client's resolver appends; stripped before mesh lookups. */
  searchDomains(client: DnsClient): readonly string[];
  /** The upstream's answer with the client's id, or a DnsForwardError. */
  forward(req: ForwardRequest): Promise<Buffer>;
  dump(): ForwarderDump;
}

/** config_dump's view of the forwarder, in upstream's dnsResolverCfg / dnsResolverOpts shape. */
export interface ForwarderDump {
  dnsResolverCfg: {
    domain: string | null;
    search: string[];
    name_servers: Array<{ socket_addr: string; protocol: 'udp' | 'tcp' }>;
  };
  dnsResolverOpts: { timeout: number; attempts: number; ndots: number; use_tcp: boolean };
  /** Where the configuration came from (a resolv.conf path, or `static`). */
  source: string;
}

export interface SystemForwarderOptions {
  /** Tried in order; a server that fails hard is skipped for the rest of that query. */
  servers: Upstream[];
  /** The cluster's DNS domain, for per-client search domains (default `cluster.local`). */
  clusterDomain?: string;
  /**
   * true (default, upstream's shared/in-pod mode): a client's search domains are Kubernetes'
   * defaults for its namespace. false: `search` as given (upstream's dedicated mode).
   */
  perClientSearch?: boolean;
  search?: string[];
  domain?: string;
  /** Deadline of one forwarded query over every attempt (default 5000 ms). */
  timeoutMs?: number;
  /** One attempt at one server (default 2000 ms, at most the deadline). */
  attemptTimeoutMs?: number;
  /** Attempts per server, as resolv.conf's `attempts` (default 2). */
  attempts?: number;
  ndots?: number;
  /** Always TCP (resolv.conf `options use-vc`). */
  tcpOnly?: boolean;
  /** For the dump: where this configuration came from. */
  source?: string;
}

export interface FromResolvConfOptions extends Omit<SystemForwarderOptions, 'servers' | 'search' | 'domain'> {
  /** Default /etc/resolv.conf. */
  path?: string;
  /** Port of every nameserver (default 53); resolv.conf has no port syntax. */
  port?: number;
}

const MAX_TCP_MESSAGE = 0xffff;

export class SystemForwarder implements Forwarder {
  readonly #servers: Upstream[];
  readonly #clusterDomain: string;
  readonly #perClient: boolean;
  readonly #search: string[];
  readonly #domain: string | undefined;
  readonly #timeoutMs: number;
  readonly #attemptMs: number;
  readonly #attempts: number;
  readonly #ndots: number;
  readonly #tcpOnly: boolean;
  readonly #source: string;
  readonly #searchByNs = new Map<string, readonly string[]>();

  constructor(o: SystemForwarderOptions) {
    if (o.servers.length === 0) throw new RangeError('a SystemForwarder needs at least one server');
    this.#servers = o.servers.map((s) => ({ ...s }));
    this.#clusterDomain = (o.clusterDomain ?? 'cluster.local').replace(/\.$/, '').toLowerCase();
    this.#perClient = o.perClientSearch ?? true;
    this.#search = o.search ?? [];
    this.#domain = o.domain;
    this.#timeoutMs = o.timeoutMs ?? 5000;
    this.#attemptMs = Math.min(o.attemptTimeoutMs ?? 2000, this.#timeoutMs);
    this.#attempts = o.attempts ?? 2;
    this.#ndots = o.ndots ?? 1;
    this.#tcpOnly = o.tcpOnly ?? false;
    this.#source = o.source ?? 'static';
  }

  /** A forwarder to the nameservers of a resolv.conf file (ztunnel's own, also for pods, as upstream). */
  static fromResolvConf(o: FromResolvConfOptions = {}): SystemForwarder {
    const path = o.path ?? '/etc/resolv.conf';
    const conf = readResolvConf(path);
    const port = o.port ?? 53;
    return new SystemForwarder({
      ...o,
      servers: conf.nameservers.map((host) => ({ host, port })),
      search: conf.search,
      ...(conf.domain !== undefined ? { domain: conf.domain } : {}),
      // resolv.conf's timeout, but at most half the deadline: a lost datagram gets a second try.
      attemptTimeoutMs:
        o.attemptTimeoutMs ?? Math.min(conf.timeoutSec * 1000, Math.floor((o.timeoutMs ?? 5000) / 2)),
      attempts: o.attempts ?? conf.attempts,
      ndots: conf.ndots,
      tcpOnly: o.tcpOnly ?? conf.useTcp,
      source: path,
    });
  }

  searchDomains(client: DnsClient): readonly string[] {
    if (!this.#perClient) return this.#search;
    let domains = this.#searchByNs.get(client.namespace);
    if (!domains) {
      // One list per namespace, made once: this runs on every A/AAAA query.
      if (this.#searchByNs.size >= 10_000) this.#searchByNs.clear();
      domains = kubeSearchDomains(client.namespace, this.#clusterDomain);
      this.#searchByNs.set(client.namespace, domains);
    }
    return domains;
  }

  async forward(req: ForwardRequest): Promise<Buffer> {
    const deadline = Date.now() + this.#timeoutMs;
    const dead = new Set<Upstream>();
    let lastError: DnsForwardError | undefined;
    const tries = this.#servers.length * this.#attempts;
    for (let i = 0; i < tries; i++) {
      if (req.signal?.aborted) throw new DnsForwardError('closed', 'the DNS proxy is closing');
      const server = this.#servers[i % this.#servers.length] as Upstream;
      if (dead.has(server)) continue;
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      try {
        return await this.#exchange(server, req, Math.min(remaining, this.#attemptMs));
      } catch (e) {
        const err =
          e instanceof DnsForwardError ? e : new DnsForwardError('unreachable', (e as Error).message, e);
        if (err.reason === 'closed') throw err;
        // A timeout may be a lost datagram: the server gets another turn. Anything else is final
        // for this query (an unreachable port, a malformed answer).
        if (err.reason !== 'timeout') dead.add(server);
        lastError = err;
      }
    }
    throw lastError ?? new DnsForwardError('timeout', `no answer within ${this.#timeoutMs} ms`);
  }

  async #exchange(server: Upstream, req: ForwardRequest, timeoutMs: number): Promise<Buffer> {
    const started = Date.now();
    const upstreamId = randomInt(0, 0x10000);
    const out = withId(req.query, upstreamId);
    const check = { id: upstreamId, question: req.question };
    if (this.#tcpOnly) return withId(await tcpExchange(server, out, check, timeoutMs, req.signal), req.id);
    const udp = await udpExchange(server, out, check, timeoutMs, req.signal);
    if (!isTruncated(udp)) return fit(withId(udp, req.id), req.maxSize);
    // Truncated: the whole answer over TCP. A UDP client whose size it exceeds gets the
    // upstream's truncated answer instead, and retries over TCP itself.
    try {
      const left = Math.max(1, timeoutMs - (Date.now() - started));
      const tcp = await tcpExchange(server, out, check, left, req.signal);
      return fit(withId(tcp.length <= req.maxSize ? tcp : udp, req.id), req.maxSize);
    } catch (e) {
      if (req.maxSize < MAX_TCP_MESSAGE && !(e instanceof DnsForwardError && e.reason === 'closed')) {
        return fit(withId(udp, req.id), req.maxSize);
      }
      throw e;
    }
  }

  dump(): ForwarderDump {
    const servers = this.#servers.map((s) => hostPort(s.host, s.port));
    return {
      dnsResolverCfg: {
        domain: this.#domain ?? null,
        search: this.#perClient ? [] : [...this.#search],
        name_servers: servers.flatMap((socket_addr) =>
          this.#tcpOnly
            ? [{ socket_addr, protocol: 'tcp' as const }]
            : [
                { socket_addr, protocol: 'udp' as const },
                { socket_addr, protocol: 'tcp' as const },
              ],
        ),
      },
      dnsResolverOpts: {
        timeout: this.#attemptMs / 1000,
        attempts: this.#attempts,
        ndots: this.#ndots,
        use_tcp: this.#tcpOnly,
      },
      source: this.#source,
    };
  }
}

function fit(answer: Buffer, maxSize: number): Buffer {
  return answer.length <= maxSize ? answer : truncatedHeader(answer);
}

interface AnswerCheck {
  id: number;
  question: Question;
}

/**
 * Whether `msg` answers our query: our id, a response, and the same question (a response with no
 * question, such as a FORMERR, is taken too). `ignore`: not ours, keep waiting (stray or spoofed);
 * `malformed`: ours but unreadable.
 */
function judge(msg: Buffer, check: AnswerCheck): 'ok' | 'ignore' | 'malformed' {
  if (msg.length < 12 || msg.readUInt16BE(0) !== check.id) return 'ignore';
  const p = tryDecode(msg);
  if (p?.type !== 'response') return 'malformed';
  const q = p.questions?.[0];
  if (!q) return 'ok';
  if (
    q.name.toLowerCase() !== check.question.name.toLowerCase() ||
    q.type !== check.question.type ||
    q.class !== check.question.class
  )
    return 'ignore';
  return 'ok';
}

type Finish = (err: DnsForwardError | undefined, answer?: Buffer) => void;

/**
 * One exchange with an upstream resolver over `proto`: settles once, on the answer, an error, the
 * timeout or the proxy closing (`signal`), then runs the cleanup `start` returned (its socket's close).
 */
function exchange(
  proto: 'UDP' | 'TCP',
  where: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  start: (finish: Finish) => () => void,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let cleanup: (() => void) | undefined;
    const finish: Finish = (err, answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      cleanup?.();
      if (err) reject(err);
      else resolve(answer as Buffer);
    };
    const onAbort = (): void => finish(new DnsForwardError('closed', 'the DNS proxy is closing'));
    const timer = setTimeout(
      () => finish(new DnsForwardError('timeout', `no ${proto} answer from ${where} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    cleanup = start(finish);
    // Settled while starting: the cleanup was not known yet.
    if (settled) cleanup();
  });
}

function udpExchange(
  server: Upstream,
  msg: Buffer,
  check: AnswerCheck,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Buffer> {
  const where = hostPort(server.host, server.port);
  return exchange('UDP', where, timeoutMs, signal, (finish) => {
    let closed = false;
    const socket: UdpSocket = createSocket(isIPv6(server.host.split('%')[0] ?? '') ? 'udp6' : 'udp4');
    socket.on('error', (e) =>
      finish(new DnsForwardError('unreachable', `${where} over UDP: ${e.message}`, e)),
    );
    socket.on('message', (m) => {
      const verdict = judge(m, check);
      if (verdict === 'ok') finish(undefined, m);
      else if (verdict === 'malformed')
        finish(new DnsForwardError('malformed', `an unreadable answer from ${where}`));
    });
    // Connected: only the server's datagrams arrive, and an ICMP port unreachable ends the attempt.
    socket.connect(server.port, server.host, () => {
      if (!closed) socket.send(msg);
    });
    return () => {
      closed = true;
      try {
        socket.close();
      } catch {
        // Already closed by an error.
      }
    };
  });
}

function tcpExchange(
  server: Upstream,
  msg: Buffer,
  check: AnswerCheck,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Buffer> {
  const where = hostPort(server.host, server.port);
  return exchange('TCP', where, timeoutMs, signal, (finish) => {
    let buf: Buffer = Buffer.alloc(0);
    const sock: Socket = connect({ host: server.host, port: server.port, noDelay: true });
    sock.on('error', (e) => finish(new DnsForwardError('unreachable', `${where} over TCP: ${e.message}`, e)));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      sock.write(Buffer.concat([len, msg]));
    });
    sock.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (buf.length < 2 + n) return;
        const frame = buf.subarray(2, 2 + n);
        buf = buf.subarray(2 + n);
        const verdict = judge(frame, check);
        if (verdict === 'ok') return finish(undefined, Buffer.from(frame));
        if (verdict === 'malformed')
          return finish(new DnsForwardError('malformed', `an unreadable answer from ${where}`));
      }
    });
    sock.on('end', () =>
      finish(new DnsForwardError('unreachable', `${where} closed the TCP connection before answering`)),
    );
    return () => sock.destroy();
  });
}

import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { workloadIdentity } from '@zt/identity';
import { socketIp, type Workload } from '@zt/xds';
import { formatAddr, type SocketAddr } from '../addr.ts';
import { type AuthzConnection, type AuthzDecision, authorize } from '../authz/authorize.ts';
import { dialTcp } from '../conn/dial.ts';
import { earlyDenials } from '../conn/registry.ts';
import { relay } from '../conn/relay.ts';
import type { FlowContext } from '../context.ts';
import { PolicyDeniedError } from '../errors.ts';
import { parseBaggage } from './baggage.ts';
import { watchPolicy } from './recheck.ts';
import { forwardedHost, guessInboundService } from './service-guess.ts';

// The one inbound flow: HBONE (15008) and plaintext (15006) differ only in how a request arrives
// and how it is turned down; from the destination workload on, both run serveInbound, and the
// policy re-check (recheck.ts) authorizes with the same authorizeInbound. So one policy gives one
// decision, one log line and one set of metric labels whichever way the connection came.

/** What one inbound protocol hands the shared flow. */
export interface InboundRequest {
  readonly protocol: 'HBONE' | 'TCP';
  /** The client as seen on the connection (socketIp form). */
  readonly src: SocketAddr;
  /** Where the client asked to go: the HBONE :authority, or the original destination. */
  readonly dst: SocketAddr;
  /** The verified peer identity (HBONE); plaintext has none. */
  readonly peerIdentity?: string;
  /**
   * Came through a network gateway (`x-forwarded-network` names another network): `src` is the
   * gateway's address, so the source workload is not looked up by it, as upstream.
   */
  readonly fromGateway?: boolean;
  /** What the HBONE request's headers say of the client; plaintext has none. */
  readonly headers?: InboundHeaders;
  /** The HBONE :authority, when `dst` is not it (logged as dst.hbone_addr). */
  readonly hboneAddr?: SocketAddr;
  /** Where to connect when not `dst`: an application tunnel served on the pod's loopback. */
  readonly connectTo?: SocketAddr;
  /** Written to the destination ahead of the client's bytes: a PROXY protocol header. */
  readonly preamble?: Buffer;
  /** Turns the request down: HBONE answers `status`, plaintext closes the socket. */
  reject(status: 400 | 401 | 503): void;
  /** The client side of the byte stream, once the destination is connected (may throw: a reset tunnel). */
  accept(): Duplex;
}

/** The CONNECT headers the inbound flow reads, as upstream does. */
export interface InboundHeaders {
  /** `baggage`: the source's own description, for its labels when the state does not know it. */
  readonly baggage?: string | readonly string[];
  /** `forwarded`: its `host=` names the service the client addressed. */
  readonly forwarded?: string;
  /** `x-forwarded-network`: another network than ours means the request came through a gateway. */
  readonly forwardedNetwork?: string;
}

/** A client inside the pod itself (its loopback): its address cannot be a source towards the pod IP. */
function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

/** The local workload a connection arriving at `address` is for: the pod owning that address. */
export function localWorkloadAt(ctx: FlowContext, address: string): Workload | undefined {
  const w = ctx.view().workloadByAddress(ctx.config.network, socketIp(address));
  return w && w.node === ctx.config.nodeName ? w : undefined;
}

/**
 * A request refused before it was tracked (no destination here, a loop, no original destination):
 * logged as the access log logs a failure, counted by reason, then closed by `close`.
 */
export function refuseEarly(
  ctx: FlowContext,
  fields: Record<string, string | undefined>,
  reason: string,
  message: string,
  close: () => void,
): void {
  earlyDenials.inc({ direction: 'inbound', reason });
  const line: Record<string, string> = { scope: 'access' };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) line[k] = v;
  ctx.log.warn({ ...line, direction: 'inbound', error: message }, 'connection failed');
  close();
}

/**
 * Upstream's L4 decision for a connection to `dst`, against the policies that apply to it. Dry-run
 * matches are logged (`logDryRun`), never enforced: upstream logs them wherever it authorizes.
 */
export function authorizeInbound(
  ctx: FlowContext,
  conn: AuthzConnection,
  dst: Workload,
  logDryRun = true,
): AuthzDecision {
  const decision = authorize(conn, ctx.view().policiesFor(dst));
  if (logDryRun) logDryRunMatches(ctx, conn, decision);
  return decision;
}

/** One line per dry-run policy that matched; the same line on every inbound path. */
export function logDryRunMatches(ctx: FlowContext, conn: AuthzConnection, decision: AuthzDecision): void {
  for (const policy of decision.dryRunMatches) {
    ctx.log.info(
      {
        policy,
        'src.addr': formatAddr(conn.src),
        ...(conn.srcIdentity !== undefined ? { 'src.identity': conn.srcIdentity } : {}),
        'dst.addr': formatAddr(conn.dst),
        allowed: decision.allowed,
      },
      'dry-run: policy match',
    );
  }
}

/**
 * An inbound connection for `dstWl`, a workload of this node: authorize, track, refuse (401) when
 * policy denies, connect to the workload (503 when it cannot be reached), then bytes both ways,
 * watched by the policy re-check until the connection ends.
 */
export async function serveInbound(ctx: FlowContext, req: InboundRequest, dstWl: Workload): Promise<void> {
  const { src, dst, peerIdentity, headers } = req;
  const mtls = req.protocol === 'HBONE';
  const view = ctx.view();
  // Through a gateway the source address is the gateway's, on another network: upstream then
  // looks nothing up and labels the source from its baggage alone.
  const viaGateway =
    req.fromGateway === true ||
    (headers?.forwardedNetwork !== undefined &&
      headers.forwardedNetwork.toLowerCase() !== ctx.config.network.toLowerCase());
  const srcWl = viaGateway ? undefined : view.workloadByAddress(ctx.config.network, src.address);
  const service = guessInboundService(view, dstWl, dst.port, forwardedHost(headers?.forwarded));
  const conn: AuthzConnection = {
    src,
    dst,
    ...(peerIdentity !== undefined ? { srcIdentity: peerIdentity } : {}),
  };
  const decision = authorizeInbound(ctx, conn, dstWl);
  const dstId = workloadIdentity(dstWl, ctx.config.trustDomain);
  const t = ctx.registry.open({
    info: {
      direction: 'inbound',
      protocol: req.protocol,
      src: {
        ...src,
        ...(peerIdentity !== undefined ? { identity: peerIdentity } : {}),
        ...(srcWl ? { workload: `${srcWl.namespace}/${srcWl.name}` } : {}),
      },
      dst: {
        ...dst,
        workload: `${dstWl.namespace}/${dstWl.name}`,
        identity: dstId,
        ...(service ? { service: service.hostname } : {}),
      },
      verdict: decision.allowed ? 'allow' : 'deny',
      ...(decision.policy ? { policy: decision.policy } : {}),
      ...(decision.rule !== undefined ? { rule: decision.rule } : {}),
    },
    // The source's identity labels a connection only when mTLS proved it; the destination's is
    // known from the state either way (upstream's source_principal and destination_principal).
    labels: {
      reporter: 'destination',
      ...(srcWl ? { source: srcWl } : {}),
      ...(!srcWl && headers?.baggage !== undefined && ctx.config.responseBaggage !== false
        ? { derivedSource: parseBaggage(headers.baggage) }
        : {}),
      ...(mtls && peerIdentity !== undefined ? { sourceIdentity: peerIdentity } : {}),
      destination: dstWl,
      destinationIdentity: dstId,
      ...(service ? { service } : {}),
      mtls,
    },
    ...(mtls ? { hboneAddr: formatAddr(req.hboneAddr ?? dst) } : {}),
  });
  if (!decision.allowed) {
    req.reject(401);
    t.finish(new PolicyDeniedError(decision), 'DENY');
    return;
  }
  let upstream: Socket;
  try {
    // A loopback target is reached from loopback: the client's own address would not route.
    upstream = req.connectTo
      ? await dialTcp(ctx, req.connectTo, ctx.netnsOf(dstWl.uid))
      : await dialTcp(ctx, dst, ctx.netnsOf(dstWl.uid), isLoopback(src.address) ? undefined : src.address);
  } catch (e) {
    req.reject(503);
    t.finish(e as Error, 'CONNECT');
    return;
  }
  let client: Duplex;
  try {
    client = req.accept();
  } catch (e) {
    upstream.destroy();
    t.finish(e as Error, 'CONNECT');
    return;
  }
  if (req.preamble) upstream.write(req.preamble);
  watchPolicy(t, dstWl.uid, conn, decision);
  try {
    await relay(client, upstream, t);
    t.finish();
  } catch (e) {
    t.finish(e as Error);
  }
}

import type { Duplex } from 'node:stream';
import type { Workload } from '@zt/xds';
import type { SocketAddr } from '../addr.ts';
import type { DerivedWorkload } from '../conn/labels.ts';
import type { FlowContext } from '../context.ts';
import type { Route } from '../outbound/route.ts';

/** A route a connection can be carried on: every route but a routing error. */
export type CarriedRoute = Exclude<Route, { kind: 'error' }>;

/** What a transport may use of the proxy it runs in (one thread's): config, pool, certificates, socket calls. */
export type TransportContext = Pick<FlowContext, 'config' | 'log' | 'pool' | 'certs' | 'ops' | 'netnsOf'>;

/** One outbound connection for a transport to carry. */
export interface TransportRequest {
  readonly ctx: TransportContext;
  readonly route: CarriedRoute;
  /** The source workload (the pod that opened the connection). */
  readonly source: Workload;
  /** Its SPIFFE identity (the certificate to present on mTLS). */
  readonly sourceIdentity: string;
  /** The client's address as zt saw it (the `forwarded` header's `for`). */
  readonly client: SocketAddr;
  /** Accepted on the source pod's own listener (in-pod mode): dial from the pod's namespace. */
  readonly inPod: boolean;
}

/**
 * How the outbound flow reaches a route's destination: `open` resolves with the byte stream to
 * relay the client's connection over, or rejects (an `HboneConnectError` with status 401 counts as
 * a policy denial, anything else as a connect failure). The flow does everything else the same way
 * for every transport: routing, the tracked connection, its metrics and access log, the relay.
 */
export interface Transport {
  /** The registry key; a built-in's name (`tcp`, `hbone`, `double-hbone`) replaces it. */
  readonly name: string;
  /**
   * Whether the connection is mutual TLS to the destination: decides the connection's protocol
   * (HBONE or TCP), `connection_security_policy` and the identities in metrics and the access log.
   */
  readonly mtls: boolean;
  /**
   * When given, the transport claims the routes it accepts, before the built-in one for the
   * route's kind (claiming transports are asked newest first). Keep it cheap: it runs for every
   * outbound connection.
   */
  accepts?(route: CarriedRoute): boolean;
  open(request: TransportRequest): Promise<Duplex>;
}

/**
 * Who answered at the end of a stream when it is not the route's workload (double HBONE: a
 * destination on another network, behind its gateway): its response baggage, as upstream's
 * DerivedWorkload, and the identity its mTLS proved.
 */
export interface ReachedDestination {
  readonly workload: DerivedWorkload;
  readonly identity: string;
}

// Beside the stream rather than in open()'s result, so that every transport keeps returning a
// plain Duplex.
const reached = new WeakMap<Duplex, ReachedDestination>();

/** Told by a transport before open() resolves with `stream`. */
export function setReachedDestination(stream: Duplex, destination: ReachedDestination): void {
  reached.set(stream, destination);
}

export function reachedDestination(stream: Duplex): ReachedDestination | undefined {
  return reached.get(stream);
}

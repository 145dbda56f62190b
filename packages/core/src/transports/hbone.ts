import type { OutgoingHttpHeaders } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Dialer, TunnelRequest } from '@zt/transport';
import type { Service } from '@zt/xds';
import { formatAddr, type SocketAddr } from '../addr.ts';
import { baggageHeader, forwardedHeader, newTraceparent } from '../outbound/headers.ts';
import { parseIdentity } from '../outbound/route.ts';
import type { Transport, TransportRequest } from './transport.ts';

/** The request headers of an outbound CONNECT, as upstream's create_hbone_request. */
export function connectHeaders(req: TransportRequest, service: Service | undefined): OutgoingHttpHeaders {
  return {
    baggage: baggageHeader(req.source),
    forwarded: forwardedHeader(req.client, service),
    traceparent: newTraceparent(),
  };
}

/**
 * Where the HBONE connection to `to` is dialled from. Loopback demo: from the pod's own address
 * when zt holds it, so the destination sees the source pod as the TCP peer, as with upstream's
 * in-pod mode. In-pod: from inside the source pod's namespace, as upstream does, so the peer sees
 * the pod's IP and the pod's network policy applies; the mark keeps the pod's capture rules off it.
 */
export function dialFrom(
  req: TransportRequest,
  to: SocketAddr,
): Pick<TunnelRequest, 'localAddress' | 'dialer'> {
  const { ctx, source } = req;
  const localAddress =
    ctx.config.listeners.workloads?.mode === 'loopback' && source.node === ctx.config.nodeName
      ? source.workloadIps.find((ip) => ip.includes(':') === to.address.includes(':'))
      : undefined;
  const netns = req.inPod ? ctx.netnsOf(source.uid) : undefined;
  const connectIn = ctx.ops.connect;
  const mark = ctx.config.socketMark;
  const dialer: Dialer | undefined =
    netns && connectIn
      ? {
          key: `netns:${netns}`,
          connect: (at: SocketAddr) => connectIn(at, { netns, ...(mark ? { mark } : {}) }),
        }
      : undefined;
  return { ...(localAddress ? { localAddress } : {}), ...(dialer ? { dialer } : {}) };
}

/** One HBONE tunnel from the pool to the destination's zt (or a waypoint): upstream's proxy_to_hbone. */
export const hboneTransport: Transport = {
  name: 'hbone',
  mtls: true,
  open(req: TransportRequest): Promise<Duplex> {
    const route = req.route;
    if (route.kind !== 'hbone') {
      return Promise.reject(new TypeError(`the hbone transport cannot carry a ${route.kind} route`));
    }
    return req.ctx.pool.open({
      source: parseIdentity(req.sourceIdentity),
      destinationIdentities: route.expectedIdentities.map(parseIdentity),
      address: route.connect,
      authority: formatAddr(route.authority),
      headers: connectHeaders(req, route.service),
      ...dialFrom(req, route.connect),
    });
  },
};

import type { Duplex } from 'node:stream';
import { HboneConnection } from '@zt/transport';
import { parseBaggage } from '../inbound/baggage.ts';
import { parseIdentity } from '../outbound/route.ts';
import { connectHeaders, dialFrom } from './hbone.ts';
import { setReachedDestination, type Transport, type TransportRequest } from './transport.ts';

/** Upstream's header naming the client's network on the inner CONNECT of double HBONE. */
export const X_FORWARDED_NETWORK = 'x-forwarded-network';

/**
 * Upstream's proxy_to_double_hbone: an outer HBONE tunnel (pooled, mTLS with the gateway) to the
 * network gateway, and inside it a connection of its own (mTLS with the destination) carrying one
 * inner CONNECT. Both name the service `hostname:port`; the inner one adds `x-forwarded-network`.
 * The inner connection is not pooled, as upstream: the gateway picks an endpoint per outer tunnel,
 * so a shared inner connection would always reach the same one.
 */
export const doubleHboneTransport: Transport = {
  name: 'double-hbone',
  mtls: true,
  async open(req: TransportRequest): Promise<Duplex> {
    const route = req.route;
    if (route.kind !== 'double-hbone') {
      throw new TypeError(`the double-hbone transport cannot carry a ${route.kind} route`);
    }
    const { ctx } = req;
    const source = parseIdentity(req.sourceIdentity);
    const authority = `${route.authority.hostname}:${route.authority.port}`;
    const headers = connectHeaders(req, route.service);
    const outer = await ctx.pool.open({
      source,
      destinationIdentities: route.gatewayIdentities.map(parseIdentity),
      address: route.connect,
      authority,
      headers,
      ...dialFrom(req, route.connect),
    });
    let inner: HboneConnection | undefined;
    try {
      const certificate = await ctx.certs.fetchCertificate(source, 'connection');
      inner = await HboneConnection.dial({
        certificate,
        expectedIdentities: route.expectedIdentities.map(parseIdentity),
        address: route.connect,
        dialer: { key: 'double-hbone', connect: () => Promise.resolve(outer) },
        maxStreams: 1,
        ...(ctx.config.http2 ? { flowControl: ctx.config.http2 } : {}),
        ...(ctx.config.tls12Enabled ? { tls12Enabled: true } : {}),
        ...(ctx.config.pool?.connectTimeoutMs !== undefined
          ? { connectTimeoutMs: ctx.config.pool.connectTimeoutMs }
          : {}),
      });
      const conn = inner;
      // The inner connection lives as long as its one tunnel; the outer tunnel as long as it.
      conn.on('state', (s) => {
        if (s.t === 'closed' && !outer.destroyed) outer.end();
      });
      const tunnel = await conn.open({
        authority,
        headers: { ...headers, [X_FORWARDED_NETWORK]: ctx.config.network },
      });
      tunnel.once('close', () => conn.close());
      // As upstream: the destination's labels come from its answer, present or not (no baggage
      // leaves them unknown), and its principal from the inner mTLS.
      setReachedDestination(tunnel, {
        workload: parseBaggage(tunnel.responseHeaders.baggage),
        identity: String(conn.peerIdentity),
      });
      return tunnel;
    } catch (e) {
      inner?.destroy();
      outer.destroy();
      throw e;
    }
  },
};

import { connect, type Socket } from 'node:net';
import { Identity, type WorkloadCertificate } from '@zt/identity';
import { TestCa } from '@zt/identity/testing';
import type { SocketAddress } from '../authority.ts';
import { HbonePool, type PoolOptions } from '../pool.ts';
import { HboneServer, type HboneServerOptions, type InboundTunnel } from '../server.ts';
import { type StaticCertSource, staticCertSource } from './certs.ts';

export interface HbonePair {
  readonly ca: TestCa;
  readonly clientIdentity: Identity;
  readonly serverIdentity: Identity;
  readonly clientCert: WorkloadCertificate;
  readonly serverCert: WorkloadCertificate;
  readonly certs: StaticCertSource;
  readonly server: HboneServer;
  /** Where the server listens (127.0.0.1, ephemeral port). */
  readonly address: SocketAddress;
  readonly pool: HbonePool;
  /** Tunnels the server has seen (accepted or not). */
  readonly tunnels: InboundTunnel[];
  close(): Promise<void>;
}

export interface PairOptions {
  ca?: TestCa;
  server?: Partial<HboneServerOptions>;
  pool?: Partial<PoolOptions>;
}

/**
 * An HBONE server and a client pool on loopback with TestCa certificates (client
 * spiffe://cluster.local/ns/default/sa/client, server .../sa/server). By default the server
 * connects each tunnel to its `:authority` over TCP, like the inbound side of a proxy.
 */
export async function startHbonePair(options: PairOptions = {}): Promise<HbonePair> {
  const ca = options.ca ?? (await TestCa.create());
  const clientIdentity = new Identity(ca.trustDomain, 'default', 'client');
  const serverIdentity = new Identity(ca.trustDomain, 'default', 'server');
  const [clientCert, serverCert] = await Promise.all([ca.issue(clientIdentity), ca.issue(serverIdentity)]);
  const tunnels: InboundTunnel[] = [];
  const server = new HboneServer({
    certificateFor: async () => serverCert,
    onTunnel: (t) => {
      tunnels.push(t);
      forwardTunnel(t);
    },
    ...options.server,
  });
  const address = await server.listen(0, '127.0.0.1');
  const certs = staticCertSource(clientCert);
  const pool = new HbonePool({ certs, ...options.pool });
  return {
    ca,
    clientIdentity,
    serverIdentity,
    clientCert,
    serverCert,
    certs,
    server,
    address,
    pool,
    tunnels,
    async close() {
      await Promise.all([pool.close(1000), server.close(1000)]);
    },
  };
}

/** Connects an accepted tunnel to its :authority over TCP; 503 when that fails (400: a hostname). */
export function forwardTunnel(t: InboundTunnel): void {
  if ('hostname' in t.authority) {
    t.reject(400);
    return;
  }
  const upstream: Socket = connect({
    host: t.authority.address,
    port: t.authority.port,
    allowHalfOpen: true,
  });
  upstream.setNoDelay(true);
  upstream.once('error', () => t.reject(503));
  upstream.once('connect', () => {
    upstream.removeAllListeners('error');
    const stream = t.accept();
    stream.pipe(upstream);
    upstream.pipe(stream);
    upstream.on('error', () => stream.destroy());
    stream.on('error', () => upstream.destroy());
    stream.on('close', () => upstream.destroy());
  });
}

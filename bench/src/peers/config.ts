// Configuration files for the peer proxy pairs: a client-side proxy that takes plain TCP and opens
// mTLS (TLS 1.3 only, client certificate presented) to a server-side proxy that requires and
// verifies the client certificate and connects to the target server. The same shape as zt A -> zt B,
// without the pooling: each client connection is its own TLS connection.
import type { TlsFiles } from './tls.ts';

export interface PairPorts {
  /** Where the client connects (plain TCP). */
  entry: number;
  /** The server-side proxy's TLS port. */
  tls: number;
  /** The target server. */
  target: number;
  host: string;
}

/** stunnel 5: one file per side; foreground, no pid file, warnings only. */
export function stunnelConfigs(ports: PairPorts, tls: TlsFiles): { client: string; server: string } {
  const common = ['foreground = yes', 'pid =', 'syslog = no', 'debug = 4', ''];
  const client = [
    ...common,
    '[bench-client]',
    'client = yes',
    `accept = ${ports.host}:${ports.entry}`,
    `connect = ${ports.host}:${ports.tls}`,
    `cert = ${tls.clientCert}`,
    `key = ${tls.clientKey}`,
    `CAfile = ${tls.root}`,
    'verifyChain = yes',
    'sslVersionMin = TLSv1.3',
    '',
  ].join('\n');
  const server = [
    ...common,
    '[bench-server]',
    `accept = ${ports.host}:${ports.tls}`,
    `connect = ${ports.host}:${ports.target}`,
    `cert = ${tls.serverCert}`,
    `key = ${tls.serverKey}`,
    `CAfile = ${tls.root}`,
    // verifyChain makes stunnel request a client certificate; requireCert refuses a client without one.
    'verifyChain = yes',
    'requireCert = yes',
    'sslVersionMin = TLSv1.3',
    '',
  ].join('\n');
  return { client, server };
}

/**
 * HAProxy 2.6 in TCP mode: one file per side. `threads` sets nbthread so the pair gets the same
 * CPU share as the zt pair it is compared with.
 */
export function haproxyConfigs(
  ports: PairPorts,
  tls: TlsFiles,
  threads: number,
): { client: string; server: string } {
  const head = (name: string): string[] => [
    'global',
    `  nbthread ${threads}`,
    '  maxconn 9000',
    '  log stderr format raw local0 warning',
    'defaults',
    '  mode tcp',
    '  log global',
    '  timeout connect 5s',
    '  timeout client 120s',
    '  timeout server 120s',
    `frontend ${name}`,
  ];
  const client = [
    ...head('bench-client'),
    `  bind ${ports.host}:${ports.entry}`,
    '  default_backend upstream',
    'backend upstream',
    `  server peer ${ports.host}:${ports.tls} ssl crt ${tls.clientBundle} ca-file ${tls.root} verify required ssl-min-ver TLSv1.3`,
    '',
  ].join('\n');
  const server = [
    ...head('bench-server'),
    `  bind ${ports.host}:${ports.tls} ssl crt ${tls.serverBundle} ca-file ${tls.root} verify required ssl-min-ver TLSv1.3`,
    '  default_backend target',
    'backend target',
    `  server target ${ports.host}:${ports.target}`,
    '',
  ].join('\n');
  return { client, server };
}

import type { Socket } from 'node:net';
import { tcpSocketsOpen } from '@zt/metrics';
import type { BoundListener } from '../options.ts';
import type { Reporter } from './labels.ts';

const REPORTER: Partial<Record<BoundListener['kind'], Reporter>> = {
  outbound: 'source',
  socks5: 'source',
  inbound: 'destination',
  inboundPlaintext: 'destination',
};

/** Counts an accepted socket in istio_tcp_sockets_open until it closes, as upstream's socket guard. */
export function countOpenSocket(kind: BoundListener['kind'], socket: Socket): void {
  const reporter = REPORTER[kind];
  if (reporter === undefined) return;
  tcpSocketsOpen.inc({ reporter });
  socket.once('close', () => tcpSocketsOpen.dec({ reporter }));
}

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

interface Count {
  inc(): void;
  dec(): void;
}

/**
 * Per reporter, the gauge's child (its labels pass the cardinality guard once, not twice per
 * socket) and one shared 'close' listener, so an accepted socket costs no closure of its own.
 */
const counts: Partial<Record<Reporter, { child: Count; closed: () => void }>> = {};

function countFor(reporter: Reporter): { child: Count; closed: () => void } {
  let c = counts[reporter];
  if (!c) {
    const child: Count = tcpSocketsOpen.labels({ reporter });
    c = { child, closed: () => child.dec() };
    counts[reporter] = c;
  }
  return c;
}

/** Counts an accepted socket in istio_tcp_sockets_open until it closes, as upstream's socket guard. */
export function countOpenSocket(kind: BoundListener['kind'], socket: Socket): void {
  const reporter = REPORTER[kind];
  if (reporter === undefined) return;
  const c = countFor(reporter);
  c.child.inc();
  // on() rather than once(): 'close' fires once, and once() wraps the listener per socket.
  socket.on('close', c.closed);
}

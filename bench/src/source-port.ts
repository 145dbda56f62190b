// Source ports for client connections that must come from a given address (a pod's IP).
//
// Binding an address with port 0 makes the kernel search the ephemeral range for a port no socket
// holds, TIME_WAIT ones included; after a few thousand short connections that search dominated
// the bench client's CPU (system time per connection grew from 0.7 to 2.7 ms within one run) and
// capped the rate of every target that enters from a pod's IP (zt, direct) but not of the peer
// pairs, which connect unbound. Handing out ports in turn from a range below the ephemeral one
// keeps the bind O(1): libuv binds with SO_REUSEADDR, and the loopback 4-tuple of a TIME_WAIT
// socket is reused on connect (net.ipv4.tcp_tw_reuse, 2 by default: loopback only).
const FIRST = 20_000;
const LAST = 32_000;
let next = FIRST;

export function nextSourcePort(): number {
  const p = next;
  next = next + 1 >= LAST ? FIRST : next + 1;
  return p;
}

/** Errors that mean "this port, right now, is taken": try the next one. */
export function portTaken(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL';
}

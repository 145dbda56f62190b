import { isIPv4, isIPv6 } from 'node:net';

/** An IP address as a number, so CIDR checks are one shift and compare. */
export interface ParsedIp {
  family: 4 | 6;
  value: bigint;
}

/**
 * Sockets on a dual-stack listener report IPv4 peers as `::ffff:a.b.c.d`; upstream canonicalizes
 * those to plain IPv4 before any lookup or policy check, and so do we.
 */
export function canonicalIp(address: string): string {
  if (address.startsWith('::ffff:') && isIPv4(address.slice(7))) return address.slice(7);
  const pct = address.indexOf('%');
  return pct >= 0 ? address.slice(0, pct) : address;
}

export function parseIp(address: string): ParsedIp | undefined {
  const a = canonicalIp(address);
  if (isIPv4(a)) {
    let v = 0n;
    for (const part of a.split('.')) v = (v << 8n) | BigInt(Number(part));
    return { family: 4, value: v };
  }
  if (!isIPv6(a)) return undefined;
  let text = a;
  // An embedded dotted quad at the end stands for the last two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const q = tail.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((q[0] << 8) | q[1]).toString(16)}:${((q[2] << 8) | q[3]).toString(16)}`;
  }
  const halves = text.split('::');
  const left = halves[0] ? halves[0].split(':') : [];
  const right = halves[1] ? halves[1].split(':') : [];
  const groups =
    halves.length === 1
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  if (groups.length !== 8) return undefined;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(Number.parseInt(g === '' ? '0' : g, 16));
  return { family: 6, value: v };
}

/** Whether `ip` lies in `network/length`; different families never match (as upstream's IpNet). */
export function cidrContains(network: string, length: number, ip: ParsedIp | undefined): boolean {
  if (!ip) return false;
  const net = parseIp(network);
  if (!net || net.family !== ip.family) return false;
  const bits = net.family === 4 ? 32 : 128;
  if (length < 0 || length > bits) return false;
  const shift = BigInt(bits - length);
  return net.value >> shift === ip.value >> shift;
}

import { isIPv4, isIPv6 } from 'node:net';

// The one place zt turns IP text into bytes, numbers and back. Two text forms are in use, for two
// different jobs, so they have two names:
//  - canonicalIp: the model's form. xDS carries IPs as raw bytes; the model keeps dotted IPv4 and
//    RFC 5952 IPv6, with an IPv4-mapped address written ::ffff:a.b.c.d and kept IPv6 (upstream's
//    byte_to_ip keeps a 16-byte address an Ipv6Addr too).
//  - socketIp: the form of an address zt sees on a connection (peer, original destination, HBONE
//    :authority, SOCKS5 target). A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d;
//    upstream canonicalizes those to plain IPv4 before any lookup or policy check, and so do we.

/** An IP address as a number, so CIDR checks are one shift and compare. */
export interface ParsedIp {
  family: 4 | 6;
  value: bigint;
}

/** The text form of raw IP bytes (4 or 16), or undefined for another length. */
export function bytesToIp(bytes: Uint8Array): string | undefined {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) return undefined;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  return formatV6(groups);
}

function isMapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16 || bytes[10] !== 0xff || bytes[11] !== 0xff) return false;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return true;
}

function formatV6(groups: number[]): string {
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) {
    const hi = groups[6]!;
    const lo = groups[7]!;
    return `::ffff:${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  // Longest run of two or more zero groups becomes '::' (the first one on a tie).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Raw bytes of an IP in text form (an IPv6 zone is ignored), or undefined if it is not one. */
export function ipToBytes(text: string): Uint8Array | undefined {
  if (isIPv4(text)) return Uint8Array.from(text.split('.').map(Number));
  if (!isIPv6(text)) return undefined;
  let s = text;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const lastColon = s.lastIndexOf(':');
  const last = s.slice(lastColon + 1);
  if (last.includes('.')) {
    const o = last.split('.').map(Number);
    s = `${s.slice(0, lastColon + 1)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, rest] = s.includes('::') ? s.split('::') : [s, undefined];
  const parse = (part: string | undefined) =>
    part ? part.split(':').map((h) => Number.parseInt(h, 16)) : [];
  const left = parse(head);
  const right = parse(rest);
  const fill = 8 - left.length - right.length;
  const groups =
    rest === undefined && fill === 0 ? [...left, ...right] : [...left, ...Array(fill).fill(0), ...right];
  if (groups.length !== 8) return undefined;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** The model's canonical text form of an IP (IPv4-mapped stays IPv6), or undefined if `text` is not one. */
export function canonicalIp(text: string): string | undefined {
  const b = ipToBytes(text);
  return b ? bytesToIp(b) : undefined;
}

/**
 * The form of a connection's address for lookups and policy: IPv4-mapped IPv6 becomes plain IPv4,
 * an IPv6 zone is dropped, other IPv6 text is made canonical. Dotted IPv4, the common case, is
 * returned as is without parsing; text that is no IP is returned unchanged (lookups then miss).
 */
export function socketIp(address: string): string {
  if (!address.includes(':')) return address;
  // Node's own spelling of a mapped peer, the one case on every dual-stack connection: no parsing.
  if (address.startsWith('::ffff:') && isIPv4(address.slice(7))) return address.slice(7);
  const b = ipToBytes(address);
  if (!b) return address;
  if (isMapped(b)) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  return bytesToIp(b) as string;
}

/** An IP as a number; an IPv4-mapped address counts as IPv4 (as socketIp). Undefined if no IP. */
export function parseIp(address: string): ParsedIp | undefined {
  const b = ipToBytes(address);
  if (!b) return undefined;
  const bytes = isMapped(b) ? b.subarray(12) : b;
  let v = 0n;
  for (const byte of bytes) v = (v << 8n) | BigInt(byte);
  return { family: bytes.length === 4 ? 4 : 6, value: v };
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

/** The longest prefix length of the IP's family: 32 or 128. */
export function maxPrefix(ip: string): number {
  return ip.includes(':') ? 128 : 32;
}

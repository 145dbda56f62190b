// Who listens where, from /proc: the LISTEN sockets of a network namespace (/proc/<pid>/net/tcp and
// tcp6) and the socket inodes a process holds (/proc/<pid>/fd), to tell zt's sockets from others'.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { canonicalIp } from '@zt/xds';

export interface ListenSocket {
  address: string;
  port: number;
  inode: number;
}

const TCP_LISTEN = '0A';

/** Decodes /proc/net/tcp's hex address: 32-bit words in host (little-endian) byte order. */
function hexAddress(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = hex.slice(w, w + 8);
    for (let b = 6; b >= 0; b -= 2) bytes.push(Number.parseInt(word.slice(b, b + 2), 16));
  }
  if (bytes.length === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return plain(groups.join(':'));
}

/** The canonical form of an IP, IPv4-mapped IPv6 written as IPv4. */
export function plain(ip: string): string {
  const c = canonicalIp(ip) ?? ip;
  return c.startsWith('::ffff:') && c.includes('.') ? c.slice(7) : c;
}

/** The LISTEN sockets of a /proc/net/tcp or tcp6 text. */
export function parseProcNetTcp(text: string): ListenSocket[] {
  const out: ListenSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== TCP_LISTEN) continue;
    const [addr, port] = (f[1] ?? '').split(':');
    if (!addr || !port) continue;
    out.push({ address: hexAddress(addr), port: Number.parseInt(port, 16), inode: Number(f[9]) });
  }
  return out;
}

/** The LISTEN sockets of the network namespace `pid` lives in. */
export function listeningSockets(pid: number): ListenSocket[] {
  const out: ListenSocket[] = [];
  for (const file of ['tcp', 'tcp6']) {
    try {
      out.push(...parseProcNetTcp(readFileSync(`/proc/${pid}/net/${file}`, 'utf8')));
    } catch {
      // No IPv6 in this kernel or namespace.
    }
  }
  return out;
}

/** Inodes of the sockets process `pid` holds (every thread's: they share the fd table). */
export function socketInodes(pid: number): Set<number> {
  const out = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(Number(m[1]));
    } catch {
      // Closed while we read.
    }
  }
  return out;
}

/** The process holding socket `inode`, by scanning every process's fds (run as root to see all). */
export function ownerOf(inode: number): { pid: number; command: string } | undefined {
  const link = `socket:[${inode}]`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      if (target !== link) continue;
      let command = '?';
      try {
        command = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
          .split('\0')
          .filter(Boolean)
          .join(' ')
          .slice(0, 120);
      } catch {
        // Gone.
      }
      return { pid: Number(entry), command };
    }
  }
  return undefined;
}

const UNSPECIFIED = new Set(['0.0.0.0', '::']);

/** Whether a listener on `a` and one on `b` (same port) take the same connections. */
export function overlaps(a: string, b: string): boolean {
  const x = plain(a);
  const y = plain(b);
  if (x === y) return true;
  // The IPv6 wildcard is dual-stack here (Node's default): it covers IPv4 too.
  if (x === '::' || y === '::') return true;
  return (UNSPECIFIED.has(x) && !y.includes(':')) || (UNSPECIFIED.has(y) && !x.includes(':'));
}

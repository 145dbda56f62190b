import { isIPv4 } from 'node:net';
import { ipToBytes } from '@zt/xds';
import type { SocketAddr } from '../addr.ts';

// PROXY protocol version 2 (haproxy's proxy-protocol.txt, section 2.2), what upstream writes ahead
// of the bytes of a tunnel to a workload with a PROXY application tunnel (a waypoint): the client
// and the HBONE target, and the client's verified identity in a custom TLV.

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Version 2, command PROXY. */
const VERSION_COMMAND = 0x21;
const TCP_OVER_IPV4 = 0x11;
const TCP_OVER_IPV6 = 0x21;
/** Upstream's TLV for the source identity (PROXY_PROTOCOL_AUTHORITY_TLV). */
export const PROXY_TLV_IDENTITY = 0xd0;

/** The address's bytes, 4 or 16; an IPv4 one as ::ffff:a.b.c.d when `v6` (a header holds one family). */
function ipBytes(ip: string, v6: boolean): Buffer {
  const b = ipToBytes(ip);
  if (!b) throw new TypeError(`not an IP address: ${ip}`);
  if (!v6 || b.length === 16) return Buffer.from(b);
  return Buffer.concat([Buffer.alloc(10), Buffer.from([0xff, 0xff]), Buffer.from(b)]);
}

/** The v2 header for a TCP stream from `src` to `dst`, with the source's identity when known. */
export function proxyProtocolHeader(src: SocketAddr, dst: SocketAddr, identity?: string): Buffer {
  const v4 = isIPv4(src.address) && isIPv4(dst.address);
  const addresses = Buffer.concat([ipBytes(src.address, !v4), ipBytes(dst.address, !v4), Buffer.alloc(4)]);
  addresses.writeUInt16BE(src.port, addresses.length - 4);
  addresses.writeUInt16BE(dst.port, addresses.length - 2);
  const tlvs: Buffer[] = [];
  if (identity !== undefined) {
    const value = Buffer.from(identity, 'utf8');
    const tlv = Buffer.alloc(3);
    tlv.writeUInt8(PROXY_TLV_IDENTITY, 0);
    tlv.writeUInt16BE(value.length, 1);
    tlvs.push(tlv, value);
  }
  const body = Buffer.concat([addresses, ...tlvs]);
  const head = Buffer.alloc(4);
  head.writeUInt8(VERSION_COMMAND, 0);
  head.writeUInt8(v4 ? TCP_OVER_IPV4 : TCP_OVER_IPV6, 1);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIGNATURE, head, body]);
}

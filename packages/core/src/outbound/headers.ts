import { randomFillSync } from 'node:crypto';
import type { Service, Workload } from '@zt/xds';
import { formatAddr, type SocketAddr } from '../addr.ts';

/**
 * `baggage` as upstream builds it from the source workload: k8s.cluster.name, k8s.namespace.name,
 * k8s.<workload type>.name, service.name (canonical name), service.version (canonical revision),
 * cloud.region, cloud.availability_zone; empty values left out.
 */
export function baggageHeader(w: Workload): string {
  // Once per workload object: xDS replaces a workload when it changes, never edits it in place.
  let b = baggageByWorkload.get(w);
  if (b === undefined) {
    b = buildBaggage(w);
    baggageByWorkload.set(w, b);
  }
  return b;
}

const baggageByWorkload = new WeakMap<Workload, string>();

function buildBaggage(w: Workload): string {
  const parts: [string, string | undefined][] = [
    ['k8s.cluster.name', w.clusterId],
    ['k8s.namespace.name', w.namespace],
    [`k8s.${w.workloadType}.name`, w.workloadName],
    ['service.name', w.canonicalName],
    ['service.version', w.canonicalRevision],
    ['cloud.region', w.locality?.region],
    ['cloud.availability_zone', w.locality?.zone],
  ];
  return parts
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** `forwarded: for="<client ip:port>"`, with `;host=<service hostname>` when a service was addressed. */
export function forwardedHeader(client: SocketAddr, service: Service | undefined): string {
  const f = `for="${formatAddr(client)}"`;
  return service ? `${f};host=${service.hostname}` : f;
}

// Trace and span ids for 256 connections per refill: one CSPRNG call instead of two per connection.
const ID_BYTES = 24;
const pool = Buffer.alloc(ID_BYTES * 256);
let poolAt = pool.length;

/** A fresh W3C traceparent, version 00, flags 00 (as upstream: a new id per connection). */
export function newTraceparent(): string {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += ID_BYTES;
  return `00-${pool.toString('hex', at, at + 16)}-${pool.toString('hex', at + 16, at + ID_BYTES)}-00`;
}

/** The 32-hex trace id, or undefined when the header is not a valid traceparent. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  const m = traceparent ? /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent) : null;
  return m?.[1];
}

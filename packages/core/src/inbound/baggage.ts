import type { Workload } from '@zt/xds';
import type { DerivedWorkload } from '../conn/labels.ts';
import type { FlowContext } from '../context.ts';
import { baggageHeader } from '../outbound/headers.ts';

/**
 * The headers of an inbound CONNECT's 200, as upstream's build_response: the destination
 * workload's own `baggage` (ENABLE_RESPONSE_BAGGAGE, default on), so the client's zt can label a
 * destination it does not know (another network's) from it. Refusals carry none.
 */
export function acceptHeaders(ctx: FlowContext, dst: Workload): { baggage: string } | undefined {
  return ctx.config.responseBaggage === false ? undefined : { baggage: baggageHeader(dst) };
}

// The keys upstream reads from a `baggage` header (src/baggage.rs), OpenTelemetry's resource
// attribute names; the sending side is outbound/headers.ts.
// A Map, so that a member named `constructor` or `__proto__` finds nothing.
const FIELDS: ReadonlyMap<string, keyof DerivedWorkload> = new Map([
  ['k8s.cluster.name', 'clusterId'],
  ['k8s.namespace.name', 'namespace'],
  ['k8s.deployment.name', 'workloadName'],
  ['k8s.cronjob.name', 'workloadName'],
  ['k8s.pod.name', 'workloadName'],
  ['k8s.job.name', 'workloadName'],
  ['service.name', 'app'],
  ['service.version', 'revision'],
  ['cloud.region', 'region'],
  ['cloud.availability_zone', 'zone'],
]);

/**
 * The source as its `baggage` header describes it, as upstream parses it: comma-separated
 * `key=value` members, later members overriding earlier ones, an empty value clearing the field,
 * anything else ignored. Whitespace around a member is dropped: Node joins repeated headers with
 * `, `, where upstream reads each header on its own.
 */
export function parseBaggage(header: string | readonly string[] | undefined): DerivedWorkload {
  const out: DerivedWorkload = {};
  if (header === undefined) return out;
  for (const value of typeof header === 'string' ? [header] : header) {
    for (const member of value.split(',')) {
      const parts = member.trim().split('=');
      if (parts.length < 2) continue;
      const field = FIELDS.get(parts[0] as string);
      if (field === undefined) continue;
      const v = parts[1] as string;
      if (v === '') delete out[field];
      else out[field] = v;
    }
  }
  return out;
}

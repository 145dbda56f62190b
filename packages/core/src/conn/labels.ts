import { type TrafficLabels, trafficLabels } from '@zt/metrics';
import type { Service, Workload } from '@zt/xds';

export type Reporter = 'source' | 'destination';

/** Upstream's response_flags label values. */
export type ResponseFlag = '-' | 'DENY' | 'CONNECT' | 'TLS_FAILURE' | 'IDENTITY_ERROR';

export interface LabelInput {
  reporter: Reporter;
  source?: Workload;
  sourceIdentity?: string;
  destination?: Workload;
  destinationIdentity?: string;
  service?: Service;
  mtls: boolean;
}

/** The full upstream label set for one connection; what is not known reads `unknown`. */
export function connectionLabels(i: LabelInput, flag: ResponseFlag = '-'): TrafficLabels {
  const s = i.source;
  const d = i.destination;
  return trafficLabels({
    reporter: i.reporter,
    source_workload: s?.workloadName || s?.name,
    source_canonical_service: s?.canonicalName,
    source_canonical_revision: s?.canonicalRevision,
    source_workload_namespace: s?.namespace,
    source_principal: i.sourceIdentity,
    source_app: s?.canonicalName,
    source_version: s?.canonicalRevision,
    source_cluster: s?.clusterId,
    destination_service: i.service?.hostname,
    destination_service_namespace: i.service?.namespace,
    destination_service_name: i.service?.name,
    destination_workload: d?.workloadName || d?.name,
    destination_canonical_service: d?.canonicalName,
    destination_canonical_revision: d?.canonicalRevision,
    destination_workload_namespace: d?.namespace,
    destination_principal: i.destinationIdentity,
    destination_app: d?.canonicalName,
    destination_version: d?.canonicalRevision,
    destination_cluster: d?.clusterId,
    request_protocol: 'tcp',
    response_flags: flag,
    connection_security_policy: i.mtls ? 'mutual_tls' : 'unknown',
  });
}

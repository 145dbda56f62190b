import { workloadIdentity } from '@zt/identity';
import { type TrafficLabels, trafficLabels } from '@zt/metrics';
import type { Service, Workload } from '@zt/xds';

export type Reporter = 'source' | 'destination';

/**
 * Upstream's response_flags label values: `DENY` policy, `CONNECT` the destination could not be
 * reached (or the connection failed), `TLS_FAILURE` and `H2_HANDSHAKE_FAILURE` the HBONE layers,
 * `NETWORK_POLICY` an HBONE dial that timed out (a NetworkPolicy dropping it, most likely),
 * `IDENTITY_ERROR` no certificate, `CERT_REVOKED` a revoked peer (upstream's CRL; zt has no CRL).
 */
export type ResponseFlag =
  | '-'
  | 'DENY'
  | 'CONNECT'
  | 'TLS_FAILURE'
  | 'H2_HANDSHAKE_FAILURE'
  | 'NETWORK_POLICY'
  | 'IDENTITY_ERROR'
  | 'CERT_REVOKED';

/**
 * What a peer says about itself (the `baggage` header) when the state does not know it: used for
 * the source labels of a connection whose source workload is unknown (upstream's DerivedWorkload).
 */
export interface DerivedWorkload {
  workloadName?: string;
  /** `service.name`: the canonical service. */
  app?: string;
  revision?: string;
  namespace?: string;
  clusterId?: string;
  region?: string;
  zone?: string;
}

export interface LabelInput {
  reporter: Reporter;
  source?: Workload;
  /** The source as its baggage describes it; a known `source` wins over every field of it. */
  derivedSource?: DerivedWorkload;
  /** The identity mTLS proved; upstream sets source_principal from nothing else. */
  sourceIdentity?: string;
  destination?: Workload;
  /**
   * The destination as its response baggage describes it (double HBONE: a workload on another
   * network, reached through its gateway). As upstream's with_derived_destination it replaces
   * every destination workload field, an absent one reading `unknown`; the service stays.
   */
  derivedDestination?: DerivedWorkload;
  /** Defaults to the destination workload's identity, as upstream labels any known destination. */
  destinationIdentity?: string;
  service?: Service;
  mtls: boolean;
}

/**
 * The full upstream label set for one connection; what is not known reads `unknown`. As upstream,
 * `source_workload` is the workload name (the deployment...), never the pod name: a pod without one
 * reads `unknown`.
 */
export function connectionLabels(i: LabelInput, flag: ResponseFlag = '-'): TrafficLabels {
  const s = i.source;
  const g = s ? undefined : i.derivedSource;
  const h = i.derivedDestination;
  const d = h ? undefined : i.destination;
  return trafficLabels({
    reporter: i.reporter,
    source_workload: s ? s.workloadName : g?.workloadName,
    source_canonical_service: s ? s.canonicalName : g?.app,
    source_canonical_revision: s ? s.canonicalRevision : g?.revision,
    source_workload_namespace: s ? s.namespace : g?.namespace,
    source_principal: i.sourceIdentity,
    // Upstream fills source_app from the baggage's workload name, not its service.name.
    source_app: s ? s.canonicalName : g?.workloadName,
    source_version: s ? s.canonicalRevision : g?.revision,
    source_cluster: s ? s.clusterId : g?.clusterId,
    destination_service: i.service?.hostname,
    destination_service_namespace: i.service?.namespace,
    destination_service_name: i.service?.name,
    destination_workload: d ? d.workloadName : h?.workloadName,
    destination_canonical_service: d ? d.canonicalName : h?.app,
    destination_canonical_revision: d ? d.canonicalRevision : h?.revision,
    destination_workload_namespace: d ? d.namespace : h?.namespace,
    destination_principal: i.destinationIdentity ?? (d ? workloadIdentity(d) : undefined),
    // As for the source: upstream's destination_app from baggage is its workload name.
    destination_app: d ? d.canonicalName : h?.workloadName,
    destination_version: d ? d.canonicalRevision : h?.revision,
    destination_cluster: d ? d.clusterId : h?.clusterId,
    request_protocol: 'tcp',
    response_flags: flag,
    connection_security_policy: i.mtls ? 'mutual_tls' : 'unknown',
    source_region: s ? s.locality?.region : g?.region,
    source_zone: s ? s.locality?.zone : g?.zone,
    destination_region: d ? d.locality?.region : h?.region,
    destination_zone: d ? d.locality?.zone : h?.zone,
  });
}

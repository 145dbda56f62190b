// The identity of a workload, from the fields every workload model carries (an xDS Workload, a pod
// the node agent sent over ZDS). Upstream's Workload::identity() is spiffe://<trust domain>/ns/
// <namespace>/sa/<service account>; its xDS conversion fills an empty trust domain and an empty
// service account with the defaults below.

/** Upstream's trust domain for a workload that names none. */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
/** Upstream's service account for a workload that names none (Kubernetes' own default too). */
export const DEFAULT_SERVICE_ACCOUNT = 'default';

/** What a workload's identity is made of. */
export interface IdentityFields {
  /** Empty or absent: the caller's trust domain. */
  readonly trustDomain?: string;
  readonly namespace: string;
  /** Empty or absent: `default`. */
  readonly serviceAccount?: string;
}

/**
 * `spiffe://<trust domain>/ns/<namespace>/sa/<service account>` of a workload. An empty trust
 * domain is `trustDomain` (zt's TRUST_DOMAIN; upstream's default when not given), an empty service
 * account is `default`. Plain text and never throws, since flows build it per connection; pass it to
 * `Identity.parse` where an Identity is needed (that checks the namespace is a valid segment).
 */
export function workloadIdentity(w: IdentityFields, trustDomain: string = DEFAULT_TRUST_DOMAIN): string {
  return `spiffe://${w.trustDomain || trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount || DEFAULT_SERVICE_ACCOUNT}`;
}

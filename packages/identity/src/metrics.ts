import { counter, gauge } from '@zt/metrics';

// Upstream ztunnel exports no CA metrics; these names are zt's own.
const csrTotal = counter('zt_identity_csr_total', 'Certificate signing requests sent to the CA');
const csrFailures = counter(
  'zt_identity_csr_failures_total',
  'Certificate signing requests that failed, by error code',
  ['code'],
);
const certRotations = counter('zt_identity_cert_rotations_total', 'Workload certificates renewed');
const certsManaged = gauge('zt_identity_certificates', 'Identities the certificate manager holds, by state', [
  'state',
]);

export function countCsr(): void {
  csrTotal.inc();
}

export function countCsrFailure(code: string): void {
  csrFailures.inc({ code });
}

export function countRotation(): void {
  certRotations.inc();
}

export function countState(state: string, delta: 1 | -1): void {
  certsManaged.inc({ state }, delta);
}

import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { grpcPackage } from '@zt/proto';

/** Request and response of CreateCertificate as @grpc/proto-loader (camelCase, longs as strings) sees them. */
export interface CertificateRequestMessage {
  csr: string;
  validityDuration: string | number;
  metadata?: StructMessage | null;
}
export interface StructMessage {
  fields: Record<string, { stringValue?: string; kind?: string }>;
}
export interface CertificateResponseMessage {
  certChain: string[];
}

export const CREATE_CERTIFICATE_PATH = '/istio.v1.auth.IstioCertificateService/CreateCertificate';
export const IMPERSONATED_IDENTITY = 'ImpersonatedIdentity';

type CaService = ServiceDefinition<{
  CreateCertificate: MethodDefinition<CertificateRequestMessage, CertificateResponseMessage>;
}>;

let cached: CaService | undefined;

/** The IstioCertificateService definition from proto/security/v1alpha1/ca.proto. */
export function caService(): CaService {
  if (cached) return cached;
  let node: unknown = grpcPackage();
  for (const part of ['istio', 'v1', 'auth', 'IstioCertificateService']) {
    node = (node as Record<string, unknown> | undefined)?.[part];
  }
  const service = (node as { service?: CaService } | undefined)?.service;
  if (!service?.CreateCertificate) {
    throw new Error(
      '@zt/proto has no istio.v1.auth.IstioCertificateService; is proto/security/v1alpha1/ca.proto there?',
    );
  }
  cached = service;
  return service;
}

import type { GrpcObject, ServiceClientConstructor } from '@grpc/grpc-js';
import { grpcPackage } from '@zt/proto';
import type { NodeMessage } from './node.ts';

// The delta ADS messages as @grpc/proto-loader gives and takes them (camelCase, defaults filled in).

export interface WireAny {
  typeUrl: string;
  value: Uint8Array;
}

export interface WireResource {
  name: string;
  version: string;
  resource?: WireAny | null;
  aliases?: string[];
}

export interface DeltaResponse {
  systemVersionInfo?: string;
  typeUrl: string;
  nonce: string;
  resources: WireResource[];
  removedResources: string[];
}

export interface DeltaRequest {
  node?: NodeMessage | null;
  typeUrl: string;
  resourceNamesSubscribe?: string[];
  resourceNamesUnsubscribe?: string[];
  initialResourceVersions?: Record<string, string>;
  responseNonce?: string;
  errorDetail?: { code: number; message: string } | null;
}

export const ADS_METHOD = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';

/** The generated AggregatedDiscoveryService (client constructor with `.service` for servers). */
export function adsService(): ServiceClientConstructor {
  let node: GrpcObject | ServiceClientConstructor | unknown = grpcPackage();
  for (const part of ['envoy', 'service', 'discovery', 'v3', 'AggregatedDiscoveryService']) {
    node = (node as Record<string, unknown>)[part];
  }
  if (typeof node !== 'function') throw new Error('zt xds: AggregatedDiscoveryService missing from proto/');
  return node as ServiceClientConstructor;
}

import { type GrpcObject, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_DIR, protoFiles } from './files.ts';

export type LoadedPackage = GrpcObject;

let cached: GrpcObject | undefined;

/**
 * The gRPC view of every schema (services with their method definitions), for clients and servers
 * built with @grpc/grpc-js. Field names are camelCase, 64-bit integers are strings, enums are names,
 * and defaults are filled in, on both sides.
 */
export function grpcPackage(): GrpcObject {
  if (cached) return cached;
  const def = loadSync(protoFiles(), {
    includeDirs: [PROTO_DIR],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  cached = loadPackageDefinition(def);
  return cached;
}

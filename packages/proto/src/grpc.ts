import { createRequire } from 'node:module';
import type * as GrpcJs from '@grpc/grpc-js';
import type { GrpcObject } from '@grpc/grpc-js';
import type * as ProtoLoader from '@grpc/proto-loader';
import { PROTO_DIR, protoFiles } from './files.ts';

// Loaded on first use: a data-plane worker thread imports this package's dependents but never
// speaks gRPC, and each thread would otherwise compile and hold these libraries (~25 MB RSS).
const require = createRequire(import.meta.url);

export type LoadedPackage = GrpcObject;

/**
 * @grpc/grpc-js, loaded on first call. The CA and xDS clients take it from here, so that importing
 * them (as worker threads do, for their types) loads no gRPC.
 */
export function grpcJs(): typeof GrpcJs {
  return require('@grpc/grpc-js') as typeof GrpcJs;
}

let cached: GrpcObject | undefined;

/**
 * The gRPC view of every schema (services with their method definitions), for clients and servers
 * built with @grpc/grpc-js. Field names are camelCase, 64-bit integers are strings, enums are names,
 * and defaults are filled in, on both sides.
 */
export function grpcPackage(): GrpcObject {
  if (cached) return cached;
  const { loadSync } = require('@grpc/proto-loader') as typeof ProtoLoader;
  const { loadPackageDefinition } = grpcJs();
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

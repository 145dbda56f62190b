import { createRequire } from 'node:module';
import type protobuf from 'protobufjs';
import { PROTO_DIR, protoFiles } from './files.ts';

// Loaded on first use, like the gRPC libraries (see grpc.ts): threads that never decode protobuf
// never hold protobufjs.
const require = createRequire(import.meta.url);

let cached: protobuf.Root | undefined;

/** One protobufjs Root holding every schema of the project, resolved once. */
export function protoRoot(): protobuf.Root {
  if (cached) return cached;
  const pb = require('protobufjs') as typeof protobuf;
  const root = new pb.Root();
  // Imports are written relative to proto/, as protoc's include path would see them;
  // google/protobuf/* come with protobufjs.
  root.resolvePath = (_origin, target) => {
    if (target.startsWith('google/protobuf/')) return target;
    return `${PROTO_DIR}/${target}`;
  };
  root.loadSync(protoFiles(), { keepCase: false });
  root.resolveAll();
  cached = root;
  return root;
}

/** A message type by its full name, e.g. `istio.workload.Address`. Throws if the schema lacks it. */
export function messageType(fullName: string): protobuf.Type {
  return protoRoot().lookupType(fullName);
}

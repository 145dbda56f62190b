export { PROTO_DIR, protoFiles } from './files.ts';
export { grpcPackage, type LoadedPackage } from './grpc.ts';
export { messageType, protoRoot } from './root.ts';

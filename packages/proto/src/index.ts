export { PROTO_DIR, protoFiles } from './files.ts';
export { grpcJs, grpcPackage, type LoadedPackage } from './grpc.ts';
export { messageType, protoRoot } from './root.ts';

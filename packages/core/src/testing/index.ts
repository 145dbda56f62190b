export { TestCa, testCaCertSource } from './certs.ts';
export { type Mesh, type MeshOptions, socksDial, startLoopbackMesh } from './mesh.ts';

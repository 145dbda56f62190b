export { TestCa, testCaCertSource } from './certs.ts';
export { emptyMatch, policy, service, snapshot, workload } from './fixtures.ts';
export { type Mesh, type MeshOptions, socksDial, startLoopbackMesh } from './mesh.ts';

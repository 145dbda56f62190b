export { TestCa, testCaCertSource } from './certs.ts';
export { type DnsAnswer, startDnsServer, type TestDnsServer } from './dns.ts';
export { emptyMatch, policy, service, snapshot, workload } from './fixtures.ts';
export { type Mesh, type MeshOptions, socksDial, startLoopbackMesh } from './mesh.ts';

export { TestCa, testCaCertSource } from './certs.ts';
export { type DnsAnswer, startDnsServer, type TestDnsServer } from './dns.ts';
export { type Mesh, type MeshOptions, socksDial, startLoopbackMesh } from './mesh.ts';

export { type DnsQueryOptions, dnsQuery, framed, sendTcp, sendUdp } from './client.ts';
export { NS1, NS2, NS3, NW1, NW2, PREFERRED, upstreamDnsTestState } from './mesh.ts';
export {
  type RecordedQuery,
  type ScriptedReply,
  TestDnsServer,
  type TestDnsServerOptions,
  type TestRcode,
} from './server.ts';

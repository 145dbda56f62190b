import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type GatewayAddress, ProxyState, type Workload } from '@zt/xds';
import { makeService, makeSnapshot, makeWorkload } from '@zt/xds/testing';
import { mayNameOtherAddress } from './sandwich.ts';

// Upstream's inbound.rs cases (test_find_inbound_upstream), as addresses: a client, a server pod and
// its service, a waypoint pod and its service.
const CLIENT_POD_IP = '10.0.0.1';
const SERVER_POD_IP = '10.0.0.2';
const SERVER_SVC_IP = '10.10.0.1';
const WAYPOINT_POD_IP = '10.0.0.3';
const WAYPOINT_SVC_IP = '10.10.0.2';

type Waypoint = 'none' | { on: 'workload' | 'service'; at: string; tunnel?: boolean };

const byAddress = (address: string): GatewayAddress => ({
  destination: { kind: 'address', network: '', address },
  hboneMtlsPort: 15008,
});

function state(waypoint: Waypoint): { view: ProxyState; waypointWl: Workload; server: Workload } {
  const ref = waypoint === 'none' ? undefined : byAddress(waypoint.at);
  const waypointWl = makeWorkload({
    name: 'waypoint',
    workloadIps: [WAYPOINT_POD_IP],
    services: { 'default/waypoint.default.svc.cluster.local': { 15008: 15008 } },
    ...(waypoint !== 'none' && waypoint.tunnel
      ? { applicationTunnel: { protocol: 'PROXY', port: 15088 } }
      : {}),
  });
  const server = makeWorkload({
    name: 'server',
    workloadIps: [SERVER_POD_IP],
    services: { 'default/server.default.svc.cluster.local': { 80: 8080 } },
    ...(waypoint !== 'none' && waypoint.on === 'workload' && ref ? { waypoint: ref } : {}),
  });
  const client = makeWorkload({ name: 'client', workloadIps: [CLIENT_POD_IP] });
  const services = [
    makeService({
      name: 'server',
      vips: [SERVER_SVC_IP],
      ports: { 80: 8080 },
      ...(waypoint !== 'none' && waypoint.on === 'service' && ref ? { waypoint: ref } : {}),
    }),
    makeService({ name: 'waypoint', vips: [WAYPOINT_SVC_IP], ports: { 15008: 15008 } }),
  ];
  return {
    view: new ProxyState(makeSnapshot(1, { workloads: [waypointWl, server, client], services })),
    waypointWl,
    server,
  };
}

const CASES: Array<[name: string, waypoint: Waypoint, arrivedAt: string, names: string, allowed: boolean]> = [
  [
    'to workload with waypoint referenced by pod',
    { on: 'workload', at: WAYPOINT_POD_IP },
    WAYPOINT_POD_IP,
    SERVER_POD_IP,
    true,
  ],
  [
    'to workload with waypoint referenced by vip',
    { on: 'workload', at: WAYPOINT_SVC_IP },
    WAYPOINT_POD_IP,
    SERVER_POD_IP,
    true,
  ],
  [
    'to workload with app tunnel',
    { on: 'workload', at: WAYPOINT_SVC_IP, tunnel: true },
    WAYPOINT_POD_IP,
    SERVER_POD_IP,
    true,
  ],
  [
    'to service with waypoint referenced by pod',
    { on: 'service', at: WAYPOINT_POD_IP },
    WAYPOINT_POD_IP,
    SERVER_SVC_IP,
    true,
  ],
  [
    'to service with waypoint referenced by vip',
    { on: 'service', at: WAYPOINT_SVC_IP },
    WAYPOINT_POD_IP,
    SERVER_SVC_IP,
    true,
  ],
  [
    'to service with app tunnel',
    { on: 'service', at: WAYPOINT_SVC_IP, tunnel: true },
    WAYPOINT_POD_IP,
    SERVER_SVC_IP,
    true,
  ],
  ['to server ip mismatch', 'none', SERVER_POD_IP, CLIENT_POD_IP, false],
  ['to waypoint without attachment', 'none', WAYPOINT_POD_IP, CLIENT_POD_IP, false],
  [
    'to workload via waypoint with wrong attachment',
    { on: 'service', at: WAYPOINT_POD_IP },
    WAYPOINT_POD_IP,
    SERVER_POD_IP,
    false,
  ],
  [
    'to service via waypoint with wrong attachment',
    { on: 'workload', at: WAYPOINT_POD_IP },
    WAYPOINT_POD_IP,
    SERVER_SVC_IP,
    false,
  ],
  ['to an address nobody has', { on: 'workload', at: WAYPOINT_POD_IP }, WAYPOINT_POD_IP, '10.99.0.1', false],
];

for (const [name, waypoint, arrivedAt, names, allowed] of CASES) {
  test(`a tunnel naming another address: ${name}`, () => {
    const { view, waypointWl, server } = state(waypoint);
    const localWl = arrivedAt === WAYPOINT_POD_IP ? waypointWl : server;
    assert.equal(mayNameOtherAddress(view, '', localWl, arrivedAt, names), allowed);
  });
}

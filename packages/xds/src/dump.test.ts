import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configDump, dumpNetworkGateways } from './dump.ts';
import { makeService, makeSnapshot, makeWorkload } from './testing/fixtures.ts';

test('config_dump shows each workload’s network gateway, by address or hostname, as upstream', () => {
  const byAddress = makeWorkload({
    name: 'a',
    network: 'net2',
    networkGateway: {
      destination: { kind: 'address', network: 'net2', address: '10.8.0.1' },
      hboneMtlsPort: 15008,
    },
  });
  const byHost = makeWorkload({
    name: 'b',
    network: 'net3',
    networkGateway: {
      destination: { kind: 'hostname', namespace: 'istio-system', hostname: 'ew.example' },
      hboneMtlsPort: 15009,
    },
  });
  const json = JSON.parse(JSON.stringify(configDump(makeSnapshot(1, { workloads: [byAddress, byHost] }))));
  const gw = (name: string) => json.workloads.find((w: { name: string }) => w.name === name).networkGateway;
  assert.deepEqual(gw('a'), { destination: 'net2/10.8.0.1', hboneMtlsPort: 15008 });
  assert.deepEqual(gw('b'), { destination: 'istio-system/ew.example', hboneMtlsPort: 15009 });
  assert.equal(json.workloads.find((w: { name: string }) => w.name === 'a').network, 'net2');
});

test('the network gateways are listed once each, with what the state resolves them to', () => {
  const viaAddress = {
    destination: { kind: 'address' as const, network: 'net2', address: '10.8.0.1' },
    hboneMtlsPort: 15008,
  };
  const viaHost = {
    destination: { kind: 'hostname' as const, namespace: 'istio-system', hostname: 'ew.example' },
    hboneMtlsPort: 15009,
  };
  const missing = {
    destination: { kind: 'address' as const, network: 'net4', address: '10.9.0.1' },
    hboneMtlsPort: 15008,
  };
  const eastwest = makeWorkload({
    name: 'eastwest',
    namespace: 'istio-system',
    network: 'net2',
    workloadIps: ['10.8.0.1'],
  });
  const ewPod = makeWorkload({
    name: 'ew-pod',
    namespace: 'istio-system',
    network: 'net3',
    workloadIps: ['10.7.0.1'],
    services: { 'istio-system/ew.example': { 15009: 15009 } },
  });
  const ew = makeService({ name: 'ew', namespace: 'istio-system', hostname: 'ew.example', vips: [] });
  const workloads = [
    makeWorkload({ name: 'a1', network: 'net2', networkGateway: viaAddress }),
    makeWorkload({ name: 'a2', network: 'net2', networkGateway: viaAddress }),
    makeWorkload({ name: 'b', network: 'net3', networkGateway: viaHost }),
    makeWorkload({ name: 'c', network: 'net4', networkGateway: missing }),
    eastwest,
    ewPod,
  ];
  const list = dumpNetworkGateways(makeSnapshot(1, { workloads, services: [ew] }));
  assert.deepEqual(list, [
    {
      destination: 'istio-system/ew.example',
      hboneMtlsPort: 15009,
      networks: ['net3'],
      workloads: 1,
      resolved: { kind: 'service', name: 'istio-system/ew.example', endpoints: 1 },
    },
    {
      destination: 'net2/10.8.0.1',
      hboneMtlsPort: 15008,
      networks: ['net2'],
      workloads: 2,
      resolved: { kind: 'workload', name: 'istio-system/eastwest' },
    },
    { destination: 'net4/10.9.0.1', hboneMtlsPort: 15008, networks: ['net4'], workloads: 1, resolved: null },
  ]);
  assert.deepEqual(dumpNetworkGateways(makeSnapshot(2, { workloads: [eastwest] })), []);
});

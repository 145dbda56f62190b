import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configDump } from './dump.ts';
import { makeSnapshot, makeWorkload } from './testing/fixtures.ts';

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

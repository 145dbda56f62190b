import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadLocalConfig, ProxyState } from '@zt/xds';
import { meshYaml } from './mesh.ts';
import { multinetYaml } from './multinet.ts';
import { deriveMetrics, type Results } from './run.ts';
import { MESH_1W, MESH_2W, MESH_OLD } from './setup.ts';

describe('multinetYaml', () => {
  it('puts the client on net1 and the only endpoint on net2, behind the gateway pod', () => {
    const snap = loadLocalConfig({ inline: multinetYaml(34567) });
    const state = new ProxyState(snap);
    const byName = new Map(snap.workloads.map((w) => [w.name, w]));
    const client = byName.get('mn-client');
    const gateway = byName.get('mn-eastwest');
    const server = byName.get('mn-server');
    assert.equal(client?.network, 'net1');
    assert.equal(gateway?.network, 'net2');
    assert.equal(server?.network, 'net2');
    assert.deepEqual(server?.networkGateway, {
      destination: { kind: 'address', network: 'net2', address: gateway?.workloadIps[0] },
      hboneMtlsPort: 15008,
    });
    // The client reaches the service by a VIP of its own network; its endpoints are all on net2.
    const svc = state.serviceByVip('net1', '127.10.13.10');
    assert.ok(svc);
    assert.deepEqual(
      state.endpoints(svc).map((e) => [e.workload.name, e.ports[34567]]),
      [['mn-server', 34567]],
    );
  });
  it('shares no address with the other meshes, so it runs beside them', () => {
    const snap = loadLocalConfig({ inline: multinetYaml(1) });
    const mine = snap.workloads.flatMap((w) => w.workloadIps);
    const others = [MESH_1W, MESH_2W, MESH_OLD].flatMap((s) =>
      loadLocalConfig({ inline: meshYaml(s) }).workloads.flatMap((w) => w.workloadIps),
    );
    assert.equal(new Set([...mine, ...others]).size, mine.length + others.length);
  });
});

describe('deriveMetrics', () => {
  it('reports double HBONE as a ratio to single, null when the scenario did not run', () => {
    const base = {
      bulk: {},
      rate: {},
      latency: {},
      efficiency: { ztPeakRssMB: { a: 1, b: 1 }, ztCpuPer1kRps: { a: 0, b: 0, total: 0 } },
      idle: {
        requested: 1,
        opened: 0,
        errors: 0,
        rssBeforeMB: { a: 1, b: 1 },
        rssAfterMB: { a: 1, b: 1 },
        note: '',
      },
      scaling: { acceptedByWorker: null, acceptSpread: null },
      skipped: {},
    } satisfies Results;
    const names = { direct: 'direct', zt1: 'zt (1 worker)', zt2: 'zt (2 workers)' };
    assert.equal(deriveMetrics(base, names)['multinet.double_vs_single_hbone'], null);
    const multinet = {
      single: { median: 1, samples: [1] },
      double: { median: 0.6, samples: [0.6] },
      ratio: 0.6,
      note: '',
    };
    assert.equal(deriveMetrics({ ...base, multinet }, names)['multinet.double_vs_single_hbone'], 0.6);
  });
});

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadLocalConfig } from '@zt/xds';
import { meshYaml, nodeEnv, shippedNodeFlags, ZT_ENTRY } from './mesh.ts';
import { MESH_1W, MESH_2W, MESH_OLD } from './setup.ts';

describe('meshYaml', () => {
  it('is upstream local config that zt’s own loader reads: client pod on A, server pod on B', () => {
    const snap = loadLocalConfig({ inline: meshYaml(MESH_1W) });
    const byIp = new Map(snap.workloads.map((w) => [w.workloadIps[0], w]));
    const client = byIp.get(MESH_1W.clientPodIp);
    const server = byIp.get(MESH_1W.serverPodIp);
    assert.equal(client?.node, MESH_1W.nodeA.name);
    assert.equal(client?.namespace, 'bench-client');
    assert.equal(server?.node, MESH_1W.nodeB.name);
    assert.equal(server?.protocol, 'HBONE');
  });
  it('the meshes (and an A/B run’s old one) share no address, so all run at once', () => {
    const ips = (s: typeof MESH_1W): string[] => [s.nodeA.ip, s.nodeB.ip, s.clientPodIp, s.serverPodIp];
    assert.equal(new Set([...ips(MESH_1W), ...ips(MESH_2W), ...ips(MESH_OLD)]).size, 12);
    assert.equal(MESH_OLD.workers, MESH_1W.workers, 'old and new compare like for like');
  });
  it('node env: lab mode, fake CA, SOCKS5, per-workload listeners, warn logs, worker count', () => {
    const env = nodeEnv(MESH_2W, 'b', '/tmp/m.yaml');
    assert.equal(env['ZT_LAB_MODE'], 'true', 'the loopback lab, not in-pod mode');
    assert.equal(env['FAKE_CA'], 'true');
    assert.equal(env['ZT_BIND_ADDRESS'], MESH_2W.nodeB.ip);
    assert.equal(env['NODE_NAME'], MESH_2W.nodeB.name);
    assert.equal(env['ZTUNNEL_WORKER_THREADS'], '2');
    assert.equal(env['RUST_LOG'], 'warn');
    assert.equal(env['UNSTABLE_ENABLE_SOCKS5'], 'true');
    assert.equal(env['ZT_PER_WORKLOAD_LISTENERS'], 'true');
  });
});

describe('shippedNodeFlags', () => {
  it("reads the flags from the package.json beside the entry's directory, none without one", () => {
    const dir = mkdtempSync(join(tmpdir(), 'zt-flags-'));
    try {
      mkdirSync(join(dir, 'dist'));
      assert.deepEqual(shippedNodeFlags(join(dir, 'dist', 'main.js')), []);
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ ztNodeFlags: ['--max-semi-space-size=2'] }));
      assert.deepEqual(shippedNodeFlags(join(dir, 'dist', 'main.js')), ['--max-semi-space-size=2']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the built app ships the flags its package.json lists', () => {
    const app = JSON.parse(readFileSync(new URL('../../apps/ztunnel/package.json', import.meta.url), 'utf8'));
    assert.deepEqual(shippedNodeFlags(ZT_ENTRY.dist.path), app.ztNodeFlags);
    assert.deepEqual(shippedNodeFlags(ZT_ENTRY.source.path), app.ztNodeFlags);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Endpoint, type LoadBalancer, ProxyState, type Service, type Workload } from '@zt/xds';
import { makeService, makeSnapshot, makeWorkload } from '@zt/xds/testing';
import {
  bestRanked,
  chooseByCapacity,
  eligibleEndpoints,
  loadBalance,
  localityRank,
  reachableFrom,
  selectIp,
  targetPort,
  workloadByHostname,
} from './balance.ts';

const SVC_KEY = 'default/lb.default.svc.cluster.local';
const loc = (region: string, zone: string, subzone = '') => ({ region, zone, subzone });

/** A backend of service `lb` on port 80 -> 80, with upstream's test defaults otherwise. */
function backend(name: string, over: Partial<Workload> = {}): Workload {
  return makeWorkload({
    name,
    workloadIps: [],
    node: '',
    services: { [SVC_KEY]: { 80: 80 } },
    ...over,
  });
}

/** upstream's test_default_workload as a source: network "", empty locality, node "". */
function source(over: Partial<Workload> = {}): Workload {
  return makeWorkload({ name: 'src', workloadIps: ['127.0.0.1'], node: '', ...over });
}

function lbService(lb?: LoadBalancer, ports: Record<number, number> = { 80: 80 }): Service {
  return makeService({ name: 'lb', vips: ['10.96.9.9'], ports, ...(lb ? { loadBalancer: lb } : {}) });
}

/** Every workload name `loadBalance` can return over many tries (upstream's assert_endpoint). */
function picks(state: ProxyState, src: Workload, svc: Service, tries = 200): string[] {
  const got = new Set<string>();
  for (let i = 0; i < tries; i++) {
    const ep = loadBalance(state, src, svc, 80, { mode: 'standard' });
    if (ep) got.add(ep.workload.name);
  }
  return [...got].sort();
}

// upstream state.rs test_load_balance, its workloads and cases, as facts.
describe('load balancing: upstream test_load_balance cases', () => {
  const wlNoLocality = backend('wl_no_locality', { workloadIps: ['192.168.0.1'], network: 'network' });
  const wlMatch = backend('wl_match', {
    workloadIps: ['192.168.0.2'],
    network: 'network',
    locality: loc('reg', 'zone'),
  });
  const wlAlmost = backend('wl_almost', {
    workloadIps: ['192.168.0.3'],
    network: 'network',
    locality: loc('reg', 'not-zone'),
  });
  const wlOther = backend('wl_other', {
    workloadIps: ['192.168.0.5'],
    network: 'other',
    locality: loc('reg', 'zone'),
  });
  const wlEmptyIp = backend('wl_empty_ip', { network: 'network', locality: loc('reg', 'zone') });
  const prefs: LoadBalancer['routingPreferences'] = ['Network', 'Region', 'Zone'];
  const strict = lbService({ routingPreferences: prefs, mode: 'Strict', healthPolicy: 'OnlyHealthy' });
  const failover = lbService({ routingPreferences: prefs, mode: 'Failover', healthPolicy: 'OnlyHealthy' });
  const state = new ProxyState(
    makeSnapshot(1, { workloads: [wlMatch, wlAlmost, wlNoLocality, wlOther, wlEmptyIp], services: [strict] }),
  );

  const cases: Array<{ desc: string; src: Workload; svc: Service; want: string[] }> = [
    { desc: 'strict no match should not select', src: source(), svc: strict, want: [] },
    { desc: 'strict match', src: wlMatch, svc: strict, want: ['wl_match'] },
    {
      desc: 'failover no match can select any endpoint',
      src: source({ network: 'no-match', locality: loc('no-match', 'no-match') }),
      svc: failover,
      want: ['wl_almost', 'wl_match', 'wl_no_locality', 'wl_other'],
    },
    {
      desc: 'failover matches network+region+zone',
      src: source({ network: 'network', locality: loc('reg', 'zone') }),
      svc: failover,
      want: ['wl_match'],
    },
    {
      desc: 'failover matches network+region',
      src: source({ network: 'network', locality: loc('reg', '') }),
      svc: failover,
      want: ['wl_almost', 'wl_match'],
    },
    {
      desc: 'failover matches network',
      src: source({ network: 'network', locality: loc('no-match', 'no-match') }),
      svc: failover,
      want: ['wl_almost', 'wl_match', 'wl_no_locality'],
    },
    {
      desc: 'failover matches region+zone',
      src: source({ network: 'no-match', locality: loc('reg', 'zone') }),
      svc: failover,
      want: ['wl_match', 'wl_other'],
    },
  ];
  for (const c of cases) {
    test(c.desc, () => {
      assert.deepEqual(picks(state, c.src, c.svc), c.want);
    });
  }
  test('failover never selects a workload without an address', () => {
    for (let i = 0; i < 50; i++) {
      const ep = loadBalance(state, source(), failover, 80, { mode: 'standard' });
      assert.notEqual(ep?.workload.name, 'wl_empty_ip');
    }
  });
});

describe('localityRank', () => {
  const src = source({
    network: 'n1',
    node: 'node-1',
    clusterId: 'c1',
    locality: loc('r1', 'z1', 's1'),
  });
  const lb = (routingPreferences: LoadBalancer['routingPreferences'], mode: LoadBalancer['mode']) => ({
    routingPreferences,
    mode,
    healthPolicy: 'OnlyHealthy' as const,
  });
  const cases: Array<{
    desc: string;
    prefs: LoadBalancer['routingPreferences'];
    mode?: LoadBalancer['mode'];
    dst: Partial<Workload>;
    want: number | undefined;
  }> = [
    {
      desc: 'counts leading matches: region and zone, subzone differs',
      prefs: ['Region', 'Zone', 'Subzone'],
      dst: { locality: loc('r1', 'z1', 's2') },
      want: 2,
    },
    {
      desc: 'counting stops at the first mismatch',
      prefs: ['Region', 'Zone', 'Subzone'],
      dst: { locality: loc('r1', 'z2', 's1') },
      want: 1,
    },
    { desc: 'node', prefs: ['Node'], dst: { node: 'node-1' }, want: 1 },
    { desc: 'node differs', prefs: ['Node'], dst: { node: 'node-2' }, want: 0 },
    { desc: 'cluster', prefs: ['Cluster', 'Node'], dst: { clusterId: 'c1', node: 'x' }, want: 1 },
    {
      desc: 'network first and matching outranks any rank without it',
      prefs: ['Network', 'Region', 'Zone'],
      dst: { network: 'n1', locality: loc('x', 'x') },
      want: 3,
    },
    {
      desc: 'network first and differing is skipped, the rest still counts',
      prefs: ['Network', 'Region', 'Zone'],
      dst: { network: 'n2', locality: loc('r1', 'z1') },
      want: 2,
    },
    {
      desc: 'network not first is an ordinary scope',
      prefs: ['Region', 'Network', 'Zone'],
      dst: { network: 'n2', locality: loc('r1', 'z1') },
      want: 1,
    },
    {
      desc: 'no locality on either side counts as equal (empty strings)',
      prefs: ['Region'],
      dst: { locality: loc('', '') },
      want: 0,
    },
    {
      desc: 'strict: every scope must match',
      prefs: ['Region', 'Zone'],
      mode: 'Strict',
      dst: { locality: loc('r1', 'z2') },
      want: undefined,
    },
    {
      desc: 'strict: all match keeps the endpoint at full rank',
      prefs: ['Region', 'Zone'],
      mode: 'Strict',
      dst: { locality: loc('r1', 'z1') },
      want: 2,
    },
    {
      desc: 'strict with network first: a network mismatch excludes',
      prefs: ['Network', 'Region'],
      mode: 'Strict',
      dst: { network: 'n2', locality: loc('r1', '') },
      want: undefined,
    },
    { desc: 'strict without preferences keeps everything', prefs: [], mode: 'Strict', dst: {}, want: 0 },
  ];
  for (const c of cases) {
    test(c.desc, () => {
      const dst = backend('dst', { workloadIps: ['10.0.0.9'], ...c.dst });
      assert.equal(localityRank(src, dst, lb(c.prefs, c.mode ?? 'Failover')), c.want);
    });
  }
  test('an empty source locality matches an endpoint without locality (upstream compares strings)', () => {
    const dst = backend('dst', { workloadIps: ['10.0.0.9'] });
    assert.equal(localityRank(source(), dst, lb(['Region', 'Zone', 'Subzone'], 'Strict')), 3);
  });
});

describe('bestRanked', () => {
  const eps = (ws: Workload[]): Endpoint[] => ws.map((w) => ({ workload: w, ports: { 80: 80 } }));
  const near = backend('near', { workloadIps: ['10.0.0.1'], locality: loc('r', 'z1') });
  const far = backend('far', { workloadIps: ['10.0.0.2'], locality: loc('r', 'z2') });
  const src = source({ locality: loc('r', 'z1') });
  const zoneLb = (mode: LoadBalancer['mode']): LoadBalancer => ({
    routingPreferences: ['Region', 'Zone'],
    mode,
    healthPolicy: 'OnlyHealthy',
  });
  test('no load balancer or Standard mode: locality is ignored', () => {
    assert.deepEqual(
      bestRanked(src, lbService(), eps([near, far])).map((e) => e.workload.name),
      ['near', 'far'],
    );
    assert.deepEqual(
      bestRanked(src, lbService(zoneLb('Standard')), eps([near, far])).map((e) => e.workload.name),
      ['near', 'far'],
    );
  });
  test('Failover: only the best rank present', () => {
    assert.deepEqual(
      bestRanked(src, lbService(zoneLb('Failover')), eps([far, near])).map((e) => e.workload.name),
      ['near'],
    );
    // With the near one gone, the next rank is the best present.
    assert.deepEqual(
      bestRanked(src, lbService(zoneLb('Failover')), eps([far])).map((e) => e.workload.name),
      ['far'],
    );
  });
  test('Strict: nothing when nothing matches every scope', () => {
    assert.deepEqual(bestRanked(src, lbService(zoneLb('Strict')), eps([far])), []);
  });
});

describe('health policy (upstream should_include_endpoint)', () => {
  const sick = backend('sick', { workloadIps: ['10.0.0.1'], status: 'Unhealthy' });
  const well = backend('well', { workloadIps: ['10.0.0.2'] });
  const state = new ProxyState(makeSnapshot(1, { workloads: [sick, well] }));
  test('OnlyHealthy (and no load balancer): unhealthy endpoints are left out', () => {
    assert.deepEqual(picks(state, source(), lbService()), ['well']);
    const only = lbService({ routingPreferences: [], mode: 'Standard', healthPolicy: 'OnlyHealthy' });
    assert.deepEqual(picks(state, source(), only), ['well']);
  });
  test('AllowAll: unhealthy endpoints are candidates too', () => {
    const all = lbService({ routingPreferences: [], mode: 'Standard', healthPolicy: 'AllowAll' });
    assert.deepEqual(picks(state, source(), all), ['sick', 'well']);
  });
  test('AllowAll with nothing healthy still routes', () => {
    const onlySick = new ProxyState(makeSnapshot(1, { workloads: [sick] }));
    const all = lbService({ routingPreferences: [], mode: 'Standard', healthPolicy: 'AllowAll' });
    assert.equal(loadBalance(onlySick, source(), all, 80, { mode: 'standard' })?.workload.name, 'sick');
    assert.equal(loadBalance(onlySick, source(), lbService(), 80, { mode: 'standard' }), undefined);
  });
});

describe('capacity weights', () => {
  const eps = (caps: Array<number | undefined>): Endpoint[] =>
    caps.map((capacity, i) => ({
      workload: backend(`w${i}`, {
        workloadIps: [`10.0.0.${i + 1}`],
        ...(capacity !== undefined ? { capacity } : {}),
      }),
      ports: { 80: 80 },
    }));
  test('a random draw lands in proportion to capacity', () => {
    const list = eps([1, 3]);
    // Total 4: [0,1) -> w0, [1,4) -> w1.
    assert.equal(chooseByCapacity(list, () => 0)?.workload.name, 'w0');
    assert.equal(chooseByCapacity(list, () => 0.249)?.workload.name, 'w0');
    assert.equal(chooseByCapacity(list, () => 0.25)?.workload.name, 'w1');
    assert.equal(chooseByCapacity(list, () => 0.999)?.workload.name, 'w1');
  });
  test('unset capacity weighs 1', () => {
    const list = eps([undefined, undefined]);
    assert.equal(chooseByCapacity(list, () => 0.49)?.workload.name, 'w0');
    assert.equal(chooseByCapacity(list, () => 0.5)?.workload.name, 'w1');
  });
  test('capacity 0 is never picked; all zero picks nothing (upstream choose_weighted fails)', () => {
    for (const r of [0, 0.3, 0.999])
      assert.equal(chooseByCapacity(eps([0, 2, 0]), () => r)?.workload.name, 'w1');
    assert.equal(
      chooseByCapacity(eps([0, 0]), () => 0.5),
      undefined,
    );
    assert.equal(
      chooseByCapacity([], () => 0.5),
      undefined,
    );
  });
  test('over many draws the split follows the weights (1:4, seeded)', () => {
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const list = eps([1, 4]);
    let w1 = 0;
    const n = 10_000;
    for (let i = 0; i < n; i++) if (chooseByCapacity(list, rand)?.workload.name === 'w1') w1++;
    assert.ok(w1 / n > 0.77 && w1 / n < 0.83, `w1 share ${w1 / n}`);
  });
  test('loadBalance weights the best-ranked candidates only', () => {
    const near = backend('near', { workloadIps: ['10.0.0.1'], locality: loc('r', 'z1'), capacity: 1 });
    const far = backend('far', { workloadIps: ['10.0.0.2'], locality: loc('r', 'z2'), capacity: 1000 });
    const state = new ProxyState(makeSnapshot(1, { workloads: [near, far] }));
    const svc = lbService({ routingPreferences: ['Zone'], mode: 'Failover', healthPolicy: 'OnlyHealthy' });
    assert.deepEqual(picks(state, source({ locality: loc('r', 'z1') }), svc), ['near']);
  });
});

describe('eligible endpoints and ports (upstream load_balance filters, find_upstream_port_mappings)', () => {
  test('the service must declare the port (standard)', () => {
    const state = new ProxyState(
      makeSnapshot(1, { workloads: [backend('a', { workloadIps: ['10.0.0.1'] })] }),
    );
    assert.equal(eligibleEndpoints(state, source(), lbService(), 81, 'standard').length, 0);
    assert.equal(eligibleEndpoints(state, source(), lbService(), 80, 'standard').length, 1);
  });
  test('named target port: only endpoints that map the port', () => {
    const a = backend('a', { workloadIps: ['10.0.0.1'], services: { [SVC_KEY]: {} } });
    const b = backend('b', { workloadIps: ['10.0.0.2'], services: { [SVC_KEY]: { 80: 7070 } } });
    const state = new ProxyState(makeSnapshot(1, { workloads: [a, b] }));
    const svc = lbService(undefined, { 80: 0 });
    const eps = eligibleEndpoints(state, source(), svc, 80, 'standard');
    assert.deepEqual(
      eps.map((e) => e.workload.name),
      ['b'],
    );
    assert.equal(targetPort(eps[0] as Endpoint, 80), 7070);
  });
  // find_upstream_port_mappings: endpoint mapping wins, then the service's, then (app tunnel) the port.
  const portCases: Array<{
    desc: string;
    svcPorts: Record<number, number>;
    own: Record<number, number>;
    tunnel?: boolean;
    mode: 'standard' | 'waypoint';
    want: number | undefined;
  }> = [
    { desc: 'endpoint mapping', svcPorts: { 80: 0 }, own: { 80: 9090 }, mode: 'standard', want: 9090 },
    { desc: 'service mapping', svcPorts: { 80: 8080 }, own: {}, mode: 'standard', want: 8080 },
    { desc: 'app tunnel (waypoint)', svcPorts: { 80: 0 }, own: {}, tunnel: true, mode: 'waypoint', want: 80 },
    {
      desc: 'no mapping, no tunnel (waypoint)',
      svcPorts: { 80: 0 },
      own: {},
      mode: 'waypoint',
      want: undefined,
    },
  ];
  for (const c of portCases) {
    test(`port mapping: ${c.desc}`, () => {
      const w = backend('p', {
        workloadIps: ['192.168.0.1'],
        services: { [SVC_KEY]: c.own },
        ...(c.tunnel ? { applicationTunnel: { protocol: 'PROXY' as const, port: 15088 } } : {}),
      });
      const state = new ProxyState(makeSnapshot(1, { workloads: [w] }));
      const ep = loadBalance(state, w, lbService(undefined, c.svcPorts), 80, { mode: c.mode });
      assert.equal(ep && targetPort(ep, 80), c.want);
    });
  }
  test('waypoint mode: an undeclared port is allowed only with an application tunnel', () => {
    const plain = backend('plain', { workloadIps: ['10.0.0.1'] });
    const tunnel = backend('tunnel', {
      workloadIps: ['10.0.0.2'],
      applicationTunnel: { protocol: 'PROXY', port: 15088 },
    });
    const state = new ProxyState(makeSnapshot(1, { workloads: [plain, tunnel] }));
    const eps = eligibleEndpoints(state, source(), lbService(), 15008, 'waypoint');
    assert.deepEqual(
      eps.map((e) => e.workload.name),
      ['tunnel'],
    );
  });
  test('no IP but a hostname: eligible (resolved by DNS later); neither: only via a remote network gateway', () => {
    const byName = backend('byname', { hostname: 'db.example.com' });
    const bare = backend('bare');
    const gw = {
      destination: { kind: 'address' as const, network: 'remote', address: '10.22.1.1' },
      hboneMtlsPort: 15009,
    };
    const remoteGw = backend('remote-gw', { network: 'remote', networkGateway: gw });
    const localGw = backend('local-gw', { networkGateway: gw });
    const state = new ProxyState(makeSnapshot(1, { workloads: [byName, bare, remoteGw, localGw] }));
    assert.deepEqual(
      eligibleEndpoints(state, source(), lbService(), 80, 'standard').map((e) => e.workload.name),
      ['byname', 'remote-gw'],
    );
  });
  test('reachable: endpoints on other networks only through their network gateway', () => {
    const here = backend('here', { workloadIps: ['10.0.0.1'] });
    const there = backend('there', { workloadIps: ['10.0.0.2'], network: 'remote' });
    const gw = {
      destination: { kind: 'address' as const, network: 'remote', address: '10.22.1.1' },
      hboneMtlsPort: 15008,
    };
    const behindGw = backend('behind-gw', {
      workloadIps: ['10.0.0.3'],
      network: 'remote',
      networkGateway: gw,
    });
    const state = new ProxyState(makeSnapshot(1, { workloads: [here, there, behindGw] }));
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const ep = loadBalance(state, source(), lbService(), 80, {
        mode: 'standard',
        reachable: reachableFrom(''),
      });
      if (ep) seen.add(ep.workload.name);
    }
    assert.deepEqual([...seen].sort(), ['behind-gw', 'here']);
  });
});

describe('selectIp (upstream pick_workload_destination_or_resolve)', () => {
  const dual = backend('dual', { workloadIps: ['10.0.0.1', 'fd00::1'] });
  test('same family as the dialled address, else the first', () => {
    assert.equal(selectIp(dual, '10.96.0.1'), '10.0.0.1');
    assert.equal(selectIp(dual, 'fd00::a'), 'fd00::1');
    assert.equal(selectIp(backend('v4', { workloadIps: ['10.0.0.1'] }), 'fd00::a'), '10.0.0.1');
  });
  test("the service's IP families restrict the choice", () => {
    assert.equal(selectIp(dual, '10.96.0.1', 'IPv6'), 'fd00::1');
    assert.equal(selectIp(dual, 'fd00::a', 'IPv4'), '10.0.0.1');
    assert.equal(selectIp(backend('v4', { workloadIps: ['10.0.0.1'] }), '10.96.0.1', 'IPv6'), undefined);
    assert.equal(selectIp(dual, '10.96.0.1', 'Dual'), '10.0.0.1');
  });
  test('no IPs: none', () => {
    assert.equal(selectIp(backend('h', { hostname: 'x.example.com' }), '10.0.0.1'), undefined);
  });
});

test('workloadByHostname: namespace and hostname must both match', () => {
  const a = backend('a', { hostname: 'a.example.com', namespace: 'ns1' });
  const state = new ProxyState(makeSnapshot(1, { workloads: [a] }));
  assert.equal(workloadByHostname(state, 'ns1', 'a.example.com')?.name, 'a');
  assert.equal(workloadByHostname(state, 'ns2', 'a.example.com'), undefined);
  assert.equal(workloadByHostname(state, 'ns1', 'b.example.com'), undefined);
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProxyState, type Service, type Workload } from '@zt/xds';
import { makeService, makeSnapshot, makeWorkload } from '@zt/xds/testing';
import { parseIdentity, type Route, type RouteOptions, routeOutbound } from './route.ts';

const opts: RouteOptions = {
  network: '',
  trustDomain: 'cluster.local',
  hbonePort: 15008,
  pick: (xs) => xs[0] as never,
};
const src = makeWorkload({ name: 'client', workloadIps: ['10.0.0.1'] });
const echo = makeWorkload({
  name: 'echo',
  serviceAccount: 'echo',
  workloadIps: ['10.0.1.5'],
  services: { 'default/echo.default.svc.cluster.local': { 80: 8080 } },
});
const tcpPod = makeWorkload({
  name: 'legacy',
  workloadIps: ['10.0.1.6'],
  protocol: 'TCP',
  services: { 'default/legacy.default.svc.cluster.local': { 80: 9090 } },
});
const wp = makeWorkload({ name: 'waypoint', workloadIps: ['10.0.9.9'], serviceAccount: 'waypoint' });
const echoSvc = makeService({
  name: 'echo',
  vips: ['10.96.0.10'],
  ports: { 80: 8080 },
  subjectAltNames: ['spiffe://cluster.local/ns/default/sa/echo-extra'],
});

function route(extra: NonNullable<Parameters<typeof makeSnapshot>[1]>, to: string, port: number): Route {
  const view = new ProxyState(
    makeSnapshot(1, {
      workloads: [src, echo, tcpPod, wp, ...(extra.workloads ?? [])],
      services: extra.services ?? [echoSvc],
    }),
  );
  return routeOutbound(view, src, { address: to, port }, opts);
}

describe('routeOutbound', () => {
  test('unknown destination: passthrough to the original destination', () => {
    assert.deepEqual(route({}, '93.184.216.34', 443), {
      kind: 'passthrough',
      connect: { address: '93.184.216.34', port: 443 },
    });
  });
  test('HBONE pod by IP: pool to <ip>:15008, authority <ip>:<port>, its identity', () => {
    const r = route({}, '10.0.1.5', 8080);
    assert.equal(r.kind, 'hbone');
    if (r.kind !== 'hbone') return;
    assert.equal(r.via, 'workload');
    assert.deepEqual(r.connect, { address: '10.0.1.5', port: 15008 });
    assert.deepEqual(r.authority, { address: '10.0.1.5', port: 8080 });
    assert.deepEqual(r.expectedIdentities, ['spiffe://cluster.local/ns/default/sa/echo']);
    assert.equal(r.service, undefined);
  });
  test('service VIP: picks a healthy endpoint, maps the port, adds the service SANs', () => {
    const r = route({}, '10.96.0.10', 80);
    assert.equal(r.kind, 'hbone');
    if (r.kind !== 'hbone') return;
    assert.deepEqual(r.authority, { address: '10.0.1.5', port: 8080 });
    assert.deepEqual(r.connect, { address: '10.0.1.5', port: 15008 });
    assert.equal(r.service?.name, 'echo');
    assert.deepEqual(r.expectedIdentities, [
      'spiffe://cluster.local/ns/default/sa/echo-extra',
      'spiffe://cluster.local/ns/default/sa/echo',
    ]);
  });
  test('service VIP on an undeclared port: no healthy upstream', () => {
    const r = route({}, '10.96.0.10', 81);
    assert.equal(r.kind, 'error');
    assert.equal(r.kind === 'error' && r.code, 'no-healthy-upstream');
  });
  test('service VIP whose only endpoint is unhealthy: no healthy upstream', () => {
    const sick = makeWorkload({
      name: 'sick',
      workloadIps: ['10.0.1.7'],
      status: 'Unhealthy',
      services: { 'default/sick.default.svc.cluster.local': { 80: 80 } },
    });
    const r = route(
      {
        workloads: [sick],
        services: [makeService({ name: 'sick', vips: ['10.96.0.11'], ports: { 80: 80 } })],
      },
      '10.96.0.11',
      80,
    );
    assert.equal(r.kind === 'error' && r.code, 'no-healthy-upstream');
  });
  test('service VIP with endpoints of mixed health picks a healthy one', () => {
    const a = makeWorkload({
      name: 'a',
      workloadIps: ['10.0.2.1'],
      status: 'Unhealthy',
      services: { 'default/m.default.svc.cluster.local': { 80: 80 } },
    });
    const b = makeWorkload({
      name: 'b',
      workloadIps: ['10.0.2.2'],
      services: { 'default/m.default.svc.cluster.local': { 80: 81 } },
    });
    const r = route(
      { workloads: [a, b], services: [makeService({ name: 'm', vips: ['10.96.0.12'], ports: { 80: 80 } })] },
      '10.96.0.12',
      80,
    );
    assert.equal(r.kind === 'hbone' && r.authority.address, '10.0.2.2');
    assert.equal(r.kind === 'hbone' && r.authority.port, 81);
  });
  test('named target port (0) resolved through the workload; endpoints without it are skipped', () => {
    const a = makeWorkload({
      name: 'a',
      workloadIps: ['10.0.2.1'],
      services: { 'default/n.default.svc.cluster.local': {} },
    });
    const b = makeWorkload({
      name: 'b',
      workloadIps: ['10.0.2.2'],
      services: { 'default/n.default.svc.cluster.local': { 80: 7070 } },
    });
    const r = route(
      { workloads: [a, b], services: [makeService({ name: 'n', vips: ['10.96.0.13'], ports: { 80: 0 } })] },
      '10.96.0.13',
      80,
    );
    assert.equal(r.kind === 'hbone' && `${r.authority.address}:${r.authority.port}`, '10.0.2.2:7070');
  });
  test('TCP workload: plain TCP to the mapped port', () => {
    const r = route(
      { services: [makeService({ name: 'legacy', vips: ['10.96.0.20'], ports: { 80: 9090 } })] },
      '10.96.0.20',
      80,
    );
    assert.deepEqual(r.kind === 'tcp' && r.connect, { address: '10.0.1.6', port: 9090 });
    const direct = route({}, '10.0.1.6', 22);
    assert.deepEqual(direct.kind === 'tcp' && direct.connect, { address: '10.0.1.6', port: 22 });
  });
  test('service with a waypoint: HBONE to the waypoint with :authority VIP:port', () => {
    const svc = {
      ...echoSvc,
      waypoint: {
        destination: { kind: 'address' as const, network: '', address: '10.0.9.9' },
        hboneMtlsPort: 15008,
      },
    };
    const r = route({ services: [svc] }, '10.96.0.10', 80);
    assert.equal(r.kind, 'hbone');
    if (r.kind !== 'hbone') return;
    assert.equal(r.via, 'service-waypoint');
    assert.deepEqual(r.connect, { address: '10.0.9.9', port: 15008 });
    assert.deepEqual(r.authority, { address: '10.96.0.10', port: 80 });
    assert.ok(r.expectedIdentities.includes('spiffe://cluster.local/ns/default/sa/waypoint'));
    assert.equal(r.service?.name, 'echo');
  });
  test('waypoint by hostname resolves through the waypoint service', () => {
    const wpSvc = makeService({ name: 'wp', vips: ['10.96.0.99'], ports: { 15008: 15008 } });
    const wpPod = { ...wp, services: { 'default/wp.default.svc.cluster.local': { 15008: 15008 } } };
    const svc = {
      ...echoSvc,
      waypoint: {
        destination: {
          kind: 'hostname' as const,
          namespace: 'default',
          hostname: 'wp.default.svc.cluster.local',
        },
        hboneMtlsPort: 15008,
      },
    };
    const view = new ProxyState(makeSnapshot(1, { workloads: [src, echo, wpPod], services: [svc, wpSvc] }));
    const r = routeOutbound(view, src, { address: '10.96.0.10', port: 80 }, opts);
    assert.deepEqual(r.kind === 'hbone' && r.connect, { address: '10.0.9.9', port: 15008 });
  });
  test('missing waypoint: unknown-waypoint error', () => {
    const svc = {
      ...echoSvc,
      waypoint: {
        destination: { kind: 'address' as const, network: '', address: '10.0.9.250' },
        hboneMtlsPort: 15008,
      },
    };
    const r = route({ services: [svc] }, '10.96.0.10', 80);
    assert.equal(r.kind === 'error' && r.code, 'unknown-waypoint');
  });
  test('workload with a waypoint addressed by IP goes to the waypoint; not when it is the source', () => {
    const gw = {
      destination: { kind: 'address' as const, network: '', address: '10.0.9.9' },
      hboneMtlsPort: 15008,
    };
    const guarded = makeWorkload({ name: 'guarded', workloadIps: ['10.0.3.3'], waypoint: gw });
    const view = new ProxyState(makeSnapshot(1, { workloads: [src, guarded, wp] }));
    const r = routeOutbound(view, src, { address: '10.0.3.3', port: 80 }, opts);
    assert.equal(r.kind === 'hbone' && r.via, 'workload-waypoint');
    assert.deepEqual(r.kind === 'hbone' && r.authority, { address: '10.0.3.3', port: 80 });
    const fromWp = routeOutbound(view, wp, { address: '10.0.3.3', port: 80 }, opts);
    assert.equal(fromWp.kind === 'hbone' && fromWp.via, 'workload');
  });
  test('IPv6 pod: HBONE to [ip]:15008', () => {
    const v6 = makeWorkload({ name: 'v6', workloadIps: ['fd00::5'] });
    const view = new ProxyState(makeSnapshot(1, { workloads: [src, v6] }));
    const r = routeOutbound(view, src, { address: 'fd00::5', port: 80 }, opts);
    assert.deepEqual(r.kind === 'hbone' && r.connect, { address: 'fd00::5', port: 15008 });
  });

  // Load balancing as upstream (state.rs load_balance, proxy/outbound.rs build_request).
  describe('load balancing', () => {
    const KEY = 'default/lb.default.svc.cluster.local';
    const backend = (name: string, ip: string, over: Partial<Workload> = {}) =>
      makeWorkload({ name, workloadIps: [ip], services: { [KEY]: { 80: 8080 } }, ...over });
    const lbSvc = (loadBalancer?: Service['loadBalancer'], over: Partial<Service> = {}): Service => ({
      ...makeService({ name: 'lb', vips: ['10.96.7.7'], ports: { 80: 8080 } }),
      ...(loadBalancer ? { loadBalancer } : {}),
      ...over,
    });
    const lbRoute = (svc: Service, workloads: Workload[], from: Workload = src, to = '10.96.7.7'): Route =>
      routeOutbound(
        new ProxyState(makeSnapshot(1, { workloads: [from, ...workloads], services: [svc] })),
        from,
        { address: to, port: 80 },
        { ...opts, pick: undefined },
      );
    const dest = (r: Route) =>
      r.kind === 'hbone' ? r.workload.name : r.kind === 'tcp' ? r.workload.name : r.kind;
    const zone = (z: string) => ({ locality: { region: 'r1', zone: z, subzone: '' } });
    const client = { ...src, ...zone('z1') };
    const failover: Service['loadBalancer'] = {
      routingPreferences: ['Region', 'Zone'],
      mode: 'Failover',
      healthPolicy: 'OnlyHealthy',
    };

    test("failover: the source's zone first, the other zone once it has no healthy endpoint", () => {
      const near = backend('near', '10.0.7.1', zone('z1'));
      const far = backend('far', '10.0.7.2', zone('z2'));
      for (let i = 0; i < 20; i++) assert.equal(dest(lbRoute(lbSvc(failover), [near, far], client)), 'near');
      const sick = { ...near, status: 'Unhealthy' as const };
      assert.equal(dest(lbRoute(lbSvc(failover), [sick, far], client)), 'far');
    });
    test('strict: no endpoint in the source zone is no healthy upstream', () => {
      const far = backend('far', '10.0.7.2', zone('z2'));
      const strict = { ...failover, mode: 'Strict' as const } as Service['loadBalancer'];
      const r = lbRoute(lbSvc(strict), [far], client);
      assert.equal(r.kind === 'error' && r.code, 'no-healthy-upstream');
      assert.equal(
        dest(lbRoute(lbSvc(strict), [far, backend('near', '10.0.7.1', zone('z1'))], client)),
        'near',
      );
    });
    test('health policy AllowAll routes to an unhealthy endpoint', () => {
      const sick = backend('sick', '10.0.7.3', { status: 'Unhealthy' });
      const allowAll: Service['loadBalancer'] = {
        routingPreferences: [],
        mode: 'Standard',
        healthPolicy: 'AllowAll',
      };
      assert.equal(dest(lbRoute(lbSvc(allowAll), [sick])), 'sick');
      assert.equal(dest(lbRoute(lbSvc(), [sick])), 'error');
    });
    test('capacity 0 is never picked', () => {
      const off = backend('off', '10.0.7.4', { capacity: 0 });
      const on = backend('on', '10.0.7.5', { capacity: 2 });
      for (let i = 0; i < 20; i++) assert.equal(dest(lbRoute(lbSvc(), [off, on])), 'on');
    });
    test('endpoints on another network without a network gateway are not candidates', () => {
      // upstream build_request_wrong_network / build_request_failover_to_remote: the remote endpoint
      // needs an E/W gateway (double HBONE); without one zt routes locally while it can, and refuses
      // otherwise (upstream would pick it and fail with no valid destination).
      const remote = backend('remote', '10.0.7.6', { network: 'remote' });
      const local = backend('local', '10.0.7.7');
      const byNetwork: Service['loadBalancer'] = {
        routingPreferences: ['Network'],
        mode: 'Failover',
        healthPolicy: 'OnlyHealthy',
      };
      for (let i = 0; i < 20; i++) assert.equal(dest(lbRoute(lbSvc(byNetwork), [remote, local])), 'local');
      const r = lbRoute(lbSvc(byNetwork), [remote, { ...local, status: 'Unhealthy' }]);
      assert.equal(r.kind === 'error' && r.code, 'no-healthy-upstream');
    });
    test("the service's IP families choose the endpoint address", () => {
      const dual = backend('dual', '10.0.7.8', { workloadIps: ['10.0.7.8', 'fd00::78'] });
      const r = lbRoute(lbSvc(undefined, { ipFamilies: 'IPv6' }), [dual]);
      assert.deepEqual(r.kind === 'hbone' && r.authority, { address: 'fd00::78', port: 8080 });
    });
    // upstream build_request_passthrough_svc / _with_waypoint.
    test('passthrough service: to the original destination, not load balanced', () => {
      const pt: Service['loadBalancer'] = {
        routingPreferences: [],
        mode: 'Passthrough',
        healthPolicy: 'OnlyHealthy',
      };
      const svc = lbSvc(pt, {
        vips: [
          { network: '', address: '1.2.3.4' },
          { network: '', address: '1.5.6.7' },
        ],
      });
      assert.deepEqual(lbRoute(svc, [backend('b', '10.0.7.9')], src, '1.2.3.4'), {
        kind: 'passthrough',
        connect: { address: '1.2.3.4', port: 80 },
      });
      // No endpoints at all is no error either; without the mode, it is.
      assert.equal(lbRoute(svc, [], src, '1.5.6.7').kind, 'passthrough');
      const plain = { ...svc, loadBalancer: undefined };
      assert.equal(dest(lbRoute(plain, [], src, '1.5.6.7')), 'error');
    });
    test('passthrough service with a waypoint: through the waypoint', () => {
      const pt: Service['loadBalancer'] = {
        routingPreferences: [],
        mode: 'Passthrough',
        healthPolicy: 'OnlyHealthy',
      };
      const svc = lbSvc(pt, {
        vips: [{ network: '', address: '1.2.3.4' }],
        waypoint: {
          destination: { kind: 'address', network: '', address: '10.0.9.9' },
          hboneMtlsPort: 15008,
        },
      });
      const r = lbRoute(svc, [wp], src, '1.2.3.4');
      assert.equal(r.kind === 'hbone' && r.via, 'service-waypoint');
      assert.deepEqual(r.kind === 'hbone' && r.connect, { address: '10.0.9.9', port: 15008 });
      assert.deepEqual(r.kind === 'hbone' && r.authority, { address: '1.2.3.4', port: 80 });
    });
    test('waypoint named by hostname that is a workload, not a service (upstream find_hostname)', () => {
      const wpWl = { ...wp, hostname: 'wp.example.com' };
      const svc = lbSvc(undefined, {
        waypoint: {
          destination: { kind: 'hostname', namespace: 'default', hostname: 'wp.example.com' },
          hboneMtlsPort: 15008,
        },
      });
      const r = lbRoute(svc, [wpWl, backend('b', '10.0.7.10')]);
      assert.deepEqual(r.kind === 'hbone' && r.connect, { address: '10.0.9.9', port: 15008 });
      // Known by hostname only: the address is left for DNS.
      const byName = { ...wpWl, workloadIps: [] };
      const r2 = lbRoute(svc, [byName, backend('b', '10.0.7.10')]);
      assert.deepEqual(r2.kind === 'hbone' && r2.connect, { address: '', port: 15008 });
    });
  });
});

test('parseIdentity: one parsed identity per URI, bad URIs still rejected every time', () => {
  const a = parseIdentity('spiffe://cluster.local/ns/ns1/sa/sleep');
  assert.equal(a, parseIdentity('spiffe://cluster.local/ns/ns1/sa/sleep'));
  assert.equal(a.serviceAccount, 'sleep');
  assert.notEqual(a, parseIdentity('spiffe://cluster.local/ns/ns1/sa/other'));
  assert.throws(() => parseIdentity('spiffe://cluster.local/sleep'), { code: 'ERR_ZT_IDENTITY_INVALID' });
  assert.throws(() => parseIdentity('spiffe://cluster.local/sleep'), { code: 'ERR_ZT_IDENTITY_INVALID' });
});

// Multi-network, as upstream's build_request_double_hbone / _failover_to_remote and
// fetch_network_gateway: endpoints on another network go through that network's gateway.
describe('routeOutbound through network gateways', () => {
  const KEY = 'default/mn.default.svc.cluster.local';
  const gwWl = makeWorkload({
    name: 'ew',
    namespace: 'istio-system',
    serviceAccount: 'ew',
    workloadIps: ['10.8.0.1'],
    network: 'remote',
  });
  const byAddress = {
    destination: { kind: 'address' as const, network: 'remote', address: '10.8.0.1' },
    hboneMtlsPort: 15008,
  };
  const remote = (name: string, over: Partial<Workload> = {}) =>
    makeWorkload({
      name,
      serviceAccount: name,
      workloadIps: ['10.9.0.5'],
      network: 'remote',
      networkGateway: byAddress,
      services: { [KEY]: { 80: 8080 } },
      ...over,
    });
  const mnSvc = makeService({
    name: 'mn',
    vips: ['10.96.8.8'],
    ports: { 80: 8080 },
    subjectAltNames: ['spiffe://cluster.local/ns/default/sa/mn-san'],
  });
  const go = (workloads: Workload[], services: Service[] = [mnSvc], to = '10.96.8.8'): Route =>
    routeOutbound(
      new ProxyState(makeSnapshot(1, { workloads: [src, ...workloads], services })),
      src,
      { address: to, port: 80 },
      opts,
    );

  test('a service endpoint only on another network: double HBONE to its gateway, authority the hostname', () => {
    const r = go([gwWl, remote('far')]);
    assert.equal(r.kind, 'double-hbone');
    if (r.kind !== 'double-hbone') return;
    assert.deepEqual(r.connect, { address: '10.8.0.1', port: 15008 });
    assert.deepEqual(r.authority, { hostname: 'mn.default.svc.cluster.local', port: 80 });
    assert.deepEqual(r.gatewayIdentities, ['spiffe://cluster.local/ns/istio-system/sa/ew']);
    assert.deepEqual(r.expectedIdentities, [
      'spiffe://cluster.local/ns/default/sa/mn-san',
      'spiffe://cluster.local/ns/default/sa/far',
    ]);
    assert.equal(r.workload.name, 'ew');
    assert.equal(r.remote.name, 'far');
    assert.equal(r.service.hostname, 'mn.default.svc.cluster.local');
  });
  test('an endpoint behind a gateway needs no address of its own', () => {
    const r = go([gwWl, remote('far', { workloadIps: [] })]);
    assert.equal(r.kind === 'double-hbone' && r.remote.name, 'far');
  });
  test('failover: same network while it has a healthy endpoint, then through the gateway', () => {
    const lb: Service['loadBalancer'] = {
      routingPreferences: ['Network'],
      mode: 'Failover',
      healthPolicy: 'OnlyHealthy',
    };
    const near = makeWorkload({ name: 'near', workloadIps: ['10.0.8.2'], services: { [KEY]: { 80: 8080 } } });
    const svc = { ...mnSvc, loadBalancer: lb };
    for (let i = 0; i < 10; i++) assert.equal(go([gwWl, near, remote('far')], [svc]).kind, 'hbone');
    const sick = { ...near, status: 'Unhealthy' as const };
    assert.equal(go([gwWl, sick, remote('far')], [svc]).kind, 'double-hbone');
  });
  test('a gateway named by hostname: its service, load balanced on the HBONE port', () => {
    const ewSvc = makeService({
      name: 'ew',
      namespace: 'istio-system',
      vips: [{ network: 'remote', address: '10.8.9.9' }],
      ports: { 15008: 15008 },
    });
    const gwEp = {
      ...gwWl,
      services: { 'istio-system/ew.istio-system.svc.cluster.local': { 15008: 15008 } },
    };
    const byHost = {
      destination: { kind: 'hostname' as const, namespace: 'istio-system', hostname: ewSvc.hostname },
      hboneMtlsPort: 15008,
    };
    const r = go([gwEp, remote('far', { networkGateway: byHost })], [mnSvc, ewSvc]);
    assert.equal(r.kind, 'double-hbone');
    assert.deepEqual(r.kind === 'double-hbone' && r.connect, { address: '10.8.0.1', port: 15008 });
  });
  test('a service waypoint on another network is reached through its gateway', () => {
    const wpRemote = remote('wp-remote', { workloadIps: ['10.9.0.9'], services: {} });
    const svc = {
      ...mnSvc,
      waypoint: {
        destination: { kind: 'address' as const, network: 'remote', address: '10.9.0.9' },
        hboneMtlsPort: 15008,
      },
    };
    const r = go([gwWl, wpRemote, remote('far')], [svc]);
    assert.equal(r.kind === 'double-hbone' && r.remote.name, 'wp-remote');
    assert.deepEqual(r.kind === 'double-hbone' && r.authority, { hostname: svc.hostname, port: 80 });
  });
  test('a gateway missing from the state is unknown-network-gateway, naming it', () => {
    const r = go([remote('far')]);
    assert.equal(r.kind === 'error' && r.code, 'unknown-network-gateway');
    assert.match(
      r.kind === 'error' ? r.message : '',
      /network gateway remote\/10\.8\.0\.1 of network "remote"/,
    );
  });
});

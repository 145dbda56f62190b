import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeAddress } from './decode.ts';
import { configDump } from './dump.ts';
import { encodeService, encodeWorkload } from './encode.ts';
import { LocalConfigError, ResourceError } from './errors.ts';
import { parseLocalConfig } from './local.ts';
import { decodeAddressBytes, encodeAddressBytes, type PbAddress } from './pb.ts';
import { makeService, makeWorkload } from './testing/index.ts';
import type { Service, Workload } from './types.ts';

// The load-balancing fields of a service (istio.workload.LoadBalancing) and of a workload
// (capacity, locality), from the wire, from the local config, and into the config dump.

/** Through protobuf bytes and back, then decoded as the xDS client decodes. */
function viaWire(a: PbAddress) {
  return decodeAddress('res', decodeAddressBytes(encodeAddressBytes(a)));
}
function serviceFromWire(loadBalancing: NonNullable<PbAddress['service']>['loadBalancing']): Service {
  const d = viaWire({ service: { name: 's', namespace: 'ns', hostname: 's.ns', loadBalancing } });
  assert.equal(d.kind, 'service');
  return (d as { service: Service }).service;
}

describe('xDS LoadBalancing', () => {
  const cases: Array<{ wire: Parameters<typeof serviceFromWire>[0]; want: Service['loadBalancer'] }> = [
    { wire: null, want: undefined },
    { wire: {}, want: { routingPreferences: [], mode: 'Standard', healthPolicy: 'OnlyHealthy' } },
    {
      wire: {
        routingPreference: ['NETWORK', 'REGION', 'ZONE', 'SUBZONE', 'NODE', 'CLUSTER'],
        mode: 'FAILOVER',
      },
      want: {
        routingPreferences: ['Network', 'Region', 'Zone', 'Subzone', 'Node', 'Cluster'],
        mode: 'Failover',
        healthPolicy: 'OnlyHealthy',
      },
    },
    {
      wire: { routingPreference: ['ZONE'], mode: 'STRICT', healthPolicy: 'ALLOW_ALL' },
      want: { routingPreferences: ['Zone'], mode: 'Strict', healthPolicy: 'AllowAll' },
    },
    {
      wire: { mode: 'PASSTHROUGH' },
      want: { routingPreferences: [], mode: 'Passthrough', healthPolicy: 'OnlyHealthy' },
    },
    {
      wire: { mode: 'UNSPECIFIED_MODE', healthPolicy: 'ALLOW_ALL' },
      want: { routingPreferences: [], mode: 'Standard', healthPolicy: 'AllowAll' },
    },
  ];
  for (const c of cases) {
    test(`decodes ${JSON.stringify(c.wire)}`, () => {
      assert.deepEqual(serviceFromWire(c.wire).loadBalancer, c.want);
    });
  }
  test('an unknown scope, mode or health policy rejects the resource, naming it', () => {
    for (const lb of [{ routingPreference: [99] }, { mode: 42 }, { healthPolicy: 7 }]) {
      assert.throws(
        () => serviceFromWire(lb),
        (e: unknown) => {
          assert.ok(e instanceof ResourceError);
          assert.match(e.message, /res.*unknown (load balancing scope|load balancing mode|health policy)/);
          return true;
        },
      );
    }
  });
  test('UNSPECIFIED_SCOPE is no scope upstream knows: rejected', () => {
    assert.throws(() => serviceFromWire({ routingPreference: ['UNSPECIFIED_SCOPE'] }), ResourceError);
  });
  test('encode and decode agree for every mode and policy', () => {
    for (const mode of ['Standard', 'Strict', 'Failover', 'Passthrough'] as const) {
      for (const healthPolicy of ['OnlyHealthy', 'AllowAll'] as const) {
        const loadBalancer = {
          routingPreferences: ['Subzone', 'Node'] as Array<'Subzone' | 'Node'>,
          mode,
          healthPolicy,
        };
        const s = makeService({ name: 's', loadBalancer });
        const d = viaWire(encodeService(s));
        assert.deepEqual(d.kind === 'service' && d.service.loadBalancer, loadBalancer);
      }
    }
  });
});

describe('xDS workload capacity and locality', () => {
  const decodeWl = (w: Workload) => {
    const d = viaWire(encodeWorkload(w));
    return d.kind === 'workload' ? d.workload : assert.fail('not a workload');
  };
  test('capacity: unset is 1, 0 stays 0 (never picked), others kept', () => {
    const unset = viaWire({ workload: { uid: 'u', name: 'a', namespace: 'ns' } });
    assert.equal(unset.kind === 'workload' && unset.workload.capacity, 1);
    const zero = viaWire({ workload: { uid: 'u', name: 'a', namespace: 'ns', capacity: { value: 0 } } });
    assert.equal(zero.kind === 'workload' && zero.workload.capacity, 0);
    assert.equal(decodeWl(makeWorkload({ name: 'a', capacity: 7 })).capacity, 7);
  });
  test('locality', () => {
    const w = decodeWl(makeWorkload({ name: 'a', locality: { region: 'r', zone: 'z', subzone: 's' } }));
    assert.deepEqual(w.locality, { region: 'r', zone: 'z', subzone: 's' });
  });
});

function localRejects(yaml: string, key: string, message: RegExp): void {
  assert.throws(
    () => parseLocalConfig(yaml, 'lb.yaml'),
    (e: unknown) => {
      assert.ok(e instanceof LocalConfigError, String(e));
      assert.equal(e.key, key);
      assert.match(e.message, message);
      return true;
    },
  );
}

const svcYaml = (lb: string) =>
  `services:\n- name: s\n  namespace: ns\n  hostname: s.ns\n  vips: [/10.96.0.1]\n  ports: {80: 80}\n  loadBalancer: ${lb}\n`;

describe("local config: upstream's LoadBalancer and Locality", () => {
  test('every mode, policy and scope, bare or as a tag', () => {
    const snap = parseLocalConfig(
      svcYaml(
        '{routingPreferences: [Network, !Region, Zone, Subzone, Node, Cluster], mode: !Strict, healthPolicy: AllowAll}',
      ),
      'lb.yaml',
    );
    assert.deepEqual(snap.services[0]?.loadBalancer, {
      routingPreferences: ['Network', 'Region', 'Zone', 'Subzone', 'Node', 'Cluster'],
      mode: 'Strict',
      healthPolicy: 'AllowAll',
    });
    for (const mode of ['Standard', 'Failover', 'Passthrough']) {
      const s = parseLocalConfig(
        svcYaml(`{routingPreferences: [], mode: ${mode}, healthPolicy: OnlyHealthy}`),
        'lb.yaml',
      );
      assert.equal(s.services[0]?.loadBalancer?.mode, mode);
    }
  });
  test('each of the three fields is required, as upstream (serde without defaults)', () => {
    localRejects(
      svcYaml('{mode: Failover, healthPolicy: OnlyHealthy}'),
      'services[0].loadBalancer.routingPreferences',
      /required field "routingPreferences"/,
    );
    localRejects(
      svcYaml('{routingPreferences: [Zone], healthPolicy: OnlyHealthy}'),
      'services[0].loadBalancer.mode',
      /required field "mode"/,
    );
    localRejects(
      svcYaml('{routingPreferences: [Zone], mode: Strict}'),
      'services[0].loadBalancer.healthPolicy',
      /required field "healthPolicy"/,
    );
    localRejects(
      svcYaml('{routingPreferences: ~, mode: Strict, healthPolicy: OnlyHealthy}'),
      'services[0].loadBalancer.routingPreferences',
      /required/,
    );
  });
  test('unknown values and keys are refused with the valid ones', () => {
    localRejects(
      svcYaml('{routingPreferences: [Rack], mode: Strict, healthPolicy: OnlyHealthy}'),
      'services[0].loadBalancer.routingPreferences[0]',
      /one of Region, Zone, Subzone, Node, Cluster, Network/,
    );
    localRejects(
      svcYaml('{routingPreferences: [], mode: STRICT, healthPolicy: OnlyHealthy}'),
      'services[0].loadBalancer.mode',
      /one of Standard, Strict, Failover, Passthrough/,
    );
    localRejects(
      svcYaml('{routingPreferences: [], mode: Strict, healthPolicy: OnlyHealthy, weight: 1}'),
      'services[0].loadBalancer.weight',
      /unknown field "weight"/,
    );
  });
  test('locality: region, zone and subzone are all required (empty strings allowed)', () => {
    const wl = (loc: string) =>
      `workloads:\n- name: a\n  namespace: ns\n  workloadIps: [10.0.0.1]\n  locality: ${loc}\n`;
    assert.deepEqual(
      parseLocalConfig(wl('{region: r, zone: "", subzone: ""}'), 'lb.yaml').workloads[0]?.locality,
      {
        region: 'r',
        zone: '',
        subzone: '',
      },
    );
    localRejects(wl('{region: r, zone: z}'), 'workloads[0].locality.subzone', /required/);
  });
  test('capacity: default 1, upstream u32 range', () => {
    const wl = (cap: string) => `workloads:\n- name: a\n  namespace: ns\n  workloadIps: [10.0.0.1]\n${cap}`;
    assert.equal(parseLocalConfig(wl(''), 'lb.yaml').workloads[0]?.capacity, 1);
    assert.equal(parseLocalConfig(wl('  capacity: 0\n'), 'lb.yaml').workloads[0]?.capacity, 0);
    localRejects(wl('  capacity: -1\n'), 'workloads[0].capacity', /integer/);
  });
});

describe('config dump', () => {
  const KEY = 'ns/s.ns.svc.cluster.local';
  const healthy = makeWorkload({
    name: 'up',
    namespace: 'ns',
    workloadIps: ['10.0.0.1'],
    services: { [KEY]: { 80: 8080 } },
  });
  const sick = makeWorkload({
    name: 'down',
    namespace: 'ns',
    workloadIps: ['10.0.0.2'],
    status: 'Unhealthy',
    services: { [KEY]: { 80: 8080 } },
  });
  const dump = (lb?: Service['loadBalancer']) => {
    const s = makeService({
      name: 's',
      namespace: 'ns',
      ports: [{ servicePort: 80, targetPort: 8080 }],
      ...(lb ? { loadBalancer: lb } : {}),
    });
    const json = JSON.parse(
      JSON.stringify(configDump({ version: 1, workloads: [healthy, sick], services: [s], policies: [] })),
    );
    return json.services[0] as { endpoints: Record<string, { status: string }>; loadBalancer?: unknown };
  };
  test('endpoints as upstream stores them: unhealthy ones only under AllowAll', () => {
    assert.deepEqual(Object.keys(dump().endpoints), ['Kubernetes//Pod/ns/up']);
    const all = dump({ routingPreferences: [], mode: 'Standard', healthPolicy: 'AllowAll' });
    assert.deepEqual(Object.keys(all.endpoints).sort(), ['Kubernetes//Pod/ns/down', 'Kubernetes//Pod/ns/up']);
    assert.equal(all.endpoints['Kubernetes//Pod/ns/down']?.status, 'Unhealthy');
  });
  test('loadBalancer: absent without one, upstream field names and variant names with one', () => {
    assert.equal('loadBalancer' in dump(), false);
    assert.deepEqual(
      dump({ routingPreferences: ['Network', 'Zone'], mode: 'Failover', healthPolicy: 'OnlyHealthy' })
        .loadBalancer,
      {
        routingPreferences: ['Network', 'Zone'],
        mode: 'Failover',
        healthPolicy: 'OnlyHealthy',
      },
    );
  });
});

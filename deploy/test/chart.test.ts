// Renders deploy/charts/ztunnel with a real helm and checks every object against the Kubernetes
// schemas (kubernetes-models) and against what upstream's ztunnel chart promises.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { stringify } from 'yaml';
import { HelmError, helm, helmBinary, type K8sObject, type RenderOptions, render } from './helm.ts';

const CHART = fileURLToPath(new URL('../charts/ztunnel', import.meta.url));
const HUB = 'registry.example.com/mesh';

type EnvVar = { name: string; value?: string; valueFrom?: Record<string, unknown> };
type Container = {
  name: string;
  image: string;
  ports: { containerPort: number; name?: string }[];
  env: EnvVar[];
  readinessProbe?: { httpGet?: { path: string; port: number } };
  livenessProbe?: { httpGet?: { path: string; port: number } };
  securityContext: Record<string, unknown> & { capabilities: { add: string[]; drop: string[] } };
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  volumeMounts: { name: string; mountPath: string }[];
};
type PodSpec = {
  serviceAccountName: string;
  priorityClassName: string;
  terminationGracePeriodSeconds: number;
  tolerations: { key?: string; operator: string; effect?: string }[];
  containers: Container[];
  volumes: ({ name: string } & Record<string, unknown>)[];
};
type Ds = K8sObject & {
  spec: {
    updateStrategy: { type: string; rollingUpdate: Record<string, number> };
    template: {
      metadata: { annotations: Record<string, string>; labels: Record<string, string> };
      spec: PodSpec;
    };
  };
};

/** Validates each object against its Kubernetes schema; throws on an unexpected kind. */
function validate(objects: K8sObject[]): void {
  for (const o of objects) {
    const input = o as never;
    if (o.kind === 'DaemonSet') new DaemonSet(input).validate();
    else if (o.kind === 'ServiceAccount') new ServiceAccount(input).validate();
    else if (o.kind === 'NetworkPolicy') new NetworkPolicy(input).validate();
    else assert.fail(`unexpected kind ${o.kind} rendered`);
  }
}

function renderValid(opts: RenderOptions = {}, chart = CHART): K8sObject[] {
  const objects = render(chart, { ...opts, values: { hub: HUB, ...opts.values } });
  validate(objects);
  return objects;
}

function daemonSet(objects: K8sObject[]): Ds {
  const found = objects.filter((o) => o.kind === 'DaemonSet');
  assert.equal(found.length, 1, 'exactly one DaemonSet');
  return found[0] as Ds;
}

function proxy(ds: Ds): Container {
  const c = ds.spec.template.spec.containers.find((x) => x.name === 'istio-proxy');
  assert.ok(c, 'container istio-proxy');
  return c;
}

/** The single env entry of `name` (duplicates fail: Kubernetes would silently keep the last). */
function envOf(c: Container, name: string): EnvVar | undefined {
  const all = c.env.filter((e) => e.name === name);
  assert.ok(all.length <= 1, `${name} is set ${all.length} times`);
  return all[0];
}

before(() => {
  helmBinary();
});

describe('ztunnel chart, default values', () => {
  let objects: K8sObject[];
  let ds: Ds;
  let c: Container;
  before(() => {
    objects = renderValid();
    ds = daemonSet(objects);
    c = proxy(ds);
  });

  test('helm lint passes', () => {
    const out = helm(['lint', CHART, '--strict', '--set', `hub=${HUB}`]);
    assert.match(out, /0 chart\(s\) failed/);
  });

  test('renders a DaemonSet and its ServiceAccount in istio-system, named as upstream', () => {
    assert.deepEqual(objects.map((o) => o.kind).sort(), ['DaemonSet', 'ServiceAccount']);
    for (const o of objects) {
      assert.equal(o.metadata.name, 'ztunnel');
      assert.equal(o.metadata.namespace, 'istio-system');
    }
    assert.equal(ds.spec.template.spec.serviceAccountName, 'ztunnel');
    // The selector is immutable: `helm upgrade` from upstream's chart works only with the same one.
    assert.deepEqual((ds.spec as unknown as { selector: unknown }).selector, {
      matchLabels: { app: 'ztunnel' },
    });
    assert.equal(ds.spec.template.metadata.labels.app, 'ztunnel');
    assert.equal(ds.spec.template.metadata.labels['sidecar.istio.io/inject'], 'false');
    assert.equal(c.image, `${HUB}/zt:0.1.0`);
  });

  test('exposes 15020, 15021 and 15008 and probes readiness and liveness', () => {
    assert.deepEqual(c.ports.map((p) => p.containerPort).sort(), [15008, 15020, 15021]);
    assert.deepEqual(c.readinessProbe?.httpGet, { path: '/healthz/ready', port: 15021 });
    assert.ok(c.livenessProbe?.httpGet, 'an HTTP liveness probe (a stuck event loop must fail it)');
    assert.ok([15020, 15021].includes(c.livenessProbe.httpGet.port));
  });

  test('carries the Prometheus scrape annotations', () => {
    const a = ds.spec.template.metadata.annotations;
    assert.equal(a['prometheus.io/scrape'], 'true');
    assert.equal(a['prometheus.io/port'], '15020');
    assert.equal(a['prometheus.io/path'], '/stats/prometheus');
  });

  test('sets upstream environment: istiod addresses, cluster, trust domain, in-pod mode, downward API', () => {
    const value = (n: string) => envOf(c, n)?.value;
    assert.equal(value('XDS_ADDRESS'), 'istiod.istio-system.svc:15012');
    assert.equal(value('CA_ADDRESS'), 'istiod.istio-system.svc:15012');
    assert.equal(value('CLUSTER_ID'), 'Kubernetes');
    assert.equal(value('ISTIO_META_CLUSTER_ID'), 'Kubernetes');
    assert.equal(value('TRUST_DOMAIN'), 'cluster.local');
    // In-pod is zt's default, as upstream's shared mode; the lab switch is never deployed.
    assert.equal(envOf(c, 'INPOD_ENABLED'), undefined);
    assert.equal(envOf(c, 'ZT_LAB_MODE'), undefined);
    assert.equal(envOf(c, 'PROXY_MODE'), undefined, "upstream's default, shared");
    assert.equal(value('INPOD_UDS'), '/var/run/ztunnel/ztunnel.sock');
    assert.equal(value('RUST_LOG'), 'info');
    assert.equal(value('TERMINATION_GRACE_PERIOD_SECONDS'), '30');
    const field = (n: string) =>
      (envOf(c, n)?.valueFrom?.fieldRef as { fieldPath: string } | undefined)?.fieldPath;
    assert.equal(field('POD_NAME'), 'metadata.name');
    assert.equal(field('POD_NAMESPACE'), 'metadata.namespace');
    assert.equal(field('NODE_NAME'), 'spec.nodeName');
    assert.equal(field('INSTANCE_IP'), 'status.podIP');
    assert.equal(field('SERVICE_ACCOUNT'), 'spec.serviceAccountName');
    // Worker-thread sizing inputs, as upstream passes them.
    const resource = (n: string) => envOf(c, n)?.valueFrom?.resourceFieldRef;
    assert.deepEqual(resource('ZTUNNEL_CPU_LIMIT'), { resource: 'limits.cpu', divisor: '1' });
    assert.deepEqual(resource('ZTUNNEL_RESOURCE_CPU_REQUEST'), { resource: 'requests.cpu', divisor: '1' });
    assert.equal(envOf(c, 'ZTUNNEL_RESOURCE_CPU_LIMIT'), undefined, 'no CPU limit is set by default');
  });

  test('mounts the istio-ca token, the root cert, the ZDS host path and a writable /tmp', () => {
    const spec = ds.spec.template.spec;
    const mount = (p: string) => c.volumeMounts.find((m) => m.mountPath === p)?.name;
    const volume = (name: string | undefined) => spec.volumes.find((v) => v.name === name);
    const token = volume(mount('/var/run/secrets/tokens')) as unknown as {
      projected: { sources: unknown[] };
    };
    assert.deepEqual(token.projected.sources, [
      { serviceAccountToken: { path: 'istio-token', expirationSeconds: 43200, audience: 'istio-ca' } },
    ]);
    assert.deepEqual(volume(mount('/var/run/secrets/istio'))?.configMap, { name: 'istio-ca-root-cert' });
    assert.deepEqual(volume(mount('/var/run/ztunnel'))?.hostPath, {
      path: '/var/run/ztunnel',
      type: 'DirectoryOrCreate',
    });
    assert.deepEqual(volume(mount('/tmp'))?.emptyDir, {});
  });

  test('runs as upstream does: root, NET_ADMIN + SYS_ADMIN + NET_RAW only, read-only root', () => {
    const sc = c.securityContext;
    assert.equal(sc.runAsUser, 0);
    assert.equal(sc.runAsGroup, 1337);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.privileged, false);
    assert.deepEqual(sc.capabilities.drop, ['ALL']);
    assert.deepEqual([...sc.capabilities.add].sort(), ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN']);
  });

  test('is node-critical, tolerates every taint, rolls one node at a time, and drains', () => {
    const spec = ds.spec.template.spec;
    assert.equal(spec.priorityClassName, 'system-node-critical');
    const any = (effect: string) =>
      spec.tolerations.some((t) => t.operator === 'Exists' && !t.key && t.effect === effect);
    assert.ok(
      any('NoSchedule') && any('NoExecute'),
      'keyless Exists tolerations for NoSchedule and NoExecute',
    );
    assert.deepEqual(ds.spec.updateStrategy, {
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
    assert.equal(spec.terminationGracePeriodSeconds, 30);
    assert.deepEqual(c.resources, { requests: { cpu: '200m', memory: '512Mi' } });
  });
});

describe('ztunnel chart, values from platforms', () => {
  test('env entries pass through, replace the chart value of the same name, and are strings', () => {
    const c = proxy(
      daemonSet(
        renderValid({
          values: {
            env: {
              ZTUNNEL_WORKER_THREADS: 2,
              XDS_ADDRESS: 'istiod.mesh.svc:15012',
              POD_NAME: 'fixed',
              FEATURE: true,
            },
            meshConfig: { defaultConfig: { proxyMetadata: { ISTIO_META_DNS_CAPTURE: 'true' } } },
          },
        }),
      ),
    );
    assert.equal(envOf(c, 'ZTUNNEL_WORKER_THREADS')?.value, '2');
    assert.equal(envOf(c, 'FEATURE')?.value, 'true');
    assert.equal(envOf(c, 'XDS_ADDRESS')?.value, 'istiod.mesh.svc:15012');
    assert.equal(envOf(c, 'CA_ADDRESS')?.value, 'istiod.istio-system.svc:15012');
    assert.deepEqual(envOf(c, 'POD_NAME'), { name: 'POD_NAME', value: 'fixed' });
    assert.equal(envOf(c, 'ISTIO_META_DNS_CAPTURE')?.value, 'true');
  });

  test('env given as a list of EnvVar objects is kept whole and wins over the chart', () => {
    const list = [
      { name: 'NODE_NAME', value: 'n1' },
      { name: 'SECRET_TTL', valueFrom: { configMapKeyRef: { name: 'zt', key: 'ttl' } } },
    ];
    const c = proxy(daemonSet(renderValid({ values: { env: list } })));
    assert.deepEqual(envOf(c, 'NODE_NAME'), list[0]);
    assert.deepEqual(envOf(c, 'SECRET_TTL'), list[1]);
  });

  test('revision, addresses, cluster, trust domain, log level and grace period reach the env', () => {
    const ds = daemonSet(
      renderValid({
        values: {
          revision: 'canary',
          caAddress: 'ca.example:15012',
          multiCluster: { clusterName: 'east' },
          trustDomain: 'example.org',
          logLevel: 'debug',
          logAsJson: true,
          terminationGracePeriodSeconds: 45,
        },
      }),
    );
    const c = proxy(ds);
    assert.equal(envOf(c, 'XDS_ADDRESS')?.value, 'istiod-canary.istio-system.svc:15012');
    assert.equal(envOf(c, 'CA_ADDRESS')?.value, 'ca.example:15012');
    assert.equal(envOf(c, 'CLUSTER_ID')?.value, 'east');
    assert.equal(envOf(c, 'ISTIO_META_CLUSTER_ID')?.value, 'east');
    assert.equal(envOf(c, 'TRUST_DOMAIN')?.value, 'example.org');
    assert.equal(envOf(c, 'RUST_LOG')?.value, 'debug');
    assert.equal(envOf(c, 'LOG_FORMAT')?.value, 'json');
    assert.equal(envOf(c, 'TERMINATION_GRACE_PERIOD_SECONDS')?.value, '45');
    assert.equal(ds.spec.template.spec.terminationGracePeriodSeconds, 45);
    assert.equal((ds.metadata.annotations as Record<string, string>)['istio.io/rev'], 'canary');
    assert.equal(ds.spec.template.metadata.annotations['istio.io/rev'], 'canary');
  });

  test('image: hub/image:tag-variant, a full reference as is, and an actionable error without a hub', () => {
    const image = (values: Record<string, unknown>) => proxy(daemonSet(renderValid({ values }))).image;
    assert.equal(image({ tag: '1.2.3', variant: 'debug' }), `${HUB}/zt:1.2.3-debug`);
    assert.equal(image({ image: 'mirror.example/zt/zt@sha256:abc' }), 'mirror.example/zt/zt@sha256:abc');
    assert.throws(
      () => render(CHART),
      (e: unknown) => e instanceof HelmError && /set hub/.test(e.message),
    );
  });

  test('resources drop empty entries; extra volumes, mounts, labels and pod annotations are added', () => {
    const ds = daemonSet(
      renderValid({
        values: {
          resources: { limits: { cpu: '2', memory: null }, requests: { cpu: '500m', memory: '1Gi' } },
          volumes: [{ name: 'extra', emptyDir: {} }],
          volumeMounts: [{ name: 'extra', mountPath: '/extra' }],
          labels: { team: 'mesh' },
          podLabels: { tier: 'node' },
          podAnnotations: { 'example.com/a': 'b' },
          imagePullSecrets: ['pull'],
          nodeSelector: { pool: 'default' },
        },
      }),
    );
    const c = proxy(ds);
    assert.deepEqual(c.resources, { limits: { cpu: '2' }, requests: { cpu: '500m', memory: '1Gi' } });
    assert.ok(envOf(c, 'ZTUNNEL_RESOURCE_CPU_LIMIT'), 'a CPU limit is passed on');
    assert.ok(ds.spec.template.spec.volumes.some((v) => v.name === 'extra'));
    assert.ok(c.volumeMounts.some((m) => m.mountPath === '/extra'));
    assert.equal((ds.metadata.labels as Record<string, string>).team, 'mesh');
    assert.equal(ds.spec.template.metadata.labels.tier, 'node');
    // Helm merges maps from values files, so the scrape annotations stay beside the new one.
    assert.deepEqual(ds.spec.template.metadata.annotations, {
      'sidecar.istio.io/inject': 'false',
      'example.com/a': 'b',
      'prometheus.io/path': '/stats/prometheus',
      'prometheus.io/port': '15020',
      'prometheus.io/scrape': 'true',
    });
  });

  test('network policy and resource scope behave as upstream', () => {
    const withPolicy = renderValid({ values: { global: { networkPolicy: { enabled: true } } } });
    assert.ok(withPolicy.some((o) => o.kind === 'NetworkPolicy'));
    assert.deepEqual(renderValid({ values: { resourceScope: 'cluster' } }), []);
  });
});

describe('as a subchart, the way Big Bang wraps upstream ztunnel', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'zt-wrapper-'));
    cpSync(CHART, join(dir, 'charts', 'ztunnel'), { recursive: true });
    writeFileSync(
      join(dir, 'Chart.yaml'),
      stringify({
        apiVersion: 'v2',
        name: 'ztunnel-wrapper',
        version: '1.0.0',
        dependencies: [
          { name: 'ztunnel', alias: 'upstream', version: '0.1.0', repository: 'file://./charts/ztunnel' },
        ],
      }),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('values under upstream: reach the container (env pass-through)', () => {
    const objects = render(dir, {
      values: {
        upstream: {
          hub: HUB,
          env: { ISTIO_META_ENABLE_HBONE: 'true', ZTUNNEL_WORKER_THREADS: '4' },
          resources: { requests: { cpu: '1', memory: '1Gi' } },
        },
      },
    });
    validate(objects);
    const c = proxy(daemonSet(objects));
    assert.equal(envOf(c, 'ISTIO_META_ENABLE_HBONE')?.value, 'true');
    assert.equal(envOf(c, 'ZTUNNEL_WORKER_THREADS')?.value, '4');
    assert.deepEqual(c.resources, { requests: { cpu: '1', memory: '1Gi' } });
  });
});

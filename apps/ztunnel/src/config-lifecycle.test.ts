// Upstream's lifecycle and socket variables (src/config.rs): keepalive, drain deadline, worker
// threads, proxy config and mesh config, the auth token.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from './config.ts';
import { settingsDump } from './servers/config-dump.ts';

test('KEEPALIVE_* and USER_TIMEOUT_ENABLED: upstream defaults, durations, refusals the kernel would give', () => {
  assert.deepEqual(loadConfig({}).tcp, {
    keepaliveEnabled: true,
    keepaliveTimeMs: 180_000,
    keepaliveIntervalMs: 180_000,
    keepaliveRetries: 9,
    userTimeoutEnabled: false,
  });
  assert.deepEqual(
    loadConfig({
      KEEPALIVE_ENABLED: 'false',
      KEEPALIVE_TIME: '10s',
      KEEPALIVE_INTERVAL: '2s',
      KEEPALIVE_RETRIES: '5',
      USER_TIMEOUT_ENABLED: 'true',
    }).tcp,
    {
      keepaliveEnabled: false,
      keepaliveTimeMs: 10_000,
      keepaliveIntervalMs: 2_000,
      keepaliveRetries: 5,
      userTimeoutEnabled: true,
    },
  );
  for (const [name, value] of [
    ['KEEPALIVE_TIME', '500ms'],
    ['KEEPALIVE_TIME', '1500ms'],
    ['KEEPALIVE_INTERVAL', '10h'],
    ['KEEPALIVE_INTERVAL', 'often'],
    ['KEEPALIVE_RETRIES', '0'],
    ['KEEPALIVE_RETRIES', '128'],
    ['KEEPALIVE_ENABLED', 'on'],
    ['USER_TIMEOUT_ENABLED', 'maybe'],
  ] as const) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      { code: 'ERR_ZT_CONFIG_INVALID', variable: name },
      name,
    );
  }
});

test('TERMINATION_GRACE_PERIOD_SECONDS sets the drain deadline as upstream computes it', () => {
  const deadline = (env: Record<string, string>) => loadConfig(env).connectionTerminationDeadlineMs;
  assert.equal(deadline({}), 5000, 'neither set: 5 s');
  // Over 10 s of grace: 5 s are kept back for the forceful close before Kubernetes' SIGKILL.
  assert.equal(deadline({ TERMINATION_GRACE_PERIOD_SECONDS: '30' }), 25_000);
  assert.equal(deadline({ TERMINATION_GRACE_PERIOD_SECONDS: '11' }), 6_000);
  // 10 s or less: only 1 s is kept back, and the deadline is never under 1 s.
  assert.equal(deadline({ TERMINATION_GRACE_PERIOD_SECONDS: '10' }), 9_000);
  assert.equal(deadline({ TERMINATION_GRACE_PERIOD_SECONDS: '2' }), 1_000);
  assert.equal(deadline({ TERMINATION_GRACE_PERIOD_SECONDS: '1' }), 1_000);
  assert.equal(deadline({ TERMINATION_GRACE_PERIOD_SECONDS: '0' }), 1_000);
  // An explicit deadline wins.
  assert.equal(
    deadline({ TERMINATION_GRACE_PERIOD_SECONDS: '30', CONNECTION_TERMINATION_DEADLINE: '2s' }),
    2_000,
  );
  for (const v of ['30s', '-1', 'half a minute'])
    assert.throws(() => deadline({ TERMINATION_GRACE_PERIOD_SECONDS: v }), {
      code: 'ERR_ZT_CONFIG_INVALID',
      variable: 'TERMINATION_GRACE_PERIOD_SECONDS',
    });
});

test("ZTUNNEL_WORKER_THREADS: a count, upstream's percentage form, 0 for every CPU", () => {
  const threads = (env: Record<string, string>) => loadConfig(env).workerThreads;
  assert.equal(threads({ ZTUNNEL_WORKER_THREADS: '4' }), 4);
  // Upstream's own cases (config.rs test_parse_worker_threads).
  assert.equal(threads({ ZTUNNEL_CPU_LIMIT: '8', ZTUNNEL_WORKER_THREADS: '50%' }), 4);
  assert.equal(threads({ ZTUNNEL_CPU_LIMIT: '16', ZTUNNEL_WORKER_THREADS: '30%' }), 5);
  assert.equal(threads({ ZTUNNEL_CPU_LIMIT: '4', ZTUNNEL_WORKER_THREADS: '10%' }), 1);
  assert.equal(threads({ ZTUNNEL_CPU_LIMIT: '6', ZTUNNEL_WORKER_THREADS: '0' }), 6);
  // An explicit resource limit is the CPU count the percentage is taken of.
  assert.equal(
    threads({ ZTUNNEL_CPU_LIMIT: '12', ZTUNNEL_RESOURCE_CPU_LIMIT: '3', ZTUNNEL_WORKER_THREADS: '100%' }),
    3,
  );
  for (const v of ['0%', '101%', 'half', '50 %', '%', '-1', '2.5', '257', 'NaN%'])
    assert.throws(
      () => threads({ ZTUNNEL_WORKER_THREADS: v }),
      {
        code: 'ERR_ZT_CONFIG_INVALID',
        variable: 'ZTUNNEL_WORKER_THREADS',
      },
      v,
    );
  assert.throws(() => threads({ ZTUNNEL_CPU_LIMIT: '500m', ZTUNNEL_WORKER_THREADS: '50%' }), {
    variable: 'ZTUNNEL_CPU_LIMIT',
  });
});

test('the default worker count follows the CPU limit and request, as upstream, not every core', () => {
  const threads = (env: Record<string, string>) => loadConfig(env).workerThreads;
  // No explicit limit: a quarter of the CPUs, at least 2.
  assert.equal(threads({ ZTUNNEL_CPU_LIMIT: '32' }), 8);
  assert.equal(threads({ ZTUNNEL_CPU_LIMIT: '4' }), 2);
  assert.equal(threads({ ZTUNNEL_CPU_LIMIT: '1' }), 2);
  // An explicit limit wins, even below 2; quantities round up.
  assert.equal(threads({ ZTUNNEL_RESOURCE_CPU_LIMIT: '16' }), 16);
  assert.equal(threads({ ZTUNNEL_RESOURCE_CPU_LIMIT: '1' }), 1);
  assert.equal(threads({ ZTUNNEL_RESOURCE_CPU_LIMIT: '500m' }), 1);
  assert.equal(threads({ ZTUNNEL_RESOURCE_CPU_LIMIT: '2500m' }), 3);
  assert.equal(threads({ ZTUNNEL_RESOURCE_CPU_LIMIT: '1.5' }), 2);
  // A request raises the floor, also over the limit.
  assert.equal(threads({ ZTUNNEL_CPU_LIMIT: '8', ZTUNNEL_RESOURCE_CPU_REQUEST: '8' }), 8);
  assert.equal(threads({ ZTUNNEL_CPU_LIMIT: '8', ZTUNNEL_RESOURCE_CPU_REQUEST: '1' }), 2);
  assert.equal(threads({ ZTUNNEL_RESOURCE_CPU_LIMIT: '16', ZTUNNEL_RESOURCE_CPU_REQUEST: '4' }), 16);
  assert.equal(threads({ ZTUNNEL_RESOURCE_CPU_LIMIT: '4', ZTUNNEL_RESOURCE_CPU_REQUEST: '8' }), 8);
  for (const v of ['0', '-1', 'two', '1.5m5'])
    assert.throws(
      () => threads({ ZTUNNEL_RESOURCE_CPU_LIMIT: v }),
      { variable: 'ZTUNNEL_RESOURCE_CPU_LIMIT' },
      v,
    );
});

function meshFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'zt-mesh-'));
  const path = join(dir, 'mesh');
  writeFileSync(path, text);
  return path;
}

// Upstream's test mesh config (test_helpers MESH_CONFIG_YAML), in substance.
const MESH = `
defaultConfig:
  proxyAdminPort: 15099
  statsPort: 15888
  proxyMetadata:
    ISTIO_META_FOO: foo
    ISTIO_META_FOOBAR: foobar
accessLogFile: /dev/stdout
`;

test('the mesh config file and PROXY_CONFIG, with proxy metadata, merged as upstream merges them', () => {
  const meshConfigPath = meshFile(MESH);
  const fromMesh = loadConfig({}, { meshConfigPath });
  assert.equal(fromMesh.statsPort, 15888);
  assert.equal(fromMesh.adminPort, 15099);
  assert.equal(fromMesh.proxyMetadata['FOO'], 'foo', 'the ISTIO_META_ prefix is removed');
  assert.equal(fromMesh.clusterId, 'Kubernetes');

  const PROXY_CONFIG = `{
    "discoveryAddress": "istiod-rev0.istio-system-2:15012",
    "proxyAdminPort": 15999,
    "concurrency": 3,
    "proxyMetadata": {
      "ISTIO_META_BAR": "bar",
      "ISTIO_META_FOOBAR": "foobar-overwritten",
      "NO_PREFIX": "no-prefix"
    }
  }`;
  const env = { PROXY_CONFIG, ISTIO_META_INCLUDE_THIS: 'foobar-env', NOT_INCLUDE: 'x' };
  const fromEnv = loadConfig(env, { meshConfigPath: '/nonexistent/mesh' });
  assert.equal(fromEnv.readinessPort, 15021);
  assert.equal(fromEnv.statsPort, 15020);
  assert.equal(fromEnv.adminPort, 15999);
  assert.equal(fromEnv.workerThreads, 3, 'concurrency sizes the data plane');
  assert.equal(
    fromEnv.xdsAddress,
    'https://istiod-rev0.istio-system-2:15012',
    'a scheme-less address is https',
  );
  assert.deepEqual(fromEnv.proxyMetadata, {
    BAR: 'bar',
    FOOBAR: 'foobar-overwritten',
    NO_PREFIX: 'no-prefix',
    INCLUDE_THIS: 'foobar-env',
  });

  const both = loadConfig({ ...env, ISTIO_META_FOO: 'from-env' }, { meshConfigPath });
  assert.equal(both.statsPort, 15888, 'the mesh config fills what PROXY_CONFIG leaves out');
  assert.equal(both.adminPort, 15999, 'PROXY_CONFIG wins field by field');
  assert.equal(both.proxyMetadata['FOOBAR'], 'foobar-overwritten');
  assert.equal(both.proxyMetadata['BAR'], 'bar');
  assert.equal(both.proxyMetadata['FOO'], 'from-env', 'ISTIO_META_* variables have the last word');
  // The variables still win over both.
  const explicit = loadConfig(
    { PROXY_CONFIG, XDS_ADDRESS: 'https://istiod.example:15012', ZTUNNEL_WORKER_THREADS: '1' },
    { meshConfigPath },
  );
  assert.equal(explicit.xdsAddress, 'https://istiod.example:15012');
  assert.equal(explicit.workerThreads, 1);
  // concurrency 0 is every CPU.
  assert.equal(
    loadConfig({ PROXY_CONFIG: 'concurrency: 0', ZTUNNEL_CPU_LIMIT: '6' }, { meshConfigPath }).workerThreads,
    6,
  );
});

test('a proxy config zt cannot read stops start-up naming where it came from', () => {
  const none = { meshConfigPath: '/nonexistent/mesh' };
  for (const bad of ['{', 'proxyAdminPort: 70000', 'proxyMetadata: [a]', 'proxyMetadata: {A: 1}', '[1]'])
    assert.throws(() => loadConfig({ PROXY_CONFIG: bad }, none), { variable: 'PROXY_CONFIG' }, bad);
  assert.throws(() => loadConfig({}, { meshConfigPath: meshFile('defaultConfig: {statsPort: "x"}') }), {
    code: 'ERR_ZT_CONFIG_INVALID',
    message: /mesh config.*statsPort/,
  });
  // A directory where the file should be is an error, not an absent file.
  assert.throws(() => loadConfig({}, { meshConfigPath: tmpdir() }), /mesh config/);
});

test('AUTH_TOKEN names a file, or is the token itself as upstream allows; the token is never dumped', () => {
  const file = meshFile('a-token\n');
  const fromFile = loadConfig({ AUTH_TOKEN: file });
  assert.equal(fromFile.authTokenPath, file);
  assert.equal(fromFile.authToken, undefined);
  const inline = loadConfig({ AUTH_TOKEN: 'eyJhbGciOi.inline.token' });
  assert.equal(inline.authTokenPath, undefined);
  assert.equal(inline.authToken, 'eyJhbGciOi.inline.token');
  const dumped = JSON.stringify(settingsDump(inline));
  assert.ok(!dumped.includes('inline.token'), dumped);
  assert.equal(settingsDump(inline)['authToken'], '<redacted>');
  assert.equal(loadConfig({}).authToken, undefined);
});

test('ALT_XDS_HOSTNAME and ALT_CA_HOSTNAME: the names istiod is verified against', () => {
  const c = loadConfig({ ALT_XDS_HOSTNAME: 'istiod.istio-system.svc', ALT_CA_HOSTNAME: 'ca.example' });
  assert.equal(c.altXdsHostname, 'istiod.istio-system.svc');
  assert.equal(c.altCaHostname, 'ca.example');
  assert.equal(loadConfig({}).altXdsHostname, undefined);
});

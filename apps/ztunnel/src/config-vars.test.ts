import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  classifyVariable,
  editDistance,
  IGNORED_UPSTREAM,
  READ_PREFIXES,
  READ_VARIABLES,
} from './config-vars.ts';

test('every variable config.ts reads is listed, so doctor never calls one of them unknown', () => {
  // config.ts and the helpers it reads through (config-workers.ts, config-proxy.ts...).
  const source = readdirSync(new URL('.', import.meta.url))
    .filter((f) => /^config(-[a-z]+)?\.ts$/.test(f))
    .map((f) => readFileSync(new URL(`./${f}`, import.meta.url), 'utf8'))
    .join('\n');
  const names = new Set<string>();
  for (const m of source.matchAll(/(?:str|bool|int|optInt|duration|uri)\(env, '([A-Z0-9_]+)'/g))
    names.add(m[1] as string);
  for (const m of source.matchAll(/withPrefix\(env, '([A-Z0-9_]+)'\)/g))
    assert.ok(READ_PREFIXES.includes(m[1] as string), `prefix ${m[1]} is read by config.ts but not listed`);
  for (const m of source.matchAll(/env\['([A-Z0-9_]+)'\]/g)) names.add(m[1] as string);
  assert.ok(names.size > 40, `found only ${names.size} variables in config.ts`);
  for (const name of names) {
    const c = classifyVariable(name);
    assert.ok(c.t === 'read' || c.t === 'prefix', `${name} is read by config.ts but classified ${c.t}`);
  }
});

test('the lists do not overlap', () => {
  const read = new Set(READ_VARIABLES.map((v) => v.name));
  for (const v of IGNORED_UPSTREAM) assert.ok(!read.has(v.name), `${v.name} is both read and ignored`);
  assert.equal(read.size, READ_VARIABLES.length, 'a variable is listed twice');
});

test('names are read, read by prefix, ignored, misspelled, unknown, or none of zt business', () => {
  assert.deepEqual(classifyVariable('XDS_ADDRESS'), { t: 'read', origin: 'upstream' });
  assert.deepEqual(classifyVariable('ZT_BIND_ADDRESS'), { t: 'read', origin: 'zt' });
  assert.deepEqual(classifyVariable('CA_HEADER_X_TOKEN'), { t: 'prefix', prefix: 'CA_HEADER_' });
  assert.equal(classifyVariable('XDS_ON_DEMAND').t, 'ignored');
  assert.deepEqual(classifyVariable('XDS_ADRESS'), { t: 'misspelled', suggestion: 'XDS_ADDRESS' });
  assert.deepEqual(classifyVariable('TRUST_DOMIAN'), { t: 'misspelled', suggestion: 'TRUST_DOMAIN' });
  assert.deepEqual(classifyVariable('ZTUNNEL_WORKERS_THREADS'), {
    t: 'misspelled',
    suggestion: 'ZTUNNEL_WORKER_THREADS',
  });
  assert.deepEqual(classifyVariable('ZT_FROBNICATE'), { t: 'unknown' });
  assert.deepEqual(classifyVariable('ZT_ADMN_PORT'), { t: 'misspelled', suggestion: 'ZT_ADMIN_PORT' });
  // Kubernetes' service links of a Service named ztunnel or xds look like ours but are not.
  for (const name of [
    'PATH',
    'HOME',
    'HOSTNAME',
    'NODE_VERSION',
    'KUBERNETES_PORT',
    'ISTIOD_SERVICE_HOST',
    'ZTUNNEL_SERVICE_HOST',
    'ZTUNNEL_SERVICE_PORT_HTTP_MONITORING',
    'ZTUNNEL_PORT',
    'ZTUNNEL_PORT_15020_TCP_ADDR',
    'XDS_PORT_15012_TCP',
    // The project's launcher and tests: `npm run zt -- doctor` runs with the first two set.
    'ZT_NODE',
    'ZT_PNPM',
    'ZT_LONG',
  ])
    assert.deepEqual(classifyVariable(name), { t: 'other' }, name);
  // ISTIO_META_ with nothing after it is no metadata key.
  assert.notEqual(classifyVariable('ISTIO_META_').t, 'prefix');
});

test('edit distance counts insertions, deletions, substitutions and swaps as one each', () => {
  assert.equal(editDistance('XDS_ADDRESS', 'XDS_ADDRESS'), 0);
  assert.equal(editDistance('XDS_ADRESS', 'XDS_ADDRESS'), 1);
  assert.equal(editDistance('TRUST_DOMIAN', 'TRUST_DOMAIN'), 1);
  assert.equal(editDistance('FAKE_CA', 'FAKE_CB'), 1);
  assert.equal(editDistance('abc', ''), 3);
  assert.ok(editDistance('KUBERNETES_PORT', 'XDS_ADDRESS', 2) > 2);
});

test("the README's configuration tables name every variable zt reads or ignores", () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Ports'));
  for (const v of [...READ_VARIABLES, ...IGNORED_UPSTREAM])
    assert.ok(section.includes(`\`${v.name}\``), `${v.name} is missing from README's configuration section`);
  for (const p of READ_PREFIXES) assert.ok(section.includes(`\`${p}*\``), `${p}* is missing from the README`);
});

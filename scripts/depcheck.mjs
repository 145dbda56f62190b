// The dependency-direction check. Packages form layers; an import may only point down:
//   apps/lab -> apps/ztunnel -> core -> transport | xds | inpod -> identity -> proto   (native beside proto)
// metrics, errors and log (the bottom layer) may be imported by anyone; nothing imports apps/lab or
// bench/ (the lab is the demo, the reliability suite and the in-pod topologies: never shipped).
// A package is reached only through its public entry points (`@zt/x` and `@zt/x/testing`),
// never through a path into its files.
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
  core: 3,
  ztunnel: 4,
  bench: 4,
  lab: 5,
};
const ANYONE_MAY_IMPORT = new Set(['metrics', 'errors', 'log']);
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

export function checkRepo(rootDir) {
  const root = resolve(rootDir);
  const pkgs = workspacePackages(root);
  const owner = (file) => pkgs.find((p) => file === p.dir || file.startsWith(p.dir + sep));
  const problems = [];
  for (const pkg of pkgs) {
    for (const file of walk(join(pkg.dir, 'src'), [])) {
      const rel = relative(root, file);
      for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
        let target;
        if (specifier.startsWith('.')) target = owner(resolve(dirname(file), specifier))?.name ?? 'outside';
        const why = checkEdge({ from: pkg.name, file: rel, specifier, target });
        if (why) problems.push(why);
      }
    }
  }
  return problems;
}

// Istio's ProxyConfig, as upstream ztunnel reads it: the mesh config file's `defaultConfig`
// (mounted from the istio ConfigMap at ./etc/istio/config/mesh), then the PROXY_CONFIG variable
// (YAML or JSON) over it, then ISTIO_META_* variables over its proxy metadata. Only the fields
// upstream uses are read; the rest of the mesh config is left alone, as upstream leaves it.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type Env, str, withPrefix } from './config-env.ts';

/** Where upstream reads the mesh config, relative to its working directory (/ in the image). */
export const MESH_CONFIG_PATH = './etc/istio/config/mesh';

const META_PREFIX = 'ISTIO_META_';

/** The ProxyConfig fields upstream takes; each may be absent. */
export interface ProxyConfigFields {
  discoveryAddress?: string;
  proxyAdminPort?: number;
  statsPort?: number;
  /** Worker threads; 0 means every core. */
  concurrency?: number;
  /** Keys without the ISTIO_META_ prefix (upstream strips it). */
  proxyMetadata: Record<string, string>;
}

/** Reads `path`'s `defaultConfig` and PROXY_CONFIG, merged as upstream merges them. */
export function readProxyConfig(env: Env, meshConfigPath: string = MESH_CONFIG_PATH): ProxyConfigFields {
  let mesh: ProxyConfigFields | undefined;
  let text: string | undefined;
  try {
    text = readFileSync(meshConfigPath, 'utf8');
  } catch (e) {
    // No mesh config mounted is normal (outside Kubernetes, tests); anything else is not.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new ConfigError('mesh config', meshConfigPath, `a readable file (${(e as Error).message})`);
  }
  if (text !== undefined) {
    const doc = parseDoc(text, 'mesh config', meshConfigPath);
    const defaults = doc === null || doc === undefined ? undefined : field(doc, 'defaultConfig');
    if (defaults !== undefined && defaults !== null)
      mesh = proxyConfigOf(defaults, 'mesh config', `${meshConfigPath} defaultConfig`);
  }
  const envText = str(env, 'PROXY_CONFIG');
  let fromEnv: ProxyConfigFields | undefined;
  if (envText !== undefined) {
    const doc = parseDoc(envText, 'PROXY_CONFIG', envText);
    if (doc !== null && doc !== undefined) fromEnv = proxyConfigOf(doc, 'PROXY_CONFIG', envText);
  }
  // PROXY_CONFIG wins field by field; metadata maps are merged key by key.
  const pc: ProxyConfigFields = { proxyMetadata: {} };
  for (const layer of [mesh, fromEnv]) {
    if (!layer) continue;
    if (layer.discoveryAddress !== undefined) pc.discoveryAddress = layer.discoveryAddress;
    if (layer.proxyAdminPort !== undefined) pc.proxyAdminPort = layer.proxyAdminPort;
    if (layer.statsPort !== undefined) pc.statsPort = layer.statsPort;
    if (layer.concurrency !== undefined) pc.concurrency = layer.concurrency;
    Object.assign(pc.proxyMetadata, layer.proxyMetadata);
  }
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(pc.proxyMetadata))
    metadata[k.startsWith(META_PREFIX) ? k.slice(META_PREFIX.length) : k] = v;
  // The pod's own ISTIO_META_* variables have the last word.
  Object.assign(metadata, withPrefix(env, META_PREFIX));
  pc.proxyMetadata = metadata;
  return pc;
}

function parseDoc(text: string, variable: string, shown: string): unknown {
  try {
    return parseYaml(text);
  } catch (e) {
    throw new ConfigError(variable, shown, `YAML or JSON (${(e as Error).message.split('\n')[0]})`);
  }
}

function field(doc: unknown, name: string): unknown {
  return doc !== null && typeof doc === 'object' && !Array.isArray(doc)
    ? (doc as Record<string, unknown>)[name]
    : undefined;
}

/** The fields upstream reads from one ProxyConfig object; wrong types are refused, as serde does. */
function proxyConfigOf(doc: unknown, variable: string, shown: string): ProxyConfigFields {
  const bad = (what: string): never => {
    throw new ConfigError(variable, shown, what);
  };
  if (typeof doc !== 'object' || Array.isArray(doc) || doc === null) bad('a ProxyConfig mapping');
  const o = doc as Record<string, unknown>;
  const port = (name: string, max: number): number | undefined => {
    const v = o[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
      bad(`${name} to be an integer in [0, ${max}]`);
    return v as number;
  };
  const out: ProxyConfigFields = { proxyMetadata: {} };
  const da = o['discoveryAddress'];
  if (da !== undefined && da !== null) {
    if (typeof da !== 'string') bad('discoveryAddress to be a string');
    out.discoveryAddress = da as string;
  }
  const admin = port('proxyAdminPort', 65_535);
  if (admin !== undefined) out.proxyAdminPort = admin;
  const stats = port('statsPort', 65_535);
  if (stats !== undefined) out.statsPort = stats;
  const concurrency = port('concurrency', 65_535);
  if (concurrency !== undefined) out.concurrency = concurrency;
  const md = o['proxyMetadata'];
  if (md !== undefined && md !== null) {
    if (typeof md !== 'object' || Array.isArray(md)) bad('proxyMetadata to be a mapping of strings');
    for (const [k, v] of Object.entries(md as Record<string, unknown>)) {
      if (typeof v !== 'string') bad(`proxyMetadata.${k} to be a string (quote it)`);
      out.proxyMetadata[k] = v as string;
    }
  }
  return out;
}

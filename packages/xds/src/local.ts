import { readFileSync } from 'node:fs';
import { DEFAULT_CLUSTER_ID, DEFAULT_SERVICE_ACCOUNT, DEFAULT_TRUST_DOMAIN } from './decode.ts';
import { LocalConfigError } from './errors.ts';
import { canonicalIp, maxPrefix } from './ip.ts';
import { joinPath as join, parseLocalYaml, Tagged } from './local-yaml.ts';
import type {
  Authorization,
  Cidr,
  GatewayAddress,
  LoadBalancer,
  Match,
  NetworkAddress,
  Service,
  StateSnapshot,
  StringMatch,
  Workload,
} from './types.ts';

// Upstream ztunnel's local config (LOCAL_XDS_PATH / LOCAL_XDS): YAML with `workloads`, `services` and
// `policies`, camelCase keys, unknown keys refused, as upstream's serde structs read it through
// serde_yaml 0.9: a string matcher is a tag (`!Exact "a"`, `!Prefix`, `!Suffix`, `!Presence []`), any
// other enum its bare variant name (`Allow`) or that name as a tag without a value (`!Allow`). Errors
// cite the key path and the line.

export interface LocalConfigSource {
  /** LOCAL_XDS_PATH */
  path?: string;
  /** LOCAL_XDS (inline YAML) */
  inline?: string;
}

type Obj = Record<string, unknown>;

const STRING_MATCH_TAGS = ['Exact', 'Prefix', 'Suffix', 'Presence'] as const;

/** serde_yaml's "no value": an empty plain scalar, or a plain null spelling. */
const isUnitContent = (t: Tagged) =>
  t.content.kind === 'scalar' && t.content.plain && /^(|~|null|Null|NULL)$/.test(t.content.text);

/** The YAML text of a mapping used where upstream wants a tag, for the error message. */
function mappingForm(o: Obj): string {
  const [k, v] = Object.entries(o)[0] ?? ['', ''];
  return `{${k}: ${JSON.stringify(v) ?? ''}}`;
}

class Reader {
  readonly #lines = new Map<string, number>();
  readonly source: string;
  constructor(source: string, lines: Map<string, number>) {
    this.source = source;
    this.#lines = lines;
  }
  fail(path: string, why: string): never {
    throw new LocalConfigError(this.source, why, { key: path, line: this.#lineOf(path) });
  }
  /** The line of `path`, or of its nearest parent when the key itself is missing. */
  #lineOf(path: string): number | undefined {
    for (let p = path; p; p = p.replace(/(\.[^.[\]]+|\[\d+\])$/, '')) {
      const line = this.#lines.get(p);
      if (line !== undefined) return line;
      if (!/(\.[^.[\]]+|\[\d+\])$/.test(p)) break;
    }
    return undefined;
  }
  /** A tag where upstream reads no enum: serde_yaml would drop it silently; zt says so. */
  untagged(v: unknown, path: string, what: string): void {
    if (v instanceof Tagged)
      this.fail(path || '(top level)', `expected ${what}, got the tag ${v}; tags only name enum variants`);
  }
  obj(v: unknown, path: string, allowed: readonly string[]): Obj {
    this.untagged(v, path, 'a mapping');
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      this.fail(path || '(top level)', 'expected a mapping');
    for (const k of Object.keys(v)) {
      if (!allowed.includes(k))
        this.fail(join(path, k), `unknown field "${k}" (known: ${allowed.join(', ')})`);
    }
    return v as Obj;
  }
  list(v: unknown, path: string): unknown[] {
    this.untagged(v, path, 'a list');
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(path, 'expected a list');
    return v;
  }
  str(v: unknown, path: string, fallback?: string): string {
    this.untagged(v, path, 'a string');
    if (v === undefined || v === null) {
      if (fallback === undefined) this.fail(path, 'required string is missing');
      return fallback;
    }
    if (typeof v !== 'string') this.fail(path, `expected a string, got ${JSON.stringify(v)}`);
    return v;
  }
  bool(v: unknown, path: string): boolean {
    this.untagged(v, path, 'true or false');
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') this.fail(path, `expected true or false, got ${JSON.stringify(v)}`);
    return v;
  }
  int(v: unknown, path: string, max: number): number {
    this.untagged(v, path, 'an integer');
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > max) {
      this.fail(path, `expected an integer 0..${max}, got ${JSON.stringify(v)}`);
    }
    return n;
  }
  /**
   * A unit enum variant, as serde_yaml reads one: its bare name (`Allow`), or the name as a tag with
   * no value (`!Allow`). A single-key mapping (`{Allow: ~}`) is refused, as upstream refuses it.
   */
  oneOf<const T extends string>(v: unknown, path: string, values: readonly T[], fallback?: T): T {
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    const expected = `expected one of ${values.join(', ')}`;
    if (v instanceof Tagged) {
      if (!values.includes(v.tag as T)) this.fail(path, `${expected}, got the tag ${v}`);
      if (!isUnitContent(v)) this.fail(path, `${expected}: the tag !${v.tag} takes no value, got ${v}`);
      return v.tag as T;
    }
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      this.fail(path, `${expected} as a plain name, got the mapping ${mappingForm(v as Obj)}`);
    }
    if (typeof v !== 'string' || !values.includes(v as T)) {
      this.fail(path, `${expected}, got ${JSON.stringify(v)}`);
    }
    return v as T;
  }
  ip(v: unknown, path: string): string {
    this.untagged(v, path, 'an IP address');
    const c = typeof v === 'string' ? canonicalIp(v) : undefined;
    if (c === undefined) this.fail(path, `expected an IP address, got ${JSON.stringify(v)}`);
    return c;
  }
  /** `network/ip`, network possibly empty. */
  networkAddress(v: unknown, path: string): NetworkAddress {
    const s = this.str(v, path);
    const i = s.indexOf('/');
    if (i < 0) this.fail(path, `expected network/IP (e.g. "/10.0.0.1"), got "${s}"`);
    return { network: s.slice(0, i), address: this.ip(s.slice(i + 1), path) };
  }
  cidr(v: unknown, path: string): Cidr {
    const s = this.str(v, path);
    const [ip, len] = s.split('/');
    const address = this.ip(ip, path);
    const length = len === undefined ? maxPrefix(address) : Number(len);
    if (!Number.isInteger(length) || length < 0 || length > maxPrefix(address)) {
      this.fail(path, `bad prefix length in "${s}"`);
    }
    return { address, length };
  }
  ports(v: unknown, path: string): Record<number, number> {
    const o = v === undefined || v === null ? {} : this.obj(v, path, Object.keys(v as Obj));
    const out: Record<number, number> = {};
    for (const [k, tp] of Object.entries(o))
      out[this.int(k, `${path}.${k}`, 65535)] = this.int(tp, `${path}.${k}`, 65535);
    return out;
  }
  gateway(v: unknown, path: string): GatewayAddress | undefined {
    if (v === undefined || v === null) return undefined;
    const o = this.obj(v, path, ['destination', 'hboneMtlsPort']);
    const dest = this.str(o.destination, `${path}.destination`);
    const hboneMtlsPort = this.int(o.hboneMtlsPort ?? 15008, `${path}.hboneMtlsPort`, 65535);
    const i = dest.indexOf('/');
    if (i < 0) this.fail(`${path}.destination`, `expected network/IP or namespace/hostname, got "${dest}"`);
    const ip = canonicalIp(dest.slice(i + 1));
    return ip !== undefined
      ? { destination: { kind: 'address', network: dest.slice(0, i), address: ip }, hboneMtlsPort }
      : {
          destination: { kind: 'hostname', namespace: dest.slice(0, i), hostname: dest.slice(i + 1) },
          hboneMtlsPort,
        };
  }
}

const WORKLOAD_KEYS = [
  'workloadIps',
  'waypoint',
  'networkGateway',
  'protocol',
  'networkMode',
  'uid',
  'name',
  'namespace',
  'trustDomain',
  'serviceAccount',
  'network',
  'workloadName',
  'workloadType',
  'canonicalName',
  'canonicalRevision',
  'hostname',
  'node',
  'nativeTunnel',
  'applicationTunnel',
  'authorizationPolicies',
  'status',
  'clusterId',
  'locality',
  'services',
  'capacity',
] as const;

function workload(r: Reader, v: unknown, p: string): Workload {
  const o = r.obj(v, p, WORKLOAD_KEYS);
  const namespace = r.str(o.namespace, `${p}.namespace`);
  const name = r.str(o.name, `${p}.name`, '');
  const clusterId = r.str(o.clusterId, `${p}.clusterId`, '') || DEFAULT_CLUSTER_ID;
  const services: Record<string, Record<number, number>> = {};
  if (o.services !== undefined && o.services !== null) {
    const s = r.obj(o.services, `${p}.services`, Object.keys(o.services as Obj));
    for (const [key, ports] of Object.entries(s)) {
      if (!key.includes('/'))
        r.fail(`${p}.services.${key}`, `service key "${key}" is not namespace/hostname`);
      services[key] = r.ports(ports, `${p}.services.${key}`);
    }
  }
  const w: Workload = {
    uid: r.str(o.uid, `${p}.uid`, '') || `${clusterId}//v1/Pod/${namespace}/${name}`,
    name,
    namespace,
    workloadIps: r.list(o.workloadIps, `${p}.workloadIps`).map((ip, i) => r.ip(ip, `${p}.workloadIps[${i}]`)),
    hostname: r.str(o.hostname, `${p}.hostname`, ''),
    network: r.str(o.network, `${p}.network`, ''),
    protocol: r.oneOf(o.protocol, `${p}.protocol`, ['TCP', 'HBONE'], 'TCP'),
    trustDomain: r.str(o.trustDomain, `${p}.trustDomain`, '') || DEFAULT_TRUST_DOMAIN,
    serviceAccount: r.str(o.serviceAccount, `${p}.serviceAccount`, '') || DEFAULT_SERVICE_ACCOUNT,
    node: r.str(o.node, `${p}.node`, ''),
    canonicalName: r.str(o.canonicalName, `${p}.canonicalName`, ''),
    canonicalRevision: r.str(o.canonicalRevision, `${p}.canonicalRevision`, ''),
    workloadType: r.oneOf(
      o.workloadType,
      `${p}.workloadType`,
      ['deployment', 'cronjob', 'pod', 'job'],
      'deployment',
    ),
    workloadName: r.str(o.workloadName, `${p}.workloadName`, ''),
    clusterId,
    status: r.oneOf(o.status, `${p}.status`, ['Healthy', 'Unhealthy'], 'Healthy'),
    services,
    authorizationPolicies: r
      .list(o.authorizationPolicies, `${p}.authorizationPolicies`)
      .map((s, i) => r.str(s, `${p}.authorizationPolicies[${i}]`)),
    networkMode: r.oneOf(o.networkMode, `${p}.networkMode`, ['Standard', 'HostNetwork'], 'Standard'),
    capacity: o.capacity === undefined ? 1 : r.int(o.capacity, `${p}.capacity`, 2 ** 32 - 1),
  };
  const waypoint = r.gateway(o.waypoint, `${p}.waypoint`);
  if (waypoint) w.waypoint = waypoint;
  const gw = r.gateway(o.networkGateway, `${p}.networkGateway`);
  if (gw) w.networkGateway = gw;
  if (o.locality !== undefined && o.locality !== null) {
    // As upstream's Locality: all three keys are required (an empty string is a value).
    const l = r.obj(o.locality, `${p}.locality`, ['region', 'zone', 'subzone']);
    w.locality = {
      region: r.str(l.region, `${p}.locality.region`),
      zone: r.str(l.zone, `${p}.locality.zone`),
      subzone: r.str(l.subzone, `${p}.locality.subzone`),
    };
  }
  if (r.bool(o.nativeTunnel, `${p}.nativeTunnel`)) w.nativeTunnel = true;
  if (o.applicationTunnel !== undefined && o.applicationTunnel !== null) {
    const a = r.obj(o.applicationTunnel, `${p}.applicationTunnel`, ['protocol', 'port']);
    w.applicationTunnel = {
      protocol: r.oneOf(a.protocol, `${p}.applicationTunnel.protocol`, ['NONE', 'PROXY']),
    };
    if (a.port !== undefined && a.port !== null)
      w.applicationTunnel.port = r.int(a.port, `${p}.applicationTunnel.port`, 65535);
  }
  return w;
}

const SERVICE_KEYS = [
  'name',
  'namespace',
  'hostname',
  'vips',
  'cidrVips',
  'ports',
  'endpoints',
  'subjectAltNames',
  'waypoint',
  'weightedWaypoints',
  'loadBalancer',
  'ipFamilies',
  'canonical',
  'visibility',
] as const;

function service(r: Reader, v: unknown, p: string): Service {
  const o = r.obj(v, p, SERVICE_KEYS);
  const s: Service = {
    name: r.str(o.name, `${p}.name`),
    namespace: r.str(o.namespace, `${p}.namespace`),
    hostname: r.str(o.hostname, `${p}.hostname`),
    vips: r.list(o.vips, `${p}.vips`).map((x, i) => r.networkAddress(x, `${p}.vips[${i}]`)),
    ports: Object.entries(r.ports(o.ports, `${p}.ports`)).map(([sp, tp]) => ({
      servicePort: Number(sp),
      targetPort: tp,
    })),
    subjectAltNames: r
      .list(o.subjectAltNames, `${p}.subjectAltNames`)
      .map((x, i) => r.str(x, `${p}.subjectAltNames[${i}]`)),
  };
  const cidrVips = r.list(o.cidrVips, `${p}.cidrVips`).map((x, i) => {
    const c = r.obj(x, `${p}.cidrVips[${i}]`, ['network', 'cidr']);
    return {
      network: r.str(c.network, `${p}.cidrVips[${i}].network`, ''),
      ...r.cidr(c.cidr, `${p}.cidrVips[${i}].cidr`),
    };
  });
  if (cidrVips.length) s.cidrVips = cidrVips;
  const waypoint = r.gateway(o.waypoint, `${p}.waypoint`);
  if (waypoint) s.waypoint = waypoint;
  if (r.bool(o.canonical, `${p}.canonical`)) s.canonical = true;
  if (o.ipFamilies !== undefined && o.ipFamilies !== null) {
    s.ipFamilies = r.oneOf(o.ipFamilies, `${p}.ipFamilies`, ['IPv4', 'IPv6', 'Dual']);
  }
  if (o.loadBalancer !== undefined && o.loadBalancer !== null) {
    // As upstream's LoadBalancer: routingPreferences, mode and healthPolicy are all required.
    const lbPath = `${p}.loadBalancer`;
    const lb = r.obj(o.loadBalancer, lbPath, ['routingPreferences', 'mode', 'healthPolicy']);
    for (const k of ['routingPreferences', 'mode', 'healthPolicy']) {
      if (lb[k] === undefined || lb[k] === null)
        r.fail(`${lbPath}.${k}`, `required field "${k}" is missing (upstream requires it)`);
    }
    const scopes = ['Region', 'Zone', 'Subzone', 'Node', 'Cluster', 'Network'] as const;
    const out: LoadBalancer = {
      routingPreferences: r
        .list(lb.routingPreferences, `${lbPath}.routingPreferences`)
        .map((x, i) => r.oneOf(x, `${lbPath}.routingPreferences[${i}]`, scopes)),
      mode: r.oneOf(lb.mode, `${lbPath}.mode`, ['Standard', 'Strict', 'Failover', 'Passthrough']),
      healthPolicy: r.oneOf(lb.healthPolicy, `${lbPath}.healthPolicy`, ['OnlyHealthy', 'AllowAll']),
    };
    s.loadBalancer = out;
  }
  if (o.visibility !== undefined && o.visibility !== null) {
    const v = r.oneOf(o.visibility, `${p}.visibility`, ['Public', 'Namespace']);
    if (v === 'Namespace') s.visibility = v;
  }
  return s;
}

const MATCH_KEYS = [
  'namespaces',
  'notNamespaces',
  'serviceAccounts',
  'notServiceAccounts',
  'principals',
  'notPrincipals',
  'sourceIps',
  'notSourceIps',
  'destinationIps',
  'notDestinationIps',
  'destinationPorts',
  'notDestinationPorts',
] as const;

/**
 * upstream's StringMatch, as serde_yaml 0.9 reads it: `!Exact "v"`, `!Prefix "v"`, `!Suffix "v"` (a
 * scalar value), `!Presence []` or `!Presence` (no value).
 */
function stringMatch(r: Reader, v: unknown, p: string): StringMatch {
  const forms = '!Exact "value", !Prefix "value", !Suffix "value" or !Presence []';
  if (!(v instanceof Tagged)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const [k, x] = Object.entries(v as Obj)[0] ?? [];
      const hint =
        k && (STRING_MATCH_TAGS as readonly string[]).includes(k)
          ? k === 'Presence'
            ? '; write !Presence []'
            : `; write !${k} ${JSON.stringify(typeof x === 'string' ? x : String(x))}`
          : '';
      r.fail(
        p,
        `a string matcher is a tag, ${forms} (upstream's form); got the mapping ${mappingForm(v as Obj)}${hint}`,
      );
    }
    r.fail(p, `a string matcher is a tag, ${forms}; got ${JSON.stringify(v)}`);
  }
  const c = v.content;
  switch (v.tag) {
    case 'Exact':
    case 'Prefix':
    case 'Suffix':
      if (c.kind !== 'scalar') r.fail(p, `!${v.tag} takes a string, got ${v}`);
      return { kind: v.tag.toLowerCase() as 'exact' | 'prefix' | 'suffix', value: c.text };
    case 'Presence':
      if ((c.kind === 'scalar' && c.plain && c.text === '') || (c.kind === 'seq' && c.length === 0))
        return { kind: 'presence' };
      r.fail(p, `!Presence takes no value (write !Presence []), got ${v}`);
      break;
  }
  return r.fail(p, `a string matcher is ${forms}; got the tag ${v}`);
}

function match(r: Reader, v: unknown, p: string): Match {
  // Upstream would skip an unknown key here; refusing it keeps a typo from silently widening a policy.
  const o = r.obj(v, p, MATCH_KEYS);
  const sm = (k: keyof typeof o) =>
    r.list(o[k], `${p}.${k}`).map((x, i) => stringMatch(r, x, `${p}.${k}[${i}]`));
  const ci = (k: keyof typeof o) => r.list(o[k], `${p}.${k}`).map((x, i) => r.cidr(x, `${p}.${k}[${i}]`));
  const pt = (k: keyof typeof o) =>
    r.list(o[k], `${p}.${k}`).map((x, i) => r.int(x, `${p}.${k}[${i}]`, 65535));
  const sa = (k: keyof typeof o) =>
    r.list(o[k], `${p}.${k}`).map((x, i) => {
      const m = r.obj(x, `${p}.${k}[${i}]`, ['namespace', 'serviceAccount']);
      return {
        namespace: r.str(m.namespace, `${p}.${k}[${i}].namespace`),
        serviceAccount: r.str(m.serviceAccount, `${p}.${k}[${i}].serviceAccount`),
      };
    });
  return {
    namespaces: sm('namespaces'),
    notNamespaces: sm('notNamespaces'),
    principals: sm('principals'),
    notPrincipals: sm('notPrincipals'),
    sourceIps: ci('sourceIps'),
    notSourceIps: ci('notSourceIps'),
    destinationIps: ci('destinationIps'),
    notDestinationIps: ci('notDestinationIps'),
    destinationPorts: pt('destinationPorts'),
    notDestinationPorts: pt('notDestinationPorts'),
    serviceAccounts: sa('serviceAccounts'),
    notServiceAccounts: sa('notServiceAccounts'),
  };
}

function policy(r: Reader, v: unknown, p: string): Authorization {
  const o = r.obj(v, p, ['name', 'namespace', 'scope', 'action', 'rules', 'dryRun']);
  return {
    name: r.str(o.name, `${p}.name`),
    namespace: r.str(o.namespace, `${p}.namespace`),
    scope: r.oneOf(o.scope, `${p}.scope`, ['Global', 'Namespace', 'WorkloadSelector']),
    action: r.oneOf(o.action, `${p}.action`, ['Allow', 'Deny']),
    // rules: [[[match]]] = rules of clauses of matches.
    rules: r.list(o.rules, `${p}.rules`).map((rule, i) => ({
      clauses: r.list(rule, `${p}.rules[${i}]`).map((clause, j) => ({
        matches: r
          .list(clause, `${p}.rules[${i}][${j}]`)
          .map((m, k) => match(r, m, `${p}.rules[${i}][${j}][${k}]`)),
      })),
    })),
    dryRun: r.bool(o.dryRun, `${p}.dryRun`),
  };
}

/** Parse local config YAML text. `source` names it in errors (a file path or "LOCAL_XDS"). */
export function parseLocalConfig(text: string, source = 'LOCAL_XDS'): Omit<StateSnapshot, 'version'> {
  const { value, lines } = parseLocalYaml(text, source);
  const r = new Reader(source, lines);
  const top = r.obj(value, '', ['workloads', 'services', 'policies']);
  return {
    workloads: r.list(top.workloads, 'workloads').map((w, i) => workload(r, w, `workloads[${i}]`)),
    services: r.list(top.services, 'services').map((s, i) => service(r, s, `services[${i}]`)),
    policies: r.list(top.policies, 'policies').map((x, i) => policy(r, x, `policies[${i}]`)),
  };
}

/** LOCAL_XDS_PATH or LOCAL_XDS (not both) -> a snapshot at version 1. */
export function loadLocalConfig(src: LocalConfigSource): StateSnapshot {
  if (src.path && src.inline) {
    throw new LocalConfigError('LOCAL_XDS_PATH and LOCAL_XDS', 'both are set; set only one of them');
  }
  let text: string;
  let source: string;
  if (src.path) {
    source = src.path;
    try {
      text = readFileSync(src.path, 'utf8');
    } catch (e) {
      throw new LocalConfigError(source, `cannot read the file: ${(e as Error).message}`);
    }
  } else if (src.inline !== undefined) {
    source = 'LOCAL_XDS';
    text = src.inline;
  } else {
    throw new LocalConfigError('(none)', 'neither LOCAL_XDS_PATH nor LOCAL_XDS is set');
  }
  return { version: 1, ...parseLocalConfig(text, source) };
}

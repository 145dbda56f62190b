import { X509Certificate } from 'node:crypto';
import {
  configDump,
  dumpLocalConfig,
  dumpNetworkGateways,
  type NetworkGatewayDump,
  type StateSnapshot,
} from '@zt/xds';
import { type DumpPod, type WorkloadStateEntry, workloadStateOf } from './config-dump-inpod.ts';
import type { ConnectionInfo } from './connections.ts';

/** One certificate as upstream dumps it: the PEM base64-encoded, serial in decimal, RFC 3339 times. */
export interface CertDump {
  pem: string;
  serialNumber: string;
  validFrom: string;
  expirationTime: string;
}

/** One identity of the certificate manager; `state` is "Initializing", "Available" or "Unavailable: <why>". */
export interface CertsDump {
  identity: string;
  state: string;
  certChain: CertDump[];
  rootCerts: CertDump[];
}

/** Version block of the dump (upstream's BuildInfo, camelCase). */
export interface BuildInfo {
  version: string;
  gitRevision: string;
  buildProfile?: string;
  buildStatus?: string;
  istioVersion: string;
  [k: string]: unknown;
}

/**
 * Upstream's `/config_dump` shape (camelCase): the proxy state flattened (workloads sorted by UID,
 * services by hostname, policies by key), zt's `networkGateways`, then `staticConfig`, `version`, `config`, `certificates`,
 * and in in-pod mode `workloadState`. istioctl ztunnel-config reads `workloads`, `services`,
 * `policies`, `certificates` and `workloadState`.
 */
export interface ConfigDump {
  workloads: unknown[];
  services: unknown[];
  policies: unknown[];
  stagedServices?: Record<string, unknown>;
  /** zt only: each network gateway the workloads name, and what the state resolves it to. */
  networkGateways?: NetworkGatewayDump[];
  staticConfig?: unknown;
  version: BuildInfo;
  config: Record<string, unknown>;
  certificates: CertsDump[];
  workloadState?: Record<string, WorkloadStateEntry>;
  [k: string]: unknown;
}

export type ConfigDumpProvider = () => Promise<ConfigDump> | ConfigDump;

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Dump one PEM certificate (never pass a key here: only the first CERTIFICATE block is read). */
export function certDump(pem: string): CertDump {
  const cert = new X509Certificate(pem);
  const block = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(pem)?.[0] ?? '';
  return {
    pem: Buffer.from(block.endsWith('\n') ? block : `${block}\n`).toString('base64'),
    serialNumber: BigInt(`0x${cert.serialNumber}`).toString(10),
    validFrom: rfc3339(cert.validFromDate),
    expirationTime: rfc3339(cert.validToDate),
  };
}

/** What `certsDumpOf` reads of a certificate: @zt/identity's WorkloadCertificate fits. */
export interface DumpableCertificate {
  readonly identity: { toString(): string } | string;
  readonly certChain: readonly string[];
  readonly roots: readonly string[];
}

/** An "Available" identity entry; the private key, if the object has one, is never read. */
export function certsDumpOf(cert: DumpableCertificate): CertsDump {
  return {
    identity: String(cert.identity),
    state: 'Available',
    certChain: cert.certChain.map(certDump),
    rootCerts: cert.roots.map(certDump),
  };
}

/** One identity as the certificate manager lists it (@zt/identity's SecretManager.dump() fits). */
export interface ManagedCertificates {
  readonly identity: string;
  readonly state: string;
  readonly certChain: readonly { readonly pem: string }[];
  readonly rootCerts: readonly { readonly pem: string }[];
}

/** The manager's list in upstream's shape: decimal serials, base64 PEMs, whole-second times. */
export function certsDumpFrom(entries: readonly ManagedCertificates[]): CertsDump[] {
  return entries.map((e) => ({
    identity: e.identity,
    state: e.state,
    certChain: e.certChain.map((c) => certDump(c.pem)),
    rootCerts: e.rootCerts.map((c) => certDump(c.pem)),
  }));
}

/**
 * Upstream's BuildInfo with zt's values: the istio version from ISTIO_META_ISTIO_VERSION (proxy
 * metadata `ISTIO_VERSION`) as upstream reads it, Node and its OpenSSL in place of rustc and the
 * crypto crate. zt has no build stamp, so the git revision is "unknown".
 */
export function buildInfo(version: string, proxyMetadata: Readonly<Record<string, string>> = {}): BuildInfo {
  return {
    version,
    gitRevision: 'unknown',
    nodeVersion: process.version,
    // Source when run through --conditions=zt-source, as tests and the demo do.
    buildProfile: import.meta.url.endsWith('.ts') ? 'source' : 'release',
    istioVersion: proxyMetadata.ISTIO_VERSION ?? 'unknown',
    cryptoProvider: `openssl ${process.versions.openssl}`,
  };
}

/**
 * The settings in effect, for `config`. Values of `*Headers` (XDS_HEADER_*, CA_HEADER_*: they may
 * carry credentials) are redacted, and the inline local config is left out: upstream does not
 * dump it there either, `staticConfig` shows what it holds.
 */
export function settingsDump(settings: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(settings)) {
    if (k === 'localXds') continue;
    // AUTH_TOKEN given as the token itself: a credential, as upstream keeps `auth` out of its dump.
    if (k === 'authToken') {
      if (v !== undefined) out[k] = '<redacted>';
      continue;
    }
    out[k] =
      /Headers$/.test(k) && v && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v).map((h) => [h, '<redacted>']))
        : v;
  }
  return out;
}

/** Everything /config_dump shows; app.ts gathers it, buildConfigDump shapes it. */
export interface ConfigDumpInput {
  /** The workload state (StateStore.snapshot()). */
  state: StateSnapshot;
  /** The local config as loaded from LOCAL_XDS_PATH / LOCAL_XDS; undefined when istiod feeds zt. */
  localConfig?: Omit<StateSnapshot, 'version'> | undefined;
  /** SecretManager.dump(). */
  certificates: readonly ManagedCertificates[];
  /** The app's version (package.json). */
  version: string;
  /** The configuration in effect (see settingsDump); its `proxyMetadata` gives the istio version. */
  config: object & { proxyMetadata?: Readonly<Record<string, string>> };
  /**
   * In-pod mode only: the pods istio-cni handed over, this node's name, and the uids of the pods
   * whose listeners could not be bound yet (retried; @zt/inpod's ZdsClient.pendingPods()).
   */
  inpod?: { pods: readonly DumpPod[]; nodeName: string; pending?: readonly string[] } | undefined;
  /** Live connections, read only in in-pod mode (for `workloadState`). */
  connections?: () => Promise<readonly ConnectionInfo[]> | readonly ConnectionInfo[];
  /**
   * The DNS proxy's dump (@zt/dns DnsProxy.dump(), via DataPlane.dnsDump()); undefined when it is
   * off. Upstream's keys (dnsProxy, dnsProxyAddr, dnsResolverCfg, dnsResolverOpts) go into
   * `config`, where upstream's Config has them; zt's listeners, caps and in-flight counts under
   * `config.dns`.
   */
  dns?: () => Promise<DnsDumpPart | undefined> | DnsDumpPart | undefined;
}

/** What buildConfigDump reads of @zt/dns's DnsDump (structurally; the app does not import @zt/dns). */
export interface DnsDumpPart {
  dnsProxy: boolean;
  dnsProxyAddr: string[];
  dnsResolverCfg: unknown;
  dnsResolverOpts: unknown;
}

/** /config_dump in upstream's shape and key order. */
export async function buildConfigDump(input: ConfigDumpInput): Promise<ConfigDump> {
  const state = configDump(input.state);
  const dump: ConfigDump = {
    workloads: state.workloads,
    services: state.services,
    policies: state.policies,
    stagedServices: state.stagedServices,
    // zt's own key: the east-west gateways other networks' traffic leaves through. istioctl reads
    // none of it (its json.Unmarshal skips unknown keys), upstream has no such list.
    networkGateways: dumpNetworkGateways(input.state),
    staticConfig: dumpLocalConfig(input.localConfig),
    version: buildInfo(input.version, input.config.proxyMetadata),
    config: settingsDump(input.config),
    certificates: certsDumpFrom(input.certificates),
  };
  const dns = await input.dns?.();
  if (dns) {
    const { dnsProxy, dnsProxyAddr, dnsResolverCfg, dnsResolverOpts, ...rest } = dns;
    // Upstream serializes one address; zt binds each of them (both loopbacks by default).
    Object.assign(dump.config, { dnsProxy, dnsProxyAddr, dnsResolverCfg, dnsResolverOpts, dns: rest });
  } else {
    dump.config['dnsProxy'] = false;
  }
  if (input.inpod) {
    const { pods, pending = [] } = input.inpod;
    // As the app binds them: a pod's listeners are bound before its add is acked (its workload
    // may come later); a pod whose bind failed is pending until a retry binds them.
    const bound = new Set<string>();
    for (const p of pods) if (!pending.includes(p.uid)) bound.add(`${p.namespace}/${p.name}`);
    const connections = (await input.connections?.()) ?? [];
    dump.workloadState = workloadStateOf({ pods, bound, connections });
  }
  return dump;
}

const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
// "-----BEGIN" base64-encoded at the three possible alignments, as upstream base64-encodes PEMs.
const B64_BEGIN = /LS0tLS1CRUdJT|0tLS0tQkVHSU|tLS0tLUJFR0lO/;
const REDACTED = '[redacted: private key]';

function holdsPrivateKey(s: string): boolean {
  if (PRIVATE_KEY.test(s)) return true;
  if (!B64_BEGIN.test(s)) return false;
  const decoded = Buffer.from(s.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64').toString('latin1');
  return PRIVATE_KEY.test(decoded);
}

/**
 * A private key must never leave zt through the admin port, whatever a provider puts in the dump:
 * any string holding a PEM private key, plain or base64-encoded, is replaced. Returns the count.
 */
export function redactPrivateKeys(value: unknown): { value: unknown; redacted: number } {
  let redacted = 0;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      if (!holdsPrivateKey(v)) return v;
      redacted++;
      return REDACTED;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      if (ArrayBuffer.isView(v)) {
        if (!holdsPrivateKey(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1'))) return v;
        redacted++;
        return REDACTED;
      }
      // Dates, Maps with toJSON and the like: redact what JSON.stringify would write.
      const toJSON = (v as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return walk(toJSON.call(v));
      if (v instanceof Map) return walk(Object.fromEntries(v));
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x);
      return out;
    }
    return v;
  };
  return { value: walk(value), redacted };
}

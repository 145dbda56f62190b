import { X509Certificate } from 'node:crypto';

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
 * services by hostname, policies by key), then `staticConfig`, `version`, `config`, `certificates`.
 * istioctl ztunnel-config and Kiali read `workloads`, `services`, `policies` and `certificates`.
 */
export interface ConfigDump {
  workloads: unknown[];
  services: unknown[];
  policies: unknown[];
  stagedServices?: Record<string, unknown>;
  staticConfig?: unknown;
  version: BuildInfo;
  config: Record<string, unknown>;
  certificates: CertsDump[];
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

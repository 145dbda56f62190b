import { randomBytes } from 'node:crypto';
import {
  ServerCredentials as Creds,
  type Metadata,
  Server,
  type ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { csrUriSans } from '../certificate.ts';
import { LocalCa } from '../local-ca.ts';
import {
  type CertificateRequestMessage,
  type CertificateResponseMessage,
  caService,
  IMPERSONATED_IDENTITY,
} from '../service.ts';
import { x509 } from '../x509.ts';

/** How the server answers the next requests. */
export type TestCaMode =
  | { readonly mode: 'ok' }
  /** Fail every request with this gRPC status (default UNAVAILABLE). */
  | { readonly mode: 'fail'; readonly code?: status; readonly message?: string }
  /** Wait `ms`, then sign as usual. */
  | { readonly mode: 'delay'; readonly ms: number }
  /** Sign the CSR's key, but for another identity (default spiffe://<td>/ns/wrong/sa/wrong). */
  | { readonly mode: 'wrong-identity'; readonly identity?: string }
  /** Answer OK with this chain (default: a PEM block of random bytes, which is no certificate). */
  | { readonly mode: 'garbage'; readonly chain?: readonly string[] };

/** One CreateCertificate call as the server saw it. */
export interface RecordedRequest {
  /** The URI SAN of the CSR. */
  readonly identity: string | undefined;
  /** metadata.ImpersonatedIdentity, when sent. */
  readonly impersonatedIdentity: string | undefined;
  /** Request headers (gRPC metadata), lower-case names; binary headers left out. */
  readonly headers: Readonly<Record<string, string>>;
  /** validity_duration, seconds. */
  readonly ttlSeconds: number;
  readonly csr: string;
  readonly mode: TestCaMode['mode'];
}

export interface TestCaServerOptions {
  /** Serve TLS with a certificate for 127.0.0.1 and localhost signed by the CA root. Default false. */
  tls?: boolean;
  /** An existing CA to sign with (to share a root between servers); a new one otherwise. */
  ca?: LocalCa;
  trustDomain?: string;
  /** Lifetime when the request asks none (validity_duration 0). Default 24 h. */
  defaultTtlSeconds?: number;
  /** The time certificates are issued at, ms since the epoch (a ManualClock's `now`). Default Date.now. */
  now?: () => number;
}

/**
 * A real gRPC `IstioCertificateService` on 127.0.0.1 (ephemeral port) that signs CSRs under an
 * in-memory root. Tests, the demo and the bench point a CaClient at `address` and verify with
 * `rootPem`; `setMode` makes it fail, stall, or sign the wrong identity; `requests` records calls.
 */
export class TestCaServer {
  /** `http://127.0.0.1:<port>`, or `https://` with `tls`. */
  readonly address: string;
  readonly ca: LocalCa;
  /** The root that signs workload certificates and, with `tls`, the server's own certificate. */
  readonly rootPem: string;
  readonly requests: RecordedRequest[] = [];
  #mode: TestCaMode = { mode: 'ok' };
  readonly #server: Server;
  readonly #defaultTtl: number;
  readonly #now: () => number;

  private constructor(address: string, ca: LocalCa, server: Server, defaultTtl: number, now: () => number) {
    this.address = address;
    this.ca = ca;
    this.rootPem = ca.rootPem;
    this.#server = server;
    this.#defaultTtl = defaultTtl;
    this.#now = now;
  }

  static async start(options: TestCaServerOptions = {}): Promise<TestCaServer> {
    const ca = options.ca ?? (await LocalCa.create({ trustDomain: options.trustDomain }));
    let creds: ServerCredentials = Creds.createInsecure();
    if (options.tls) {
      const serving = await ca.issue(`spiffe://${ca.trustDomain}/ns/istio-system/sa/istiod`, {
        dnsNames: ['localhost', 'istiod.istio-system.svc'],
        ips: ['127.0.0.1'],
      });
      creds = Creds.createSsl(
        null,
        [
          {
            cert_chain: Buffer.from(serving.certChain.join('')),
            private_key: Buffer.from(serving.privateKey),
          },
        ],
        false,
      );
    }
    const server = new Server();
    let self: TestCaServer | undefined;
    server.addService(caService(), {
      CreateCertificate: (
        call: ServerUnaryCall<CertificateRequestMessage, CertificateResponseMessage>,
        callback: sendUnaryData<CertificateResponseMessage>,
      ) => {
        if (!self) return callback({ code: status.UNAVAILABLE, details: 'starting' });
        self.#handle(call.request, call.metadata).then(
          (res) => callback(null, res),
          (err: { code?: status; message?: string }) =>
            callback({ code: err.code ?? status.INTERNAL, details: err.message ?? String(err) }),
        );
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    self = new TestCaServer(
      `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
      ca,
      server,
      options.defaultTtlSeconds ?? 24 * 3600,
      options.now ?? Date.now,
    );
    return self;
  }

  /** Changes how the following requests are answered; a string is shorthand for `{ mode }`. */
  setMode(mode: TestCaMode | 'ok' | 'fail' | 'wrong-identity' | 'garbage'): void {
    this.#mode = typeof mode === 'string' ? ({ mode } as TestCaMode) : mode;
  }

  async close(): Promise<void> {
    this.#server.forceShutdown();
  }

  async #handle(req: CertificateRequestMessage, md: Metadata): Promise<CertificateResponseMessage> {
    const mode = this.#mode;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(md.getMap())) if (typeof v === 'string') headers[k] = v;
    let identity: string | undefined;
    try {
      identity = csrUriSans(new x509.Pkcs10CertificateRequest(req.csr))[0];
    } catch {
      // Recorded as is; signCsr below answers with the error.
    }
    const ttlSeconds = Number(req.validityDuration) || 0;
    this.requests.push({
      identity,
      impersonatedIdentity: req.metadata?.fields?.[IMPERSONATED_IDENTITY]?.stringValue,
      headers,
      ttlSeconds,
      csr: req.csr,
      mode: mode.mode,
    });
    if (mode.mode === 'fail') {
      throw { code: mode.code ?? status.UNAVAILABLE, message: mode.message ?? 'test CA told to fail' };
    }
    if (mode.mode === 'garbage') {
      const junk = `-----BEGIN CERTIFICATE-----\n${randomBytes(96).toString('base64')}\n-----END CERTIFICATE-----\n`;
      return { certChain: [...(mode.chain ?? [junk])] };
    }
    if (mode.mode === 'delay') await new Promise((r) => setTimeout(r, mode.ms));
    const uris =
      mode.mode === 'wrong-identity'
        ? [mode.identity ?? `spiffe://${this.ca.trustDomain}/ns/wrong/sa/wrong`]
        : undefined;
    let leaf: string;
    try {
      const now = this.#now();
      // From now, as istiod signs: a backdated notBefore would move the half-life refresh earlier
      // (a 20 s certificate backdated a minute is "due" at once and re-requested every second).
      leaf = await this.ca.signCsr(req.csr, {
        notBefore: new Date(now),
        notAfter: new Date(now + (ttlSeconds || this.#defaultTtl) * 1000),
        uris,
      });
    } catch (err) {
      throw { code: status.INVALID_ARGUMENT, message: (err as Error).message };
    }
    return { certChain: [leaf, this.rootPem] };
  }
}

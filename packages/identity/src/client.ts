import { readFile } from 'node:fs/promises';
import type { Client, ClientOptions, Metadata, ServiceError } from '@grpc/grpc-js';
import { defaultLogger, type Logger } from '@zt/log';
import { grpcJs as grpc } from '@zt/proto';
import { splitPem, toWorkloadCertificate, uriSans } from './certificate.ts';
import { type CsrGenerator, generateCsr } from './csr.ts';
import {
  CaConfigError,
  CaResponseError,
  CaUnavailableError,
  IdentityError,
  IdentityMismatchError,
  TokenError,
} from './errors.ts';
import type { Identity } from './identity.ts';
import { countCsr, countCsrFailure } from './metrics.ts';
import {
  type CertificateRequestMessage,
  type CertificateResponseMessage,
  CREATE_CERTIFICATE_PATH,
  caService,
  IMPERSONATED_IDENTITY,
} from './service.ts';
import type { CertificateProvider, WorkloadCertificate } from './types.ts';
import { type X509, x509 } from './x509.ts';

export interface CaClientOptions {
  /** `https://host:port` (TLS, verified with `rootCert`) or `http://host:port` (plaintext). CA_ADDRESS. */
  address: string;
  /** PEM roots that verify the CA's serving certificate (CA_ROOT_CA); system roots when absent. */
  rootCert?: string;
  /** Name to verify the CA's certificate against when it differs from the address's host. */
  altHostname?: string;
  /** File whose content is sent as `authorization: Bearer <token>`, re-read on every request (AUTH_TOKEN). */
  tokenPath?: string;
  /** The bearer token itself (AUTH_TOKEN naming no file, as upstream takes it); tokenPath wins. */
  token?: string;
  /** Sent as `clusterid` (CLUSTER_ID). */
  clusterId?: string;
  /** Extra request headers (the app maps CA_HEADER_<NAME> to them). */
  headers?: Readonly<Record<string, string>>;
  /** Requested certificate lifetime, seconds (SECRET_TTL). Default 24 h. */
  ttlSeconds?: number;
  /** Ask for the identity on a workload's behalf (metadata ImpersonatedIdentity), as a shared ztunnel does. Default true. */
  impersonate?: boolean;
  /** Further trust roots for peers, added to the root the CA returns. */
  trustRoots?: readonly string[];
  /** Deadline of one CreateCertificate call. Default 10 s. */
  timeoutMs?: number;
  /** Where keys and CSRs are made; default on this thread (see CsrWorkerPool for off-thread). */
  csrGenerator?: CsrGenerator;
  logger?: Logger;
}

/** SECRET_TTL: the certificate lifetime zt asks the CA for (upstream: 24h). */
export const DEFAULT_CERT_TTL_SECONDS = 24 * 3600;

/** Client of istiod's `istio.v1.auth.IstioCertificateService/CreateCertificate`. */
export class CaClient implements CertificateProvider {
  readonly address: string;
  readonly #client: Client;
  readonly #opts: CaClientOptions;
  readonly #generate: CsrGenerator;
  readonly #log: Logger;

  constructor(options: CaClientOptions) {
    this.#opts = options;
    this.address = options.address;
    this.#generate = options.csrGenerator ?? generateCsr;
    this.#log = options.logger ?? defaultLogger('identity');
    let url: URL;
    try {
      url = new URL(options.address);
    } catch (err) {
      throw new CaConfigError(
        `CA address "${options.address}" is not a URL like https://istiod.istio-system.svc:15012`,
        {
          cause: err,
        },
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new CaConfigError(`CA address "${options.address}" must start with https:// or http://`);
    }
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    const target = `${url.hostname}:${port}`;
    // The SecretManager paces retries per identity. The channel's own reconnect backoff (grpc-js:
    // 1 s growing to 120 s) would otherwise fail every call fast for seconds to minutes after the
    // CA is back, and hold certificates unavailable that long after an outage.
    const channelOptions: ClientOptions = {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    };
    const { credentials } = grpc();
    let creds = credentials.createInsecure();
    if (url.protocol === 'https:') {
      if (options.rootCert !== undefined && splitPem(options.rootCert).length === 0) {
        throw new CaConfigError('CA_ROOT_CA holds no PEM certificate');
      }
      creds = credentials.createSsl(options.rootCert ? Buffer.from(options.rootCert) : null);
      if (options.altHostname) {
        channelOptions['grpc.ssl_target_name_override'] = options.altHostname;
        channelOptions['grpc.default_authority'] = options.altHostname;
      }
    }
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (
        !/^[a-z0-9._-]+$/i.test(name) ||
        name.toLowerCase().endsWith('-bin') ||
        /[^\x20-\x7e]/.test(value)
      ) {
        throw new CaConfigError(`header "${name}" is not a valid ASCII gRPC metadata header (CA_HEADER_*)`);
      }
    }
    if (
      options.ttlSeconds !== undefined &&
      !(Number.isInteger(options.ttlSeconds) && options.ttlSeconds > 0)
    ) {
      throw new CaConfigError(
        `SECRET_TTL must be a positive whole number of seconds, got ${options.ttlSeconds}`,
      );
    }
    this.#client = new (grpc().Client)(target, creds, channelOptions);
  }

  /** Makes a key and CSR for `identity`, has the CA sign it, and checks what comes back. */
  async fetchCertificate(identity: Identity): Promise<WorkloadCertificate> {
    countCsr();
    try {
      return await this.#fetch(identity);
    } catch (err) {
      const code = err instanceof IdentityError ? err.code : 'ERR_ZT_CA_UNKNOWN';
      countCsrFailure(code);
      this.#log.warn(
        { identity: identity.toString(), code, err: (err as Error).message },
        'certificate request failed',
      );
      throw err;
    }
  }

  async #fetch(identity: Identity): Promise<WorkloadCertificate> {
    const id = identity.toString();
    const [metadata, csr] = await Promise.all([this.#metadata(), this.#generate(identity)]);
    const request: CertificateRequestMessage = {
      csr: csr.csrPem,
      validityDuration: String(this.#opts.ttlSeconds ?? DEFAULT_CERT_TTL_SECONDS),
      metadata:
        this.#opts.impersonate === false
          ? null
          : { fields: { [IMPERSONATED_IDENTITY]: { stringValue: id } } },
    };
    const response = await this.#call(id, request, metadata);
    const chain = response.certChain.flatMap(splitPem);
    if (chain.length === 0)
      throw new CaResponseError('ERR_ZT_CA_EMPTY_RESPONSE', id, 'empty certificate chain');
    let leaf: X509.X509Certificate;
    try {
      leaf = new x509.X509Certificate(chain[0] as string);
    } catch (err) {
      throw new CaResponseError(
        'ERR_ZT_CA_BAD_CERTIFICATE',
        id,
        `leaf does not parse (${(err as Error).message})`,
      );
    }
    const sans = uriSans(leaf);
    if (!sans.includes(id)) throw new IdentityMismatchError(id, sans);
    if (!Buffer.from(leaf.publicKey.rawData).equals(csr.publicKeySpki)) {
      throw new CaResponseError(
        'ERR_ZT_CA_BAD_CERTIFICATE',
        id,
        'the certificate is not for the key of the CSR',
      );
    }
    if (leaf.notAfter.getTime() <= Date.now()) {
      throw new CaResponseError(
        'ERR_ZT_CA_BAD_CERTIFICATE',
        id,
        `the certificate expired at ${leaf.notAfter.toISOString()}`,
      );
    }
    if (chain.length === 1) this.#log.warn({ identity: id }, 'CA returned no root with the certificate');
    this.#log.debug(
      { identity: id, serial: leaf.serialNumber, notAfter: leaf.notAfter },
      'certificate issued',
    );
    return toWorkloadCertificate(identity, chain, csr.privateKeyPem, this.#opts.trustRoots);
  }

  async #metadata(): Promise<Metadata> {
    const md = new (grpc().Metadata)();
    const { tokenPath, clusterId, headers } = this.#opts;
    if (tokenPath || this.#opts.token) {
      let token = this.#opts.token ?? '';
      if (tokenPath) {
        try {
          token = (await readFile(tokenPath, 'utf8')).trim();
        } catch (err) {
          throw new TokenError(tokenPath, (err as NodeJS.ErrnoException).code ?? (err as Error).message, {
            cause: err,
          });
        }
        if (token.length === 0) throw new TokenError(tokenPath, 'the file is empty');
      }
      md.set('authorization', `Bearer ${token}`);
      // As upstream: the cluster id goes with the token, never alone.
      if (clusterId) md.set('clusterid', clusterId);
    }
    for (const [name, value] of Object.entries(headers ?? {})) md.set(name.toLowerCase(), value);
    return md;
  }

  #call(
    id: string,
    request: CertificateRequestMessage,
    metadata: Metadata,
  ): Promise<CertificateResponseMessage> {
    const method = caService().CreateCertificate;
    const deadline = Date.now() + (this.#opts.timeoutMs ?? 10_000);
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        CREATE_CERTIFICATE_PATH,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        { deadline },
        (err: ServiceError | null, value?: CertificateResponseMessage) => {
          if (err)
            reject(
              new CaUnavailableError(this.address, `${grpc().status[err.code]}: ${err.details}`, err.code, {
                cause: err,
              }),
            );
          else if (!value) reject(new CaResponseError('ERR_ZT_CA_EMPTY_RESPONSE', id, 'no response message'));
          else resolve(value);
        },
      );
    });
  }

  close(): void {
    this.#client.close();
  }
}

import { DEFAULT_CERT_TTL_SECONDS } from './client.ts';
import type { Identity } from './identity.ts';
import { LocalCa } from './local-ca.ts';
import type { CertificateProvider, WorkloadCertificate } from './types.ts';

// The FAKE_CA root. Its private key is published here on purpose, as upstream's test CA is, so
// that every zt running with FAKE_CA=true trusts every other one; it secures nothing.
const FAKE_ROOT_KEY = `
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg0j8IdE6IFgntR3dg
VRnY7GQwNFi9JRrza1WY3Zwi3xShRANCAATiMnZruDmKJBPalL59V9FvAV8poiun
t++W2CVVgHnHWNTl3IoZuuxHDKoUvEThgcRhDHXJossjflLflOMFTmcm
-----END PRIVATE KEY-----
`;

const FAKE_ROOT_CERT = `
-----BEGIN CERTIFICATE-----
MIIB1DCCAXmgAwIBAgIBATAKBggqhkjOPQQDAjBQMRYwFAYDVQQKEw1jbHVzdGVy
LmxvY2FsMTYwNAYDVQQDDC16dCBGQUtFX0NBIHJvb3QgKGluc2VjdXJlOiBpdHMg
a2V5IGlzIHB1YmxpYykwIBcNMjQwMTAxMDAwMDAwWhgPMjEyNDAxMDEwMDAwMDBa
MFAxFjAUBgNVBAoTDWNsdXN0ZXIubG9jYWwxNjA0BgNVBAMMLXp0IEZBS0VfQ0Eg
cm9vdCAoaW5zZWN1cmU6IGl0cyBrZXkgaXMgcHVibGljKTBZMBMGByqGSM49AgEG
CCqGSM49AwEHA0IABOIydmu4OYokE9qUvn1X0W8BXymiK6e375bYJVWAecdY1OXc
ihm67EcMqhS8ROGBxGEMdcmiyyN+Ut+U4wVOZyajQjBAMA8GA1UdEwEB/wQFMAMB
Af8wDgYDVR0PAQH/BAQDAgEGMB0GA1UdDgQWBBRPHPlQ5Xs4dVLGficwuafHFmrf
AzAKBggqhkjOPQQDAgNJADBGAiEA9/ssI8wSMGPBC2PgU7SMSJZYoezTtdpfi5VS
8rbX438CIQCF0W+eBIr5/XqRVz2Ds33OmEBe7DTDB+uQihLE8Vfi1Q==
-----END CERTIFICATE-----
`;

export interface FakeCaOptions {
  /** Certificate lifetime, seconds. Default 24 h, as upstream's fake CA. */
  ttlSeconds?: number;
  /** Sign with this CA instead of the shared FAKE_CA root. */
  ca?: LocalCa;
}

/**
 * `FAKE_CA=true`: certificates minted locally, without istiod, signed by a root every fake-CA zt
 * shares. For demos and tests only; anyone can mint certificates under that root.
 */
export class FakeCaProvider implements CertificateProvider {
  readonly ca: LocalCa;
  readonly #ttlMs: number;

  private constructor(ca: LocalCa, ttlMs: number) {
    this.ca = ca;
    this.#ttlMs = ttlMs;
  }

  static async create(options: FakeCaOptions = {}): Promise<FakeCaProvider> {
    const ca = options.ca ?? (await LocalCa.load({ certPem: FAKE_ROOT_CERT, keyPem: FAKE_ROOT_KEY }));
    return new FakeCaProvider(ca, (options.ttlSeconds ?? DEFAULT_CERT_TTL_SECONDS) * 1000);
  }

  /** The root peers verify fake certificates with. */
  get rootPem(): string {
    return this.ca.rootPem;
  }

  fetchCertificate(identity: Identity): Promise<WorkloadCertificate> {
    return this.ca.issue(identity, { ttlMs: this.#ttlMs });
  }
}

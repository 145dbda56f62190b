// When zt fetches a workload certificate before the first connection needs it: upstream's policy
// (cert_fetcher.rs and the workload store's removal rule), kept out of the wiring.
import { errorMessage } from '@zt/errors';
import { Identity, workloadIdentity } from '@zt/identity';
import type { Logger } from '@zt/log';
import type { StateSnapshot, Workload } from '@zt/xds';

/** What prefetching needs of the SecretManager. */
export interface CertCache {
  fetchCertificate(identity: Identity, priority: 'prefetch'): Promise<unknown>;
  forget(identity: Identity): void;
}

/**
 * Upstream fetches ahead only for a workload of this node that speaks HBONE (as its protocol or a
 * native tunnel): a plain-TCP workload probably never needs a certificate. Being wrong costs the
 * first connection the fetch, no more.
 */
export function shouldPrefetch(w: Workload, nodeName: string): boolean {
  return nodeName !== '' && w.node === nodeName && (w.protocol === 'HBONE' || w.nativeTunnel === true);
}

export interface CertPrefetchOptions {
  /** NODE_NAME; unset (''), nothing is prefetched, as upstream. */
  nodeName: string;
  /** TRUST_DOMAIN, for workloads that name none. */
  trustDomain: string;
  certs: CertCache;
  logger: Logger;
}

/**
 * Follows the workload state: fetches the certificates of this node's HBONE workloads ahead, and
 * forgets an identity once no workload of this node (of any protocol) has it any more.
 */
export class CertPrefetch {
  readonly #opts: CertPrefetchOptions;
  /** Identities of this node's workloads in the last state. */
  #local = new Map<string, Identity>();

  constructor(opts: CertPrefetchOptions) {
    this.#opts = opts;
  }

  /** Applies one state; resolves when its fetches have settled (failed ones included). */
  update(snapshot: StateSnapshot): Promise<void> {
    const { nodeName, trustDomain, certs, logger } = this.#opts;
    const local = new Map<string, Identity>();
    const wanted = new Map<string, Identity>();
    for (const w of snapshot.workloads) {
      if (nodeName === '' || w.node !== nodeName) continue;
      const uri = workloadIdentity(w, trustDomain);
      const id = local.get(uri) ?? Identity.parse(uri);
      local.set(uri, id);
      if (shouldPrefetch(w, nodeName)) wanted.set(uri, id);
    }
    for (const [uri, id] of this.#local) if (!local.has(uri)) certs.forget(id);
    this.#local = local;
    // A fetch the SecretManager already holds or runs costs nothing; one that fails is logged and
    // retried there, and the first connection of the workload asks again.
    const fetches = [...wanted.values()].map((id) =>
      certs.fetchCertificate(id, 'prefetch').then(
        () => undefined,
        (e: unknown) =>
          logger.debug(
            { identity: id.toString(), err: errorMessage(e) },
            'certificate prefetch failed; the first connection will fetch it',
          ),
      ),
    );
    return Promise.all(fetches).then(() => undefined);
  }
}

/**
 * In-pod mode: a pod the node agent hands over gets its certificate ahead too, and it is forgotten
 * when the last pod of its identity leaves (the node agent knows the pods before xDS may).
 */
export function prefetchForPods(
  pods: {
    on(event: 'identityAdded' | 'identityRemoved', listener: (identity: Identity) => void): unknown;
  },
  certs: CertCache,
  logger: Logger,
): void {
  pods.on('identityAdded', (id) => {
    certs
      .fetchCertificate(id, 'prefetch')
      .catch((e: unknown) =>
        logger.debug(
          { identity: id.toString(), err: errorMessage(e) },
          'certificate prefetch for a new pod failed; the first connection will fetch it',
        ),
      );
  });
  pods.on('identityRemoved', (id) => certs.forget(id));
}

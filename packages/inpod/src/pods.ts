// The pods istio-cni gave this zt, by uid, with their network namespaces. Applies ZDS requests with
// upstream's semantics (statemanager.rs): idempotent adds, keep and del before the snapshot, and
// reconciliation at SnapshotSent that drops what the node agent no longer has.

import { EventEmitter } from 'node:events';
import { Identity, InvalidIdentityError, workloadIdentity } from '@zt/identity';
import { defaultLogger, type Logger } from '@zt/log';
import { closeFd } from '@zt/native';
import type { WorkloadInfo, ZdsRequest } from './codec.ts';
import { PodGoneError, ZdsRequestError } from './errors.ts';
import { IdentityRefs } from './identities.ts';
import { activeProxies, proxiesStarted, proxiesStopped } from './metrics.ts';
import { netnsIdOf } from './netns.ts';

/** Why a pod went: del from the node agent, missing from a snapshot, re-added with a new netns, or zt shut down. */
export type RemoveReason = 'deleted' | 'snapshot' | 'replaced' | 'shutdown';

/** A pod on this node, captured in-pod. The same object lives as long as the pod does. */
export class Pod {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`. */
  readonly identity: Identity;
  /** `<dev>:<inode>` of the network namespace. */
  readonly netnsId: string;
  #fd: number | undefined;

  /** @internal Pods are made by PodManager. */
  constructor(uid: string, info: WorkloadInfo, identity: Identity, fd: number, netnsId: string) {
    this.uid = uid;
    this.name = info.name;
    this.namespace = info.namespace;
    this.serviceAccount = info.serviceAccount;
    this.identity = identity;
    this.netnsId = netnsId;
    this.#fd = fd;
  }

  /**
   * The pod's network namespace as an open fd (a @zt/native NetnsRef): pass it to openListener /
   * listenServer / connectSocket. Owned by the manager; closed after podRemoved, then this throws.
   */
  get netns(): number {
    if (this.#fd === undefined) throw new PodGoneError(this.uid);
    return this.#fd;
  }

  get removed(): boolean {
    return this.#fd === undefined;
  }

  /** @internal */
  closeNetns(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) closeFd(fd);
  }

  toJSON(): Record<string, string> {
    return {
      uid: this.uid,
      name: this.name,
      namespace: this.namespace,
      serviceAccount: this.serviceAccount,
      identity: this.identity.toString(),
      netnsId: this.netnsId,
    };
  }
}

export interface PodManagerEvents {
  /** A new pod: open its listeners in `pod.netns`. */
  podAdded: [pod: Pod];
  /** The pod is gone: close its listeners and connections. Its netns fd is closed right after. */
  podRemoved: [pod: Pod, reason: RemoveReason];
  /** The first pod of an identity: prefetch its certificate. */
  identityAdded: [identity: Identity];
  /** The last pod of an identity went: its certificate may be forgotten. */
  identityRemoved: [identity: Identity];
}

export interface PodManagerOptions {
  /** TRUST_DOMAIN, for the pods' SPIFFE identities (default cluster.local). */
  trustDomain?: string;
  logger?: Logger;
}

function closeAll(fds: readonly number[]): void {
  for (const fd of fds) closeFd(fd);
}

export class PodManager extends EventEmitter<PodManagerEvents> {
  readonly trustDomain: string;
  readonly #log: Logger;
  readonly #pods = new Map<string, Pod>();
  readonly #refs = new IdentityRefs();
  /** Uids added or kept on the current connection before its SnapshotSent. */
  readonly #seen = new Set<string>();
  #snapshotReceived = false;

  constructor(opts: PodManagerOptions = {}) {
    super();
    this.trustDomain = opts.trustDomain ?? 'cluster.local';
    this.#log = opts.logger ?? defaultLogger('inpod');
  }

  get(uid: string): Pod | undefined {
    return this.#pods.get(uid);
  }

  pods(): Pod[] {
    return [...this.#pods.values()];
  }

  get size(): number {
    return this.#pods.size;
  }

  /** Identities with at least one pod, and how many pods each. */
  identities(): Array<{ identity: Identity; pods: number }> {
    return this.#refs.identities().map((identity) => ({ identity, pods: this.#refs.count(identity) }));
  }

  /** Whether the current connection's SnapshotSent has been applied. */
  get snapshotReceived(): boolean {
    return this.#snapshotReceived;
  }

  /** A new connection to the node agent: a new snapshot begins. Pods stay until it ends. */
  resetSnapshot(): void {
    this.#seen.clear();
    this.#snapshotReceived = false;
  }

  /**
   * Applies one request; `fds` came with it and belong to the manager from now on (kept or closed).
   * Throws ZdsRequestError when the request is refused; the state is then unchanged. Returns the pod
   * an add created (not one it kept).
   */
  apply(req: ZdsRequest, fds: readonly number[]): Pod | undefined {
    if (req.t === 'add') return this.#add(req.uid, req.info, fds);
    // Only AddWorkload carries a namespace (upstream rejects fds elsewhere); close strays first.
    closeAll(fds);
    if (fds.length > 0 && req.t !== 'keep') {
      throw new ZdsRequestError('fd', `unexpected file descriptor with a ${req.t} request`);
    }
    switch (req.t) {
      case 'keep':
        if (this.#snapshotReceived) {
          throw new ZdsRequestError('protocol', `keep for pod ${req.uid} after the snapshot was sent`);
        }
        this.#log.info({ uid: req.uid }, 'pod keep received, it survives the snapshot');
        this.#seen.add(req.uid);
        return undefined;
      case 'del':
        this.#log.info({ uid: req.uid }, 'pod delete request, stopping its proxy');
        if (!this.#snapshotReceived) {
          // Before the snapshot ends, forgetting the uid is enough: reconciliation removes it.
          this.#seen.delete(req.uid);
          return undefined;
        }
        this.#removeUid(req.uid, 'deleted');
        return undefined;
      case 'snapshotSent':
        if (this.#snapshotReceived)
          throw new ZdsRequestError('protocol', 'a second SnapshotSent on one connection');
        this.#reconcile();
        this.#snapshotReceived = true;
        return undefined;
    }
  }

  /** Removes every pod (zt is shutting down). */
  removeAll(reason: RemoveReason = 'shutdown'): void {
    for (const pod of [...this.#pods.values()]) this.#remove(pod, reason);
  }

  #add(uid: string, info: WorkloadInfo | undefined, fds: readonly number[]): Pod | undefined {
    try {
      if (fds.length !== 1) {
        throw new ZdsRequestError(
          'fd',
          `AddWorkload for pod ${uid} came with ${fds.length} fds, expected its netns fd`,
        );
      }
      if (uid === '') throw new ZdsRequestError('protocol', 'AddWorkload without a uid');
      if (!info) throw new ZdsRequestError('protocol', `AddWorkload for pod ${uid} without workload_info`);
    } catch (e) {
      closeAll(fds);
      throw e;
    }
    const fd = fds[0] as number;
    let identity: Identity;
    let netnsId: string;
    try {
      identity = this.#identityOf(uid, info);
      netnsId = netnsIdOf(fd);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    if (!this.#snapshotReceived) this.#seen.add(uid);
    const existing = this.#pods.get(uid);
    if (existing) {
      if (existing.netnsId === netnsId) {
        // The same pod again (a snapshot after reconnecting): keep it and its connections.
        closeFd(fd);
        this.#log.debug({ uid }, 'pod already known with the same netns');
        return undefined;
      }
    }
    // Counted before the old pod is released, so a replaced pod does not drop its certificate.
    const firstOfIdentity = this.#refs.acquire(identity);
    // Same uid, new namespace: the sandbox was re-created, so the old proxy must go.
    if (existing) this.#remove(existing, 'replaced');
    const pod = new Pod(uid, info, identity, fd, netnsId);
    this.#pods.set(uid, pod);
    this.#log.info({ uid, name: info.name, namespace: info.namespace }, 'pod received, starting proxy');
    proxiesStarted.inc();
    activeProxies.set(this.#pods.size);
    if (firstOfIdentity) this.#emit('identityAdded', identity);
    this.#emit('podAdded', pod);
    return pod;
  }

  #identityOf(uid: string, info: WorkloadInfo): Identity {
    try {
      return Identity.parse(workloadIdentity(info, this.trustDomain));
    } catch (e) {
      if (!(e instanceof InvalidIdentityError)) throw e;
      throw new ZdsRequestError('identity', `pod ${uid} has no valid identity: ${e.message}`, { cause: e });
    }
  }

  #reconcile(): void {
    for (const pod of [...this.#pods.values()]) {
      if (!this.#seen.has(pod.uid)) {
        this.#log.info({ uid: pod.uid }, 'pod not in the snapshot, stopping its proxy');
        this.#remove(pod, 'snapshot');
      }
    }
    this.#seen.clear();
  }

  #removeUid(uid: string, reason: RemoveReason): void {
    const pod = this.#pods.get(uid);
    if (pod) this.#remove(pod, reason);
  }

  #remove(pod: Pod, reason: RemoveReason): void {
    this.#pods.delete(pod.uid);
    proxiesStopped.inc();
    activeProxies.set(this.#pods.size);
    this.#emit('podRemoved', pod, reason);
    pod.closeNetns();
    if (this.#refs.release(pod.identity)) this.#emit('identityRemoved', pod.identity);
  }

  // A throwing listener is the app's bug; it must not leave this state half-applied.
  #emit<K extends keyof PodManagerEvents>(event: K, ...args: PodManagerEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: PodManagerEvents[K]) => boolean)(event, ...args);
    } catch (e) {
      this.#log.error({ err: e, event }, 'inpod event listener threw');
    }
  }
}

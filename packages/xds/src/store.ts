import { EventEmitter } from 'node:events';
import { ProxyState } from './state.ts';
import type { Authorization, Service, StateSnapshot, Workload } from './types.ts';

/** One xDS response's worth of changes, applied as one step. */
export interface StateUpdate {
  workloads?: Workload[];
  services?: Service[];
  policies?: Authorization[];
  /** Address resource names: a workload uid or a service's `namespace/hostname`. */
  removedAddresses?: string[];
  /** Authorization resource names: `namespace/name`. */
  removedPolicies?: string[];
}

export interface StateStoreEvents {
  /** A new snapshot after an applied change (post it to the workers as it is). */
  change: [snapshot: StateSnapshot];
  /** The first full sync is done (readiness may turn green). */
  synced: [];
}

/**
 * The main thread's copy of the mesh state. Each `apply` is atomic: readers see the state before or
 * after a whole xDS response, never between. Snapshots are immutable; a change makes a new one.
 */
export class StateStore extends EventEmitter<StateStoreEvents> {
  #version = 0;
  readonly #workloads = new Map<string, Workload>();
  readonly #services = new Map<string, Service>();
  readonly #policies = new Map<string, Authorization>();
  #snap: StateSnapshot | undefined;
  #view: ProxyState | undefined;
  #synced = false;

  get version(): number {
    return this.#version;
  }

  get synced(): boolean {
    return this.#synced;
  }

  /** Apply one response's upserts and removals. Returns false (and emits nothing) if nothing changed. */
  apply(u: StateUpdate): boolean {
    let changed = false;
    for (const w of u.workloads ?? []) {
      this.#workloads.set(w.uid, w);
      changed = true;
    }
    for (const s of u.services ?? []) {
      this.#services.set(`${s.namespace}/${s.hostname}`, s);
      changed = true;
    }
    for (const p of u.policies ?? []) {
      this.#policies.set(`${p.namespace}/${p.name}`, p);
      changed = true;
    }
    // As upstream: a removed Address name is a workload uid, or else a service namespace/hostname.
    for (const name of u.removedAddresses ?? []) {
      if (this.#workloads.delete(name) || this.#services.delete(name)) changed = true;
    }
    for (const name of u.removedPolicies ?? []) {
      if (this.#policies.delete(name)) changed = true;
    }
    if (changed) this.#commit();
    return changed;
  }

  /** Replace everything (local config). Always a new version. */
  replace(state: Pick<StateSnapshot, 'workloads' | 'services' | 'policies'>): void {
    this.#workloads.clear();
    this.#services.clear();
    this.#policies.clear();
    for (const w of state.workloads) this.#workloads.set(w.uid, w);
    for (const s of state.services) this.#services.set(`${s.namespace}/${s.hostname}`, s);
    for (const p of state.policies) this.#policies.set(`${p.namespace}/${p.name}`, p);
    this.#commit();
  }

  #commit(): void {
    this.#version++;
    this.#view = undefined;
    this.#snap = {
      version: this.#version,
      workloads: [...this.#workloads.values()],
      services: [...this.#services.values()],
      policies: [...this.#policies.values()],
    };
    this.emit('change', this.#snap);
  }

  snapshot(): StateSnapshot {
    this.#snap ??= { version: this.#version, workloads: [], services: [], policies: [] };
    return this.#snap;
  }

  /** Indexes over the current snapshot, built on first use after each change. */
  view(): ProxyState {
    this.#view ??= new ProxyState(this.snapshot());
    return this.#view;
  }

  markSynced(): void {
    if (this.#synced) return;
    this.#synced = true;
    this.emit('synced');
  }

  /** Resolves once the first full sync is done. */
  whenSynced(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.once('synced', resolve));
  }
}

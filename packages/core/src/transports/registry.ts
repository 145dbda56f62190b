import { doubleHboneTransport } from './double-hbone.ts';
import { hboneTransport } from './hbone.ts';
import { tcpTransport } from './tcp.ts';
import type { CarriedRoute, Transport } from './transport.ts';

// The built-in transport of each route kind; a registered transport of the same name replaces it.
const BY_KIND: Record<CarriedRoute['kind'], string> = {
  tcp: 'tcp',
  passthrough: 'tcp',
  hbone: 'hbone',
  'double-hbone': 'double-hbone',
};

/**
 * The transports outbound flows choose from, by name. A route is carried by the newest claiming
 * transport that accepts it, else by the transport named after its kind. Per thread: flows run on
 * the thread whose registry they read (with worker threads, register in each worker).
 */
export class TransportRegistry {
  readonly #byName = new Map<string, Transport>();
  #claiming: readonly Transport[] = [];

  constructor(builtIns: readonly Transport[] = []) {
    for (const t of builtIns) this.#byName.set(t.name, t);
  }

  /**
   * Adds `transport`, replacing one of the same name (a built-in too). Returns a function that
   * takes it out again (a replaced one is not put back).
   */
  register(transport: Transport): () => void {
    const previous = this.#byName.get(transport.name);
    this.#byName.set(transport.name, transport);
    const claiming = this.#claiming.filter((t) => t !== previous);
    this.#claiming = transport.accepts ? [transport, ...claiming] : claiming;
    return () => {
      if (this.#byName.get(transport.name) === transport) this.#byName.delete(transport.name);
      this.#claiming = this.#claiming.filter((t) => t !== transport);
    };
  }

  get(name: string): Transport | undefined {
    return this.#byName.get(name);
  }

  names(): string[] {
    return [...this.#byName.keys()];
  }

  /** The transport for `route`; undefined when none carries its kind (a built-in was unregistered). */
  select(route: CarriedRoute): Transport | undefined {
    const claiming = this.#claiming;
    for (let i = 0; i < claiming.length; i++) {
      const t = claiming[i] as Transport;
      if (t.accepts?.(route)) return t;
    }
    return this.#byName.get(BY_KIND[route.kind]);
  }
}

/** This thread's registry, with plain TCP, HBONE and double HBONE built in. */
export const transports = new TransportRegistry([tcpTransport, hboneTransport, doubleHboneTransport]);

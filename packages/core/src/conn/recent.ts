import type { ConnectionInfo } from '../types.ts';
import type { ResponseFlag } from './labels.ts';

/** ZT_RECENT_CONNECTIONS' default: closed connections kept per data-plane thread. */
export const DEFAULT_RECENT_CONNECTIONS = 500;

/** A closed connection as the admin page lists it. Structured-clone safe. */
export interface ClosedConnection extends ConnectionInfo {
  /** Epoch ms. */
  endedAt: number;
  /** Upstream's response_flags value: `-` for a clean close, `DENY`, `CONNECT`... */
  responseFlag: ResponseFlag;
  /** Why it ended, when it ended with an error. */
  error?: string;
}

/** What one thread remembers, newest first. */
export interface RecentDump {
  closed: ClosedConnection[];
  /** Connections closed by policy (denied at open, or re-checked and closed later). */
  denials: ClosedConnection[];
  /** The ring size of this thread. */
  capacity: number;
}

// What the hot path stores: the connection's own info object (no longer written once it is closed)
// and three fields. Flattening into ClosedConnection waits until somebody asks.
interface Entry {
  readonly info: ConnectionInfo;
  readonly endedAt: number;
  readonly flag: ResponseFlag;
  readonly error: string | undefined;
}

/** A ring of the last `capacity` closed connections of one thread, and one of its last denials. */
export class RecentConnections {
  readonly capacity: number;
  readonly #closed: (Entry | undefined)[];
  readonly #denials: (Entry | undefined)[];
  #nextClosed = 0;
  #nextDenial = 0;

  constructor(capacity: number = DEFAULT_RECENT_CONNECTIONS) {
    if (!Number.isInteger(capacity) || capacity < 0)
      throw new RangeError(`recent connections capacity must be a whole number >= 0, got ${capacity}`);
    this.capacity = capacity;
    this.#closed = Array.from({ length: capacity }, () => undefined);
    this.#denials = Array.from({ length: capacity }, () => undefined);
  }

  /** Once per connection, as it closes: one object and a few field copies, nothing else. */
  record(info: ConnectionInfo, flag: ResponseFlag, err: Error | undefined): void {
    if (this.capacity === 0) return;
    const e: Entry = { info, endedAt: Date.now(), flag, error: err?.message };
    this.#closed[this.#nextClosed] = e;
    this.#nextClosed = this.#nextClosed + 1 === this.capacity ? 0 : this.#nextClosed + 1;
    if (flag === 'DENY' || info.verdict === 'deny') {
      this.#denials[this.#nextDenial] = e;
      this.#nextDenial = this.#nextDenial + 1 === this.capacity ? 0 : this.#nextDenial + 1;
    }
  }

  /** Both rings, newest first, as plain records. */
  dump(): RecentDump {
    return {
      closed: newestFirst(this.#closed, this.#nextClosed),
      denials: newestFirst(this.#denials, this.#nextDenial),
      capacity: this.capacity,
    };
  }
}

function newestFirst(ring: readonly (Entry | undefined)[], next: number): ClosedConnection[] {
  const out: ClosedConnection[] = [];
  for (let i = 1; i <= ring.length; i++) {
    const e = ring[(next - i + ring.length) % ring.length];
    if (!e) break;
    const c: ClosedConnection = {
      ...e.info,
      src: { ...e.info.src },
      dst: { ...e.info.dst },
      endedAt: e.endedAt,
      responseFlag: e.flag,
    };
    if (e.error !== undefined) c.error = e.error;
    out.push(c);
  }
  return out;
}

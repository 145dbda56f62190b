// The admin page's traffic view: live connections, the closed ones each data-plane thread
// remembers (merged, newest first), the denials among them with the rule that matched, and a
// summary per identity pair. Built on request only: nothing here runs per connection.
import type { ConnectionInfo, ConnectionsView } from './connections.ts';

/** A closed connection as a data-plane thread remembers it (@zt/core's ClosedConnection fits). */
export interface ClosedConnectionInfo extends ConnectionInfo {
  endedAt: number;
  /** Upstream's response_flags: `-` for a clean close. */
  responseFlag: string;
  error?: string | undefined;
  /** Index of the policy's rule that matched. */
  rule?: number | undefined;
}

/** One thread's memory (@zt/core's RecentDump fits). */
export interface RecentDumpInfo {
  closed: readonly ClosedConnectionInfo[];
  denials: readonly ClosedConnectionInfo[];
  capacity: number;
}

export type RecentProvider = () => Promise<readonly RecentDumpInfo[]> | readonly RecentDumpInfo[];

/** Describes rule `index` of policy `namespace/name` as it stands now (undefined when gone). */
export type RuleDescriber = (policy: string, index: number) => string | undefined;

export interface TrafficFilter {
  /** Either end's namespace (of its workload or its identity). */
  namespace?: string;
  /** A substring of either end's SPIFFE identity. */
  identity?: string;
}

/** A denial with the words for why. */
export interface DenialInfo extends ClosedConnectionInfo {
  /** `policy backend/deny-untrusted, rule 0: namespaces=untrusted`, or the default deny. */
  why: string;
}

/** What one direction between two identities did over the summary window. */
export interface PairSummary {
  direction: 'inbound' | 'outbound';
  source: string;
  destination: string;
  connections: number;
  /** Both directions of the byte stream. */
  bytes: number;
  denials: number;
  /** 99th percentile of the connections' durations (ms). */
  p99DurationMs: number;
  lastEndedAt: number;
}

/** Body of `GET /connections?recent=1`. */
export interface TrafficView extends ConnectionsView {
  recent: ClosedConnectionInfo[];
  denials: DenialInfo[];
  pairs: PairSummary[];
  /** Closed connections kept per data-plane thread (ZT_RECENT_CONNECTIONS). */
  capacity: number;
  /** The pair summary covers closed connections that ended within this window. */
  windowMs: number;
  filter: TrafficFilter;
}

export const SUMMARY_WINDOW_MS = 5 * 60_000;

export function parseFilter(url: URL): TrafficFilter {
  const f: TrafficFilter = {};
  const ns = url.searchParams.get('namespace')?.trim();
  const id = url.searchParams.get('identity')?.trim();
  if (ns) f.namespace = ns;
  if (id) f.identity = id;
  return f;
}

function namespaceOf(p: ConnectionInfo['src']): string | undefined {
  if (p.workload?.includes('/')) return p.workload.slice(0, p.workload.indexOf('/'));
  return /\/ns\/([^/]+)\//.exec(p.identity ?? '')?.[1];
}

export function matchesFilter(c: ConnectionInfo, f: TrafficFilter): boolean {
  if (f.namespace !== undefined && namespaceOf(c.src) !== f.namespace && namespaceOf(c.dst) !== f.namespace)
    return false;
  if (
    f.identity !== undefined &&
    !(c.src.identity ?? '').includes(f.identity) &&
    !(c.dst.identity ?? '').includes(f.identity)
  )
    return false;
  return true;
}

function endpoint(p: ConnectionInfo['src'], withPort: boolean): string {
  if (p.identity) return p.identity;
  if (p.workload) return p.workload;
  return withPort ? `${p.address}:${p.port}` : p.address;
}

function why(c: ClosedConnectionInfo, describe: RuleDescriber | undefined): string {
  if (c.policy) {
    if (c.rule === undefined) return `policy ${c.policy}`;
    const text = describe?.(c.policy, c.rule);
    return `policy ${c.policy}, rule ${c.rule}${text ? `: ${text}` : ' (no longer in the policy)'}`;
  }
  if (c.responseFlag === 'DENY' || c.verdict === 'deny')
    return c.error && !/default deny/.test(c.error)
      ? c.error
      : 'default deny: ALLOW policies apply and none matched';
  return c.error ?? '';
}

function p99(sorted: readonly number[]): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.max(0, Math.ceil(sorted.length * 0.99) - 1)] ?? 0;
}

export function summarize(closed: readonly ClosedConnectionInfo[], since: number): PairSummary[] {
  const pairs = new Map<string, PairSummary & { durations: number[] }>();
  for (const c of closed) {
    if (c.endedAt < since) continue;
    const source = endpoint(c.src, false);
    const destination = endpoint(c.dst, true);
    const key = `${c.direction}\u0000${source}\u0000${destination}`;
    let p = pairs.get(key);
    if (!p) {
      p = {
        direction: c.direction,
        source,
        destination,
        connections: 0,
        bytes: 0,
        denials: 0,
        p99DurationMs: 0,
        lastEndedAt: 0,
        durations: [],
      };
      pairs.set(key, p);
    }
    p.connections++;
    p.bytes += c.bytesSent + c.bytesReceived;
    if (c.verdict === 'deny' || c.responseFlag === 'DENY') p.denials++;
    p.durations.push(Math.max(0, c.endedAt - c.startedAt));
    p.lastEndedAt = Math.max(p.lastEndedAt, c.endedAt);
  }
  return [...pairs.values()]
    .map(({ durations, ...p }) => ({ ...p, p99DurationMs: p99(durations.sort((a, b) => a - b)) }))
    .sort((a, b) => b.connections - a.connections || b.lastEndedAt - a.lastEndedAt);
}

/**
 * Merges the threads' memories: the newest `capacity` closed connections and denials across
 * threads, filtered, and the pair summary over everything remembered within the window.
 */
export function trafficView(
  live: readonly ConnectionInfo[],
  dumps: readonly RecentDumpInfo[],
  filter: TrafficFilter,
  now: number,
  describe?: RuleDescriber,
): TrafficView {
  const capacity = Math.max(0, ...dumps.map((d) => d.capacity));
  const byNewest = (a: ClosedConnectionInfo, b: ClosedConnectionInfo) => b.endedAt - a.endedAt;
  // A denial may have left its thread's ring of closed connections and still be in the denials'.
  const seen = new Map<string | number, ClosedConnectionInfo>();
  for (const d of dumps) for (const c of [...d.closed, ...d.denials]) seen.set(c.id, c);
  const all = [...seen.values()].filter((c) => matchesFilter(c, filter)).sort(byNewest);
  const denials = dumps
    .flatMap((d) => d.denials)
    .filter((c) => matchesFilter(c, filter))
    .sort(byNewest)
    .slice(0, capacity)
    .map((c) => ({ ...c, why: why(c, describe) }));
  return {
    now,
    connections: live.filter((c) => matchesFilter(c, filter)),
    recent: dumps
      .flatMap((d) => d.closed)
      .filter((c) => matchesFilter(c, filter))
      .sort(byNewest)
      .slice(0, capacity),
    denials,
    pairs: summarize(all, now - SUMMARY_WINDOW_MS),
    capacity,
    windowMs: SUMMARY_WINDOW_MS,
    filter,
  };
}

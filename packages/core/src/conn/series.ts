import {
  type CounterShare,
  counterShare,
  type TrafficLabels,
  tcpConnectionsClosed,
  tcpConnectionsOpened,
  tcpReceivedBytes,
  tcpSentBytes,
} from '@zt/metrics';
import type { Workload } from '@zt/xds';
import { connectionLabels, type DerivedWorkload, type LabelInput } from './labels.ts';

/**
 * The traffic series of one label set: its labels and a share of each counter. A share adds to a
 * number and folds it into prom-client when the counter is read, since prom-client hashes and
 * validates the 27 labels on every increment, children included.
 */
export interface TrafficSeries {
  readonly labels: Readonly<TrafficLabels>;
  readonly opened: CounterShare;
  /** Clean closes (response_flags "-"); a flagged close goes through the counter with its labels. */
  readonly closed: CounterShare;
  readonly received: CounterShare;
  readonly sent: CounterShare;
}

/**
 * At most this many label sets are kept; past it the cache starts over. It only saves work: a set
 * built again finds its series in the counters where it left them, and the dropped shares still
 * fold what they hold at the next read.
 */
const SERIES_CACHE_MAX = 4096;
const cache = new Map<string, TrafficSeries>();

/** A workload's fields connectionLabels reads (identity and locality included). */
function workloadKey(w: Workload | undefined): string {
  if (!w) return '';
  let k = workloadKeys.get(w);
  if (k === undefined) {
    k = buildWorkloadKey(w);
    workloadKeys.set(w, k);
  }
  return k;
}

/** Built once per workload object (xDS replaces a changed workload, never edits it). */
const workloadKeys = new WeakMap<Workload, string>();

function buildWorkloadKey(w: Workload): string {
  const l = w.locality;
  return `${w.workloadName}\u0001${w.canonicalName}\u0001${w.canonicalRevision}\u0001${w.namespace}\u0001${w.clusterId}\u0001${w.trustDomain}\u0001${w.serviceAccount}\u0001${l ? `${l.region}\u0001${l.zone}` : ''}`;
}

function derivedKey(g: DerivedWorkload | undefined): string {
  if (!g) return '';
  return `${g.workloadName}\u0001${g.app}\u0001${g.revision}\u0001${g.namespace}\u0001${g.clusterId}\u0001${g.region}\u0001${g.zone}`;
}

/**
 * Everything connectionLabels reads, as one string. Workloads are replaced, never mutated, when
 * xDS changes them, but two workloads may still share a label set, so the key is by value.
 */
function keyOf(i: LabelInput): string {
  const v = i.service;
  // A derived destination replaces the workload's labels (connectionLabels): it alone is the key.
  const dst = i.derivedDestination ? `\u0002${derivedKey(i.derivedDestination)}` : workloadKey(i.destination);
  return `${i.reporter}\u0000${i.mtls ? 1 : 0}\u0000${i.sourceIdentity ?? ''}\u0000${i.destinationIdentity ?? ''}\u0000${workloadKey(
    i.source,
  )}\u0000${i.source ? '' : derivedKey(i.derivedSource)}\u0000${dst}\u0000${
    v ? `${v.hostname}\u0001${v.namespace}\u0001${v.name}` : ''
  }`;
}

/**
 * The series of a connection's label set. Connections between the same two workloads share one:
 * the 27 labels are built and admitted past the cardinality guard once, and counted into plain
 * numbers, not hashed on every connection (opened, closed, and a flush per byte counter).
 */
export function seriesFor(input: LabelInput): TrafficSeries {
  const key = keyOf(input);
  let series = cache.get(key);
  if (!series) {
    if (cache.size >= SERIES_CACHE_MAX) cache.clear();
    const labels = Object.freeze(connectionLabels(input));
    series = {
      labels,
      opened: counterShare(tcpConnectionsOpened, labels),
      closed: counterShare(tcpConnectionsClosed, labels),
      received: counterShare(tcpReceivedBytes, labels),
      sent: counterShare(tcpSentBytes, labels),
    };
    cache.set(key, series);
  }
  return series;
}

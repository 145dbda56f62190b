import { counter } from '@zt/metrics';

// Upstream's xDS metrics, same names and labels.

/** Why an xDS stream ended; the `reason` label values are upstream's. */
/** What this package needs of a prom-client counter (keeps prom-client's types out of ours). */
interface Counter<L extends string> {
  inc(labels: Partial<Record<L, string>>, value?: number): void;
}

export type TerminationReason = 'ConnectionError' | 'Error' | 'Reconnect' | 'Complete';

export const xdsMessages: Counter<'url'> = counter(
  'istio_xds_message_total',
  'Total number of messages received (unstable)',
  ['url'],
);

export const xdsMessageBytes: Counter<'url'> = counter(
  'istio_xds_message_bytes_total',
  'Total number of bytes received (unstable)',
  ['url'],
);

export const xdsTerminations: Counter<'reason'> = counter(
  'istio_xds_connection_terminations_total',
  'The total number of completed connections to xds server (unstable)',
  ['reason'],
);

// zt's own (upstream has none): a NACK means istiod sent something this proxy could not apply.
export const xdsNacks: Counter<'url'> = counter(
  'zt_xds_nacks_total',
  'xDS responses NACKed because a resource could not be decoded or applied',
  ['url'],
);

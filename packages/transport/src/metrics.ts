import { type Counter, type CounterShare, counter, counterShare, type Gauge, gauge } from '@zt/metrics';

// Transport-level counters; traffic metrics with workload labels belong to core.
export const metrics: {
  connectionsOpened: Counter<'side'>;
  connectionsFailed: Counter<'side' | 'reason'>;
  connectionsLive: Gauge<'side'>;
  tunnelsOpened: Counter<'side'>;
  tunnelsFailed: Counter<'side' | 'reason'>;
} = {
  connectionsOpened: counter('zt_hbone_connections_opened_total', 'HBONE connections opened', ['side']),
  connectionsFailed: counter(
    'zt_hbone_connections_failed_total',
    'HBONE connections that failed to open or were closed for what the peer sent',
    ['side', 'reason'],
  ),
  connectionsLive: gauge('zt_hbone_connections_live', 'HBONE connections currently open', ['side']),
  tunnelsOpened: counter('zt_hbone_tunnels_opened_total', 'HBONE CONNECT tunnels established', ['side']),
  tunnelsFailed: counter('zt_hbone_tunnels_failed_total', 'HBONE CONNECT requests that did not open', [
    'side',
    'reason',
  ]),
};

const tunnelShares: Partial<Record<'client' | 'server', CounterShare>> = {};

/**
 * Counts one established tunnel. Once per connection on both nodes: a share adds to a number and
 * folds it into the counter when it is read, where `inc({ side })` hashed the label set each time.
 * Made on first use, so the series appears with the first tunnel, as it did.
 */
export function countTunnelOpened(side: 'client' | 'server'): void {
  let share = tunnelShares[side];
  if (!share) {
    share = counterShare(metrics.tunnelsOpened, { side });
    tunnelShares[side] = share;
  }
  share.add(1);
}

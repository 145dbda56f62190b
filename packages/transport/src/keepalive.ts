import type { Http2Session } from 'node:http2';
import { HboneError } from './errors.ts';

/**
 * PING the peer `intervalMs` after the previous answer; a session whose PING stays unanswered for
 * `timeoutMs` is destroyed (upstream: 10 s / 20 s). Detects dead peers that never send FIN and
 * keeps NAT and conntrack entries alive.
 */
export function keepalive(session: Http2Session, intervalMs: number, timeoutMs: number): void {
  let timer: NodeJS.Timeout | undefined;
  const schedule = (fn: () => void, ms: number) => {
    timer = setTimeout(fn, ms);
    timer.unref();
  };
  const ping = () => {
    if (session.destroyed || session.closed) return;
    schedule(() => {
      session.destroy(
        new HboneError(
          'ERR_ZT_HBONE_PING_TIMEOUT',
          `HBONE peer did not answer PING within ${timeoutMs} ms; the peer or the network path is down`,
        ),
      );
    }, timeoutMs);
    const sent = session.ping((err) => {
      clearTimeout(timer);
      if (!err) schedule(ping, intervalMs);
    });
    if (!sent) clearTimeout(timer);
  };
  schedule(ping, intervalMs);
  session.once('close', () => clearTimeout(timer));
}

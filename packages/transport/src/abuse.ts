import type { ServerHttp2Session } from 'node:http2';
import { HboneError } from './errors.ts';

/**
 * Stable `reason` labels for server sessions that end in an error (zt_hbone_connections_failed_total)
 * and for streams the HTTP/2 layer refused before they reached us (zt_hbone_tunnels_failed_total).
 */
export type SessionFailure = 'flood' | 'rapid_reset' | 'protocol' | 'ping_timeout' | 'io';

// nghttp2 library error codes (nghttp2.h) that Node reports as an NghttpError's `errno`.
const NGHTTP2_ERR_CALLBACK_FAILURE = -902;
const NGHTTP2_ERR_FLOODED = -904;
const NGHTTP2_ERR_TOO_MANY_CONTINUATIONS = -905;

/** Node's http2 limits against abusive peers, for createSecureServer. */
export const ABUSE_LIMITS = {
  // Invalid frames (frames on closed streams, streams over SETTINGS_MAX_CONCURRENT_STREAMS) a session
  // may send before it is closed. Races make a few legitimate; hundreds are an attack (Node: 1000).
  maxSessionInvalidFrames: 100,
  // Streams Node refused because it was still tearing down earlier ones: the rapid reset pattern.
  maxSessionRejectedStreams: 100,
  // Unanswered PINGs and SETTINGS we may owe a peer that does not read its socket.
  maxOutstandingPings: 10,
  maxOutstandingSettings: 10,
  maxHeaderListPairs: 128,
} as const;

/** Time a session that ended in error gets to flush its GOAWAY before its socket is destroyed. */
export const ERRORED_SESSION_GRACE_MS = 1000;

/** Names the reason a server session ended in `err`. */
export function classifySessionError(err: Error): SessionFailure {
  const e = err as Error & { code?: string; errno?: number };
  if (e.code === 'ERR_ZT_HBONE_PING_TIMEOUT') return 'ping_timeout';
  if (e.code === 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES') return 'flood';
  if (e.errno === NGHTTP2_ERR_FLOODED || e.errno === NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) return 'flood';
  // Node fails its begin-headers callback once a session exceeds maxSessionRejectedStreams, which is
  // what streams opened and reset faster than they are torn down (CVE-2023-44487) run into.
  if (e.errno === NGHTTP2_ERR_CALLBACK_FAILURE) return 'rapid_reset';
  if (typeof e.code === 'string' && e.code.startsWith('ERR_HTTP2')) return 'protocol';
  return 'io';
}

/** A session closed because of what its peer sent, with the reason and a hint for the operator. */
export class HboneSessionError extends HboneError {
  readonly reason: SessionFailure;
  constructor(reason: SessionFailure, cause: Error) {
    super('ERR_ZT_HBONE_SESSION', `HBONE connection closed (${reason}): ${cause.message}; ${hint(reason)}`, {
      cause,
    });
    this.name = 'HboneSessionError';
    this.reason = reason;
  }
}

function hint(reason: SessionFailure): string {
  switch (reason) {
    case 'flood':
      return 'the peer sent frames faster than it read the answers or sent too many invalid frames (HTTP/2 flood)';
    case 'rapid_reset':
      return 'the peer opened and reset streams faster than they could be served (HTTP/2 rapid reset)';
    case 'protocol':
      return 'the peer violated HTTP/2; check it is an HBONE client (ztunnel, a waypoint)';
    case 'ping_timeout':
      return 'the peer or the network path is down';
    case 'io':
      return 'the TCP connection failed';
  }
}

/**
 * Counts the streams nghttp2 reset before Node handed them to us: a CONNECT without `:authority`,
 * other malformed pseudo-headers, or a stream Node refused. Node emits nothing for those, but
 * nghttp2's last processed stream id moves past them. Client stream ids are odd and increase by 2,
 * so `(lastProcStreamID + 1) / 2` streams were processed. A stream processed just now may still be
 * on its way to 'stream', so only ids up to the value seen at the previous sweep are judged.
 */
export class StreamAudit {
  #delivered = 0;
  #since: number[] = [];
  #prevLast = 0;
  #reported = 0;

  /** Call on every 'stream' event of the session. */
  delivered(id: number | undefined): void {
    this.#delivered++;
    if (id !== undefined) this.#since.push(id);
  }

  /** Streams newly found lost since the last call; `final` when the session has closed. */
  sweep(session: ServerHttp2Session, final = false): number {
    let last = this.#prevLast;
    try {
      if (!session.destroyed) last = session.state.lastProcStreamID ?? last;
    } catch {
      // state throws once the native handle is gone; keep the last value seen.
    }
    const judged = final ? Math.max(last, this.#prevLast) : this.#prevLast;
    const deliveredUpTo = this.#delivered - this.#since.filter((id) => id > judged).length;
    const lost = Math.floor((judged + 1) / 2) - deliveredUpTo - this.#reported;
    this.#prevLast = last;
    this.#since = this.#since.filter((id) => id > last);
    if (lost <= 0) return 0;
    this.#reported += lost;
    return lost;
  }
}

export class MalformedStreamsError extends HboneError {
  readonly count: number;
  constructor(count: number) {
    super(
      'ERR_ZT_HBONE_MALFORMED_STREAM',
      `HTTP/2 reset ${count} stream(s) before zt saw them: malformed request headers ` +
        '(a CONNECT without :authority, bad pseudo-headers) or refused streams; check the peer is an HBONE client',
    );
    this.name = 'MalformedStreamsError';
    this.count = count;
  }
}

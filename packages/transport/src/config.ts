/**
 * HTTP/2 flow control for HBONE. Upstream ztunnel uses 4 MiB per stream, 16 MiB per connection and
 * 1 MiB frames; Node's defaults (64 KiB) roughly halve throughput. But Node's Http2Session stops
 * reading its socket while one of its writes is pending, so if both ends have more bytes in flight
 * than the kernel socket buffers hold, both wait for each other forever. The defaults below keep the
 * connection window small enough that this cannot happen (see the bidirectional bulk test and the
 * package README for the measurements behind them).
 */
export interface FlowControl {
  /** SETTINGS_INITIAL_WINDOW_SIZE: bytes a peer may send on one stream before we acknowledge. */
  readonly streamWindowSize: number;
  /** Connection-level receive window (WINDOW_UPDATE on stream 0). */
  readonly connectionWindowSize: number;
  /** SETTINGS_MAX_FRAME_SIZE: largest DATA frame we accept. */
  readonly frameSize: number;
}

// Measured on one TLS stream between two processes (MiB/s, median of 3 x 2 GiB): Node's 64 KiB
// windows 379; 256 KiB/512 KiB 680; 1 MiB/2 MiB 738-770; upstream's 4 MiB/16 MiB (with the
// AlwaysReading guard it needs) 454.
export const DEFAULT_FLOW_CONTROL: FlowControl = {
  streamWindowSize: 1024 * 1024,
  connectionWindowSize: 2 * 1024 * 1024,
  frameSize: 1024 * 1024,
};

/**
 * The largest client connection window used without the AlwaysReading guard: a peer's writes to
 * us are bounded by it and fit in the kernel socket buffers, so the peer never stops reading.
 */
export const STALL_FREE_WINDOW = 2 * 1024 * 1024;

export const DEFAULT_POOL_MAX_STREAMS_PER_CONNECTION = 100;
export const DEFAULT_POOL_UNUSED_RELEASE_TIMEOUT_MS = 5 * 60_000;
/** Upstream's HTTP/2 server limit. */
export const SERVER_MAX_CONCURRENT_STREAMS = 200;
export const SERVER_MAX_HEADER_LIST_SIZE = 64 * 1024;
export const CLIENT_MAX_HEADER_LIST_SIZE = 16 * 1024;
export const PING_INTERVAL_MS = 10_000;
export const PING_TIMEOUT_MS = 20_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** HTTP/2's bounds (RFC 9113 6.5.2, 6.9.1): what a flow-control setting may be. */
export const FLOW_CONTROL_LIMITS = {
  window: { min: 65_535, max: 2 ** 31 - 1 },
  frameSize: { min: 16_384, max: 2 ** 24 - 1 },
} as const;

/** Validates flow control values against the HTTP/2 limits before a session sees them. */
export function checkFlowControl(fc: FlowControl): FlowControl {
  const { window, frameSize } = FLOW_CONTROL_LIMITS;
  if (fc.frameSize < frameSize.min || fc.frameSize > frameSize.max) {
    throw new RangeError(
      `HTTP2_FRAME_SIZE ${fc.frameSize} must be within ${frameSize.min}..${frameSize.max}`,
    );
  }
  for (const [name, v] of [
    ['HTTP2_STREAM_WINDOW_SIZE', fc.streamWindowSize],
    ['HTTP2_CONNECTION_WINDOW_SIZE', fc.connectionWindowSize],
  ] as const) {
    if (v < window.min || v > window.max) throw new RangeError(`${name} ${v} must be within 65535..2^31-1`);
  }
  return fc;
}

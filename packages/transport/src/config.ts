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

/** HBONE settings read from upstream ztunnel's environment variables. */
export interface TransportEnv {
  flowControl: FlowControl;
  tls12Enabled: boolean;
  maxStreamsPerConnection: number;
  unusedReleaseTimeoutMs: number;
}

export function transportEnv(env: NodeJS.ProcessEnv = process.env): TransportEnv {
  return {
    flowControl: {
      streamWindowSize: envInt(env, 'HTTP2_STREAM_WINDOW_SIZE', DEFAULT_FLOW_CONTROL.streamWindowSize),
      connectionWindowSize: envInt(
        env,
        'HTTP2_CONNECTION_WINDOW_SIZE',
        DEFAULT_FLOW_CONTROL.connectionWindowSize,
      ),
      frameSize: envInt(env, 'HTTP2_FRAME_SIZE', DEFAULT_FLOW_CONTROL.frameSize),
    },
    tls12Enabled: envBool(env, 'TLS12_ENABLED', false),
    maxStreamsPerConnection: envInt(
      env,
      'POOL_MAX_STREAMS_PER_CONNECTION',
      DEFAULT_POOL_MAX_STREAMS_PER_CONNECTION,
    ),
    unusedReleaseTimeoutMs: envDurationMs(
      env,
      'POOL_UNUSED_RELEASE_TIMEOUT',
      DEFAULT_POOL_UNUSED_RELEASE_TIMEOUT_MS,
    ),
  };
}

function envInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw)) throw new Error(`${name}="${raw}" is not a non-negative integer`);
  return Number(raw);
}

function envBool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(true|1)$/i.test(raw)) return true;
  if (/^(false|0)$/i.test(raw)) return false;
  throw new Error(`${name}="${raw}" must be true or false`);
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Durations as upstream writes them: `300s`, `5m`, `1h30m`, `250ms`. */
export function parseDurationMs(text: string): number {
  const re = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * (UNITS[m[2] as string] ?? 0);
    end = re.lastIndex;
  }
  if (end === 0 || end !== text.length) throw new Error(`"${text}" is not a duration like 300s or 5m`);
  return total;
}

function envDurationMs(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  try {
    return parseDurationMs(raw);
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message}`);
  }
}

/** Validates flow control values against the HTTP/2 limits before a session sees them. */
export function checkFlowControl(fc: FlowControl): FlowControl {
  if (fc.frameSize < 16_384 || fc.frameSize > 16_777_215) {
    throw new RangeError(`HTTP2_FRAME_SIZE ${fc.frameSize} must be within 16384..16777215`);
  }
  for (const [name, v] of [
    ['HTTP2_STREAM_WINDOW_SIZE', fc.streamWindowSize],
    ['HTTP2_CONNECTION_WINDOW_SIZE', fc.connectionWindowSize],
  ] as const) {
    if (v < 65_535 || v > 2 ** 31 - 1) throw new RangeError(`${name} ${v} must be within 65535..2^31-1`);
  }
  return fc;
}

import pino, { type DestinationStream, type Logger, type LoggerOptions, stdTimeFunctions } from 'pino';

/**
 * Upstream's LOG_FORMAT: `json` gives JSON lines; anything else (the default) the plain format,
 * `<time>\t<level>\t<scope>\t<message>\t<key=value ...>`.
 */
export type LogFormat = 'json' | 'plain';

export function parseLogFormat(value: string | undefined): LogFormat {
  return value === 'json' ? 'json' : 'plain';
}

/**
 * pino options for upstream's JSON shape (`level` as a word, ISO `time`, `message`), shared by the
 * main thread and the data-plane workers so every line on stdout has one shape.
 */
export function ztLoggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: undefined,
    messageKey: 'message',
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
}

/**
 * A logger writing in `format` to `dest`, or else synchronously to file descriptor `fd` (default 1,
 * stdout). A file descriptor is what a worker thread can be given: every thread writes whole lines
 * to it, so lines of several threads never interleave.
 */
export function ztLogger(level: string, format: LogFormat, dest?: DestinationStream, fd = 1): Logger {
  const out = dest ?? pino.destination({ dest: fd, sync: true });
  return pino(ztLoggerOptions(level), format === 'json' ? out : plainStream(out));
}

const HEAD = new Set(['time', 'level', 'scope', 'message']);

/** One JSON line of `ztLoggerOptions` as upstream's plain line (values as Rust's Debug prints them). */
export function plainLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    // Not one of our JSON lines (pino wrote something else): pass it through unchanged.
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const fields: string[] = [];
  for (const [k, v] of Object.entries(rec)) {
    if (HEAD.has(k) || v === undefined) continue;
    fields.push(
      `${k}=${typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' ? JSON.stringify(JSON.stringify(v)) : String(v)}`,
    );
  }
  const head = `${String(rec['time'] ?? '')}\t${String(rec['level'] ?? '')}\t${String(rec['scope'] ?? 'ztunnel')}`;
  const message = String(rec['message'] ?? '');
  return fields.length > 0 ? `${head}\t${message}\t${fields.join(' ')}\n` : `${head}\t${message}\n`;
}

function plainStream(out: DestinationStream): DestinationStream {
  return { write: (line: string) => out.write(plainLine(line)) };
}

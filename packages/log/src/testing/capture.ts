import type { DestinationStream } from 'pino';

/** A log destination that keeps what it is given, for tests that assert on log lines. */
export interface LogCapture extends DestinationStream {
  /** Everything written, as it was written. */
  text(): string;
  /** The JSON lines written so far (the `json` format), parsed. */
  lines(): Record<string, unknown>[];
}

export function captureLog(): LogCapture {
  const out: string[] = [];
  return {
    write: (s: string) => {
      out.push(s);
    },
    text: () => out.join(''),
    lines: () =>
      out
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

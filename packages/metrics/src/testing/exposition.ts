import { ZtError } from '@zt/errors';

/**
 * A small parser for the Prometheus text exposition format (0.0.4), for tests that scrape a real
 * endpoint and assert exact names, labels and values. Strict: a line it does not understand throws.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** `# TYPE` per metric family name. */
  types: Map<string, string>;
  /** `# HELP` per metric family name. */
  help: Map<string, string>;
}

export class ExpositionParseError extends ZtError {
  constructor(line: number, text: string, why: string) {
    super('ERR_ZT_METRICS_PARSE', `line ${line}: ${why}: ${JSON.stringify(text)}`);
    this.name = 'ExpositionParseError';
  }
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseValue(s: string): number {
  if (s === '+Inf') return Number.POSITIVE_INFINITY;
  if (s === '-Inf') return Number.NEGATIVE_INFINITY;
  if (s === 'NaN') return Number.NaN;
  const n = Number(s);
  if (s === '' || Number.isNaN(n)) throw new Error(`bad value ${s}`);
  return n;
}

function parseLabels(text: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start;
  for (;;) {
    while (text[i] === ' ') i++;
    if (text[i] === '}') return { labels, end: i + 1 };
    const m = LABEL_NAME.exec(text.slice(i));
    if (!m) throw new Error('bad label name');
    const key = m[0];
    i += key.length;
    if (text[i] !== '=' || text[i + 1] !== '"') throw new Error(`expected =" after ${key}`);
    i += 2;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new Error('unterminated label value');
      if (c === '"') break;
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'n') value += '\n';
        else if (e === '\\' || e === '"') value += e;
        else throw new Error(`bad escape \\${e}`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    if (key in labels) throw new Error(`duplicate label ${key}`);
    labels[key] = value;
    while (text[i] === ' ') i++;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error('expected , or }');
  }
}

export function parseExposition(text: string): Exposition {
  const out: Exposition = { samples: [], types: new Map(), help: new Map() };
  text.split('\n').forEach((raw, idx) => {
    const line = raw.trim();
    if (line === '') return;
    try {
      if (line.startsWith('#')) {
        const parts = line.split(/\s+/);
        if (parts[1] === 'TYPE') out.types.set(parts[2] ?? '', parts[3] ?? '');
        else if (parts[1] === 'HELP') out.help.set(parts[2] ?? '', parts.slice(3).join(' '));
        return;
      }
      const m = NAME.exec(line);
      if (!m) throw new Error('bad metric name');
      let i = m[0].length;
      let labels: Record<string, string> = {};
      if (line[i] === '{') {
        const parsed = parseLabels(line, i + 1);
        labels = parsed.labels;
        i = parsed.end;
      }
      const rest = line.slice(i).trim().split(/\s+/);
      if (rest.length < 1 || rest.length > 2) throw new Error('expected value [timestamp]');
      out.samples.push({ name: m[0], labels, value: parseValue(rest[0] ?? '') });
    } catch (err) {
      throw new ExpositionParseError(idx + 1, raw, (err as Error).message);
    }
  });
  return out;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** Samples of `name` whose labels include every pair of `labels`. */
export function samplesOf(exp: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return exp.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The value of the one sample with exactly these labels, or undefined. */
export function sampleValue(
  exp: Exposition,
  name: string,
  labels: Record<string, string>,
): number | undefined {
  return exp.samples.find((s) => s.name === name && sameLabels(s.labels, labels))?.value;
}

/** Sum over samples of `name` whose labels include `labels`. */
export function sumOf(exp: Exposition, name: string, labels: Record<string, string> = {}): number {
  return samplesOf(exp, name, labels).reduce((t, s) => t + s.value, 0);
}

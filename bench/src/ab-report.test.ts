import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareBuilds, renderAb } from './ab-report.ts';
import type { Results } from './run.ts';

const lat = (p50: number, cpu: number) => ({
  p50,
  p90: p50 * 2,
  p99: p50 * 4,
  samples: [],
  added: null,
  cpuPer1kRps: cpu,
  cpuPer1kRpsByProcess: [],
});

const results = {
  bulk: { '1 conn, one way': { new: { samples: [], median: 3 }, old: { samples: [], median: 2 } } },
  rate: {
    new: { samples: [], median: 900, cpuPer1kConns: 0.5 },
    old: { samples: [], median: 1000, cpuPer1kConns: 0 },
  },
  latency: { new: lat(1, 0.3), old: lat(2, 0.6), direct: lat(0.5, Number.NaN) },
  efficiency: { ztPeakRssMB: { a: 150, b: 120 }, ztCpuPer1kRps: { a: 0, b: 0, total: 0 } },
  idle: { rssBeforeMB: { a: 100, b: 110 } },
  oldMemory: { peakRssMB: { a: 100, b: 200 }, restingRssMB: { a: 100, b: 100 } },
} as unknown as Results;

describe('compareBuilds', () => {
  it('gives new/old per scenario and figure, and which way is better', () => {
    const rows = compareBuilds(results, 'new', 'old');
    const byFigure = new Map(rows.map((r) => [`${r.scenario}, ${r.figure}`, r]));
    assert.equal(byFigure.get('bulk 1 conn, one way, throughput')?.ratio, 1.5);
    assert.equal(byFigure.get('bulk 1 conn, one way, throughput')?.better, 'higher');
    assert.equal(byFigure.get('connection rate, connections')?.ratio, 0.9);
    assert.equal(byFigure.get('connection rate, CPU per 1k connections')?.ratio, null, 'old 0: no ratio');
    assert.equal(byFigure.get('latency, p99')?.ratio, 0.5);
    assert.equal(byFigure.get('latency, CPU per 1k rps')?.ratio, 0.5);
    assert.equal(byFigure.get('memory, peak RSS after load (larger node)')?.ratio, 0.75);
    assert.equal(byFigure.get('memory, RSS at rest (larger node)')?.ratio, 1.1);
    const text = renderAb(rows, 'new (abc)', 'old (main)').join('\n');
    assert.match(
      text,
      /bulk 1 conn, one way, throughput\s+x1\.500 {2}\(3\.000 vs 2\.000 Gbit\/s; higher is better\)/,
    );
    assert.match(text, /connection rate, CPU per 1k connections\s+- /);
  });
  it('compares nothing when the old build ran no scenario', () => {
    const { oldMemory: _, ...noOld } = results;
    assert.deepEqual(compareBuilds(noOld as Results, 'new', 'missing'), []);
    assert.match(renderAb([], 'a', 'b').join('\n'), /nothing to compare/);
  });
});

// `npm run bench [-- --quick | --ci] [--out dir] [--budgets file] [--cpu-prof dir] [--from-source]
//   [--reps N] [--only bulk,latency,idle,rate,dns,multinet] [--against <git ref>]`
// `npm run bench -- --soak [--minutes 10]`: the soak mode (mixed load, RSS drift), no budgets.
// `--against <ref>` builds that ref in a temporary git worktree and runs it as one more target
// beside this tree's zt, then prints new/old ratios per scenario.
// Starts the target server, two zt meshes (1 and 2 workers) and the peer proxy pairs, runs every
// scenario interleaved, prints a table, writes JSON and an SVG chart, and exits 1 when a budget is
// missed (2 when the bench itself could not run).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgainstError, buildRef, type RefBuild } from './ab-build.ts';
import { compareBuilds, renderAb } from './ab-report.ts';
import { BenchArgsError, parseBenchArgs } from './args.ts';
import { type BudgetCheck, checkBudgets, loadBudgetFile } from './budgets.ts';
import { renderSvg } from './chart.ts';
import { renderDns } from './dns.ts';
import { ZT_ENTRY, type ZtFrom } from './mesh.ts';
import { renderMultinet } from './multinet.ts';
import { describeProfile, type Profile } from './profile.ts';
import { renderTable } from './report.ts';
import { deriveMetrics, runScenarios } from './run.ts';
import { startSetup } from './setup.ts';
import { runSoak } from './soak.ts';
import type { Target } from './targets.ts';

const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));

let args: ReturnType<typeof parseBenchArgs>;
try {
  args = parseBenchArgs(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof BenchArgsError)) throw e;
  console.error(`bench: ${e.message}`);
  process.exit(2);
}
const soakMinutes = args.soak?.minutes ?? 10;
const profile: Profile = args.profile;
// --only bulk,rate: a partial run for profiling; budgets are not checked.
const only = args.only;
const outDir = resolve(args.out ?? join(BENCH_DIR, 'results'));
const budgetsPath = resolve(args.budgets ?? join(BENCH_DIR, 'budgets.json'));
const log = (s: string): void => {
  process.stderr.write(`[bench] ${s}\n`);
};

const started = new Date();
// File names of this run's outputs.
const stamp = started.toISOString().replace(/[:.]/g, '-');
const machine = {
  nproc: availableParallelism(),
  cpu: cpus()[0]?.model ?? 'unknown',
  node: process.version,
  loadavgAtStart: loadavg(),
};
log(`profile ${describeProfile(profile)}`);
log(
  `machine: ${machine.nproc} CPUs (${machine.cpu}), Node ${machine.node}, load ${machine.loadavgAtStart.map((l) => l.toFixed(2)).join(' ')}`,
);

// zt runs as built JavaScript, as in the image; turbo rebuilds what changed (cached otherwise).
const ztFrom: ZtFrom = args.fromSource ? 'source' : 'dist';
if (ztFrom === 'dist') {
  const root = join(BENCH_DIR, '..');
  const turbo = join(root, 'node_modules', '.bin', 'turbo');
  log('building zt (turbo run build --filter=@zt/ztunnel...; cached when unchanged)');
  const built = spawnSync(turbo, ['run', 'build', '--filter=@zt/ztunnel...', '--output-logs=errors-only'], {
    cwd: root,
    encoding: 'utf8',
  });
  if (built.status !== 0 || !existsSync(ZT_ENTRY.dist.path)) {
    console.error(
      `bench: building zt failed (exit ${built.status ?? built.error?.message}); run with --from-source to bench the TypeScript as is\n${built.stdout}${built.stderr}`,
    );
    process.exit(2);
  }
}

const budgetFile = loadBudgetFile(budgetsPath);
const work = mkdtempSync(join(tmpdir(), 'zt-bench-'));
const cpuProf = args.cpuProf ? resolve(args.cpuProf) : undefined;
if (cpuProf) mkdirSync(cpuProf, { recursive: true });

let setup: Awaited<ReturnType<typeof startSetup>> | undefined;
let oldBuild: RefBuild | undefined;
let exitCode = 0;
const stopAll = async (): Promise<void> => {
  await setup?.stop();
  oldBuild?.remove();
  rmSync(work, { recursive: true, force: true });
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void stopAll().then(() => process.exit(130));
  });
}

const newRevision = describeTree(join(BENCH_DIR, '..'));
try {
  if (args.against !== undefined) {
    oldBuild = await buildRef(join(BENCH_DIR, '..'), args.against, { log });
  }
  setup = await startSetup({
    dir: work,
    log,
    ztFrom,
    ...(oldBuild ? { old: { entry: oldBuild.entry, name: `zt @${oldBuild.short}` } } : {}),
    ...(cpuProf ? { ztNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] } : {}),
  });
  if (args.soak) {
    exitCode = await soak(setup.zt1);
  } else {
    const t0 = Date.now();
    const results = await runScenarios(setup, profile, log, only, {
      dir: work,
      from: ztFrom,
      ...(cpuProf ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] } : {}),
    });
    const names = { direct: setup.direct.name, zt1: setup.zt1.name, zt2: setup.zt2.name };
    const metrics = deriveMetrics(results, names);
    const skipReasons: Record<string, string> = {};
    for (const [kind, why] of Object.entries(setup.missing)) {
      for (const k of Object.keys(metrics)) if (k.includes(kind)) skipReasons[k] = why;
    }
    // A partial run checks only the budgets of the scenarios with zt nodes of their own (DNS,
    // multi-network) that it ran: a partial setup does not change those.
    const selfContained = only ? (['dns', 'multinet'] as const).filter((k) => only.has(k)) : [];
    const partial = Object.fromEntries(
      Object.entries(budgetFile.budgets).filter(([, b]) =>
        selfContained.some((k) => b.metric.startsWith(`${k}.`)),
      ),
    );
    const budgets: BudgetCheck[] = only
      ? checkBudgets(partial, metrics, skipReasons)
      : checkBudgets(budgetFile.budgets, metrics, skipReasons);
    const failed = budgets.filter((b) => b.status === 'fail');
    const header = [
      `zt bench, ${profile.name} run, ${started.toISOString()} (${((Date.now() - t0) / 1000).toFixed(0)} s of load)`,
      `  ${describeProfile(profile)}`,
      `  machine: ${machine.nproc} CPUs (${machine.cpu}), Node ${machine.node}, load average at start ${machine.loadavgAtStart.map((l) => l.toFixed(2)).join(' ')}`,
      `  zt: two processes (node A, node B) from ${ztFrom === 'dist' ? 'the build (dist/)' : 'TypeScript source'}, FAKE_CA, RUST_LOG=warn, client enters via SOCKS5 on node A; peers: 1 thread per proxy, TLS 1.3, client certs required`,
    ];
    const oldName = setup.old?.name;
    const ab =
      oldBuild && oldName
        ? {
            against: oldBuild.ref,
            oldCommit: oldBuild.commit,
            newRevision,
            rows: compareBuilds(results, names.zt1, oldName),
          }
        : undefined;
    if (ab && oldBuild) {
      header.push(
        `  A/B: "${names.zt1}" is this tree (${newRevision}); "${oldName}" is ${oldBuild.ref} (${oldBuild.commit}) built in a temporary worktree, 1 worker, the same scenarios interleaved`,
      );
    }
    const table = renderTable(results, budgets, header, names.direct);
    process.stdout.write(`${table}\n`);
    if (results.dns) process.stdout.write(`\n${renderDns(results.dns)}\n`);
    if (results.multinet) process.stdout.write(`\n${renderMultinet(results.multinet)}\n`);
    if (ab && oldName) {
      process.stdout.write(
        `\n${renderAb(ab.rows, `${names.zt1} (${newRevision})`, `${oldName} (${ab.against})`).join('\n')}\n`,
      );
    }

    const json = {
      profile,
      description: describeProfile(profile),
      started: started.toISOString(),
      machine: { ...machine, loadavgAtEnd: loadavg() },
      ztFrom,
      ...(ab ? { ab } : {}),
      budgetsMachine: budgetFile.machine,
      results,
      metrics,
      budgets,
    };
    mkdirSync(outDir, { recursive: true });
    const jsonPath = join(outDir, `${profile.name}-${stamp}.json`);
    writeFileSync(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
    const panels = [
      ...Object.entries(results.bulk).map(([key, rows]) => ({
        title: `bulk, ${key}`,
        unit: 'Gbit/s',
        reference: names.direct,
        bars: Object.entries(rows).map(([label, s]) => ({ label, value: s.median })),
      })),
      {
        title: 'connection rate',
        unit: 'conn/s',
        reference: names.direct,
        bars: Object.entries(results.rate).map(([label, s]) => ({ label, value: s.median })),
      },
      {
        title: `p99 latency at ${profile.latencyRate} rps`,
        unit: 'ms',
        reference: names.direct,
        bars: Object.entries(results.latency).map(([label, l]) => ({ label, value: l.p99 })),
      },
    ];
    const svgPath = join(outDir, `${profile.name}-${stamp}.svg`);
    writeFileSync(
      svgPath,
      renderSvg(
        `zt bench (${profile.name})`,
        `${machine.nproc} CPUs, ${machine.cpu}, Node ${machine.node}, ${started.toISOString()}`,
        panels,
      ),
    );
    log(`wrote ${jsonPath} and ${svgPath}`);
    if (failed.length > 0) {
      log(`${failed.length} budget(s) missed: ${failed.map((b) => b.name).join(', ')}`);
      exitCode = 1;
    }
  }
} catch (e) {
  if (e instanceof AgainstError) log(e.message);
  else log(`bench could not run: ${(e as Error).stack ?? e}`);
  exitCode = 2;
} finally {
  await stopAll();
}
process.exit(exitCode);

async function soak(target: Target): Promise<number> {
  log(
    `soak: ${soakMinutes} min of mixed load through ${target.name} (rate loops, bulk both ways, 16 long-lived echo connections)`,
  );
  const r = await runSoak(target, { durationMs: soakMinutes * 60_000, log });
  const lines = [
    `zt soak, ${started.toISOString()}, ${r.seconds.toFixed(0)} s through ${target.name}`,
    `  machine: ${machine.nproc} CPUs (${machine.cpu}), Node ${machine.node}`,
    `  ${r.connections} connections, ${(r.bulkBytes / 2 ** 30).toFixed(1)} GiB bulk, ${r.echoes} echoes on long-lived connections, ${r.errors} errors${r.firstError ? ` (first: ${r.firstError})` : ''}`,
    ...r.drift.map(
      (d, i) =>
        `  node ${i === 0 ? 'A' : 'B'} (pid ${d.pid}): RSS first third ${d.firstThirdMiB.toFixed(1)} MiB, last third ${d.lastThirdMiB.toFixed(1)} MiB, drift ${d.driftMiB >= 0 ? '+' : ''}${d.driftMiB.toFixed(1)} MiB, trend ${d.slopeMiBPerMin.toFixed(2)} MiB/min, max ${d.maxMiB.toFixed(1)} MiB`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, `soak-${stamp}.json`);
  writeFileSync(
    jsonPath,
    `${JSON.stringify({ started: started.toISOString(), machine, minutes: soakMinutes, ...r }, null, 2)}\n`,
  );
  log(`wrote ${jsonPath}`);
  return r.errors === 0 ? 0 : 1;
}

/** This tree's commit, with "+changes" when the work tree differs from it. */
function describeTree(root: string): string {
  const head = spawnSync('git', ['-C', root, 'rev-parse', '--short=9', 'HEAD'], { encoding: 'utf8' });
  const dirty = spawnSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], {
    encoding: 'utf8',
  });
  const rev = head.status === 0 ? head.stdout.trim() : 'unknown';
  return dirty.status === 0 && dirty.stdout.trim() !== '' ? `${rev}+changes` : rev;
}

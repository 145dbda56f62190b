// `npm test`: lint, dependency direction, type check, then every package's tests through turbo.
// Ends with one line that sums every package: `N passed, N failed`.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './lib.mjs';

/**
 * Runs a command, echoing its output live, and resolves with its exit code and output. After
 * `timeoutMs` its whole process group is killed (`timedOut` is then true), so a test process that
 * never exits cannot hold CI until its own limit.
 */
function capture(cmd, args, { env = {}, timeoutMs } = {}) {
  return new Promise((resolve) => {
    // Its own process group when it has a time limit, so the kill reaches every test process; then
    // Ctrl-C and SIGTERM must be passed on by hand, as the terminal no longer signals that group.
    const group = timeoutMs !== undefined;
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, detached: group });
    const onSignal = (signal) => {
      try {
        process.kill(-child.pid, signal);
      } catch {}
      process.exit(130);
    };
    if (group) for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, onSignal);
    let out = '';
    let timedOut = false;
    const onData = (stream) => (chunk) => {
      out += chunk;
      stream.write(chunk);
    };
    child.stdout.on('data', onData(process.stdout));
    child.stderr.on('data', onData(process.stderr));
    const timer = !group
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          console.error(`\n${cmd} ${args[0] ?? ''} still running after ${timeoutMs / 60_000} min: killed`);
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {}
        }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      for (const sig of ['SIGINT', 'SIGTERM']) process.off(sig, onSignal);
      resolve({ code: code ?? 1, out, timedOut });
    });
  });
}

// The package tests take about 6 minutes on 2 cores; CI stops at 90. Node's --test-force-exit
// would end a file whose handles outlive its tests, but it drops test verdicts from the report
// (nodejs/node#64833: a file's last tests vanished from the count, exit 0), so the guard is here.
const TURBO_TEST_TIMEOUT_MS = 40 * 60_000;

// A cancelled test (its suite's hook failed, or its file ran out of time) is a failed one: left out,
// a run with 15 cancelled chart tests summed to "0 failed".
const SUMMARY_RE = /^(?:(\S+?):test: )?\S* ?ℹ (pass|fail|cancelled) (\d+)\s*$/;

/** Sums node:test summaries in `out`, by turbo package prefix ('' when there is none). */
function parseSummaries(out) {
  const by = new Map();
  for (const raw of out.split('\n')) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes
    const line = raw.replace(/\u001b\[[0-9;]*m/g, '');
    const m = SUMMARY_RE.exec(line);
    if (!m) continue;
    const key = m[1] ?? '';
    const entry = by.get(key) ?? { pass: 0, fail: 0 };
    entry[m[2] === 'cancelled' ? 'fail' : m[2]] += Number(m[3]);
    by.set(key, entry);
  }
  return by;
}

/**
 * The spec reporter's "failing tests" section, condensed per package prefix: where each failing
 * test is, its name and the first lines of its error without the stack. CI shows only the tail of
 * the output, so these are repeated next to the summary where they are seen.
 */
function parseFailures(out) {
  const by = new Map();
  const inSection = new Set();
  for (const raw of out.split('\n')) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes
    const line = raw.replace(/\u001b\[[0-9;]*m/g, '');
    const m = /^(?:(\S+?):test: )?(.*)$/.exec(line);
    const key = m?.[1] ?? '';
    const text = m?.[2] ?? '';
    if (/^\S* ?✖ failing tests:/.test(text)) {
      inSection.add(key);
      continue;
    }
    if (!inSection.has(key)) continue;
    const list = by.get(key) ?? [];
    by.set(key, list);
    if (text.startsWith('test at ')) {
      list.push({ where: text.slice(8), name: '', error: [] });
      continue;
    }
    const cur = list.at(-1);
    if (!cur) continue;
    if (cur.name === '' && /^\S* ?✖ /.test(text)) {
      cur.name = text.replace(/^\S* ?✖ /, '');
    } else if (text.trim() !== '' && !/^\s*at /.test(text) && cur.error.length < 6) {
      cur.error.push(text.trim());
    }
  }
  return by;
}

const results = [];
const failures = [];

const root = await capture(process.execPath, ['--test', '--test-reporter=spec', 'scripts/*.test.mjs']);
const rootSum = parseSummaries(root.out).get('') ?? { pass: 0, fail: root.code === 0 ? 0 : 1 };
for (const f of parseFailures(root.out).get('') ?? []) failures.push({ pkg: 'scripts', ...f });
results.push({ name: 'scripts', ...rootSum });

const lint = await capture('biome', ['check', '.']);
results.push({ name: 'lint (biome)', pass: lint.code === 0 ? 1 : 0, fail: lint.code === 0 ? 0 : 1 });

const tsc = await capture('tsc', ['-p', 'tsconfig.json']);
results.push({ name: 'typecheck (tsc)', pass: tsc.code === 0 ? 1 : 0, fail: tsc.code === 0 ? 0 : 1 });

const filter = process.argv.slice(2).flatMap((f) => ['--filter', f]);
const turbo = await capture(
  'turbo',
  ['run', 'test', '--continue', '--log-order=grouped', '--concurrency=2', ...filter],
  { timeoutMs: TURBO_TEST_TIMEOUT_MS },
);
if (turbo.timedOut) results.push({ name: 'turbo run test (time limit)', pass: 0, fail: 1 });
const sums = parseSummaries(turbo.out);
for (const [pkg, list] of parseFailures(turbo.out)) for (const f of list) failures.push({ pkg, ...f });
const testedPackages = [];
for (const group of ['packages', 'apps', '.']) {
  const dirs = group === '.' ? ['bench', 'deploy'] : readdirSync(join(ROOT, group));
  for (const d of dirs) {
    try {
      const pkg = JSON.parse(readFileSync(join(ROOT, group, d, 'package.json'), 'utf8'));
      if (pkg.scripts?.test) testedPackages.push(pkg.name);
    } catch {}
  }
}
for (const name of testedPackages) {
  if (filter.length > 0 && !process.argv.slice(2).includes(name)) continue;
  const s = sums.get(name);
  // A package whose runner died before its summary counts as one failure, never as silence.
  results.push({ name, ...(s ?? { pass: 0, fail: 1 }) });
}

let passed = 0;
let failed = 0;
console.log('\n== zt test summary ==');
for (const r of results) {
  passed += r.pass;
  failed += r.fail;
  console.log(`${r.fail > 0 ? 'FAIL' : 'ok  '} ${r.name.padEnd(24)} ${r.pass} passed, ${r.fail} failed`);
}
if (failures.length > 0) {
  // Kept short and placed last but one: CI shows only the tail of the output.
  console.log('-- failing tests --');
  for (const f of failures.slice(0, 12)) {
    console.log(`${f.pkg}: ${f.name} (${f.where})`);
    if (f.error[0]) console.log(`    ${f.error[0].slice(0, 200)}`);
  }
  if (failures.length > 12) console.log(`... and ${failures.length - 12} more above`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && turbo.code === 0 ? 0 : 1);

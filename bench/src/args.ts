// The bench's command line, parsed and checked in one place: a mistake gets one line saying what
// to type instead, and the bench exits 2 without starting anything.
import { parseArgs } from 'node:util';
import { ZtError } from '@zt/errors';
import { PROFILES, type Profile } from './profile.ts';
import { SCENARIOS, type Scenario } from './run.ts';

export class BenchArgsError extends ZtError {
  constructor(message: string) {
    super('ERR_ZT_BENCH_ARGS', message);
    this.name = 'BenchArgsError';
  }
}

export interface BenchArgs {
  profile: Profile;
  /** A partial run; budgets are not checked. */
  only: ReadonlySet<Scenario> | undefined;
  out: string | undefined;
  budgets: string | undefined;
  cpuProf: string | undefined;
  fromSource: boolean;
  soak: { minutes: number } | undefined;
  /** A git ref to build in a temporary worktree and run beside this tree (A/B). */
  against: string | undefined;
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (e) {
    throw new BenchArgsError(`${(e as Error).message}; see the usage at the top of bench/src/main.ts`);
  }
  const base: Profile = PROFILES[values.ci ? 'ci' : values.quick ? 'quick' : 'full'];
  const reps = values.reps === undefined ? base.reps : Number(values.reps);
  if (!(Number.isInteger(reps) && reps >= 1)) throw new BenchArgsError('--reps takes an integer >= 1');
  const only = values.only === undefined ? undefined : new Set(values.only.split(',') as Scenario[]);
  if (only && [...only].some((s) => !SCENARIOS.includes(s))) {
    throw new BenchArgsError(`--only takes a comma-separated subset of ${SCENARIOS.join(',')}`);
  }
  const minutes = Number(values.minutes ?? 10);
  if (values.soak && !(minutes > 0)) throw new BenchArgsError('--minutes takes a positive number');
  const against = values.against;
  if (against !== undefined) {
    if (against.trim() === '' || against.startsWith('-')) {
      throw new BenchArgsError('--against takes a git ref (a commit, branch or tag), e.g. --against main');
    }
    if (values.soak)
      throw new BenchArgsError('--against compares scenarios; it does not combine with --soak');
  }
  return {
    profile: reps === base.reps ? base : { ...base, reps },
    only,
    out: values.out,
    budgets: values.budgets,
    cpuProf: values['cpu-prof'],
    fromSource: values['from-source'] ?? false,
    soak: values.soak ? { minutes } : undefined,
    against,
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      ci: { type: 'boolean', default: false },
      out: { type: 'string' },
      budgets: { type: 'string' },
      'cpu-prof': { type: 'string' },
      reps: { type: 'string' },
      only: { type: 'string' },
      'from-source': { type: 'boolean', default: false },
      soak: { type: 'boolean', default: false },
      minutes: { type: 'string' },
      against: { type: 'string' },
    },
  });
}

// Configuration: the environment parses as zt parses it, and nothing in it is misspelled, unknown
// to zt, or an upstream setting zt ignores.
import { classifyVariable } from '../config-vars.ts';
import type { Target } from './target.ts';
import { type CheckResult, result } from './types.ts';

export function checkConfiguration(t: Target): CheckResult {
  const details: string[] = [];
  const misspelled: string[] = [];
  const unknown: string[] = [];
  const ignored: string[] = [];
  let read = 0;
  for (const name of Object.keys(t.env).sort()) {
    const c = classifyVariable(name);
    switch (c.t) {
      case 'read':
      case 'prefix':
        read++;
        break;
      case 'misspelled':
        misspelled.push(name);
        details.push(`${name} is not a variable zt reads: did you mean ${c.suggestion}?`);
        break;
      case 'unknown':
        unknown.push(name);
        details.push(`${name} is not a variable zt or upstream ztunnel reads`);
        break;
      case 'ignored':
        if (c.variable.matters) {
          ignored.push(name);
          details.push(
            `${name} is upstream's (${c.variable.effect}); zt does not implement it and ignores it`,
          );
        } else {
          details.push(`${name} is ignored by zt (${c.variable.effect}), which changes nothing that matters`);
        }
        break;
      case 'other':
        break;
    }
  }
  const where = `read from ${t.envSource}`;
  if (t.configError) {
    return result(
      'configuration',
      'fail',
      `zt cannot start with this environment: ${t.configError}`,
      [where, ...details],
      'fix the variable named above; zt refuses to start until it parses',
    );
  }
  if (misspelled.length) {
    return result(
      'configuration',
      'fail',
      `${misspelled.length === 1 ? 'a variable looks' : `${misspelled.length} variables look`} misspelled: ${misspelled.join(', ')}`,
      [where, ...details],
      'rename it to the variable it was meant to be (see the suggestion); as written, its setting is not applied',
    );
  }
  if (unknown.length || ignored.length) {
    return result(
      'configuration',
      'warn',
      `${[...unknown, ...ignored].join(', ')} ${unknown.length + ignored.length === 1 ? 'has' : 'have'} no effect on zt`,
      [where, ...details],
      'remove these variables, or use what zt reads instead (README, Configuration)',
    );
  }
  return result('configuration', 'pass', `the environment parses; ${read} zt variables set, none unknown`, [
    where,
    ...details,
  ]);
}

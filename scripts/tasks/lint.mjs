import { spawnSync } from 'node:child_process';
import { checkRepo } from '../depcheck.mjs';
import { ROOT } from './lib.mjs';

const fix = process.argv.includes('--fix');
const biome = spawnSync('biome', ['check', ...(fix ? ['--write'] : []), '.'], {
  stdio: 'inherit',
  cwd: ROOT,
});
const problems = checkRepo(ROOT);
for (const p of problems) console.error(`depcheck: ${p}`);
process.exit(biome.status === 0 && problems.length === 0 ? 0 : 1);

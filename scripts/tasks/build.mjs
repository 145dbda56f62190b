import { spawnSync } from 'node:child_process';
import { ROOT } from './lib.mjs';

const r = spawnSync('turbo', ['run', 'build', ...process.argv.slice(2)], { stdio: 'inherit', cwd: ROOT });
process.exit(r.status ?? 1);

import { execTs } from './lib.mjs';

execTs('apps/lab/src/demo/main.ts', process.argv.slice(2));

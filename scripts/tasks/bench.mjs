import { execTs } from './lib.mjs';

execTs('bench/src/main.ts', process.argv.slice(2));

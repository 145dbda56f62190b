import { execTs } from './lib.mjs';

execTs('apps/ztunnel/src/main.ts', process.argv.slice(2));

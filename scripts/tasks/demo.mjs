import { execTs } from './lib.mjs';

execTs('apps/ztunnel/src/demo/main.ts', process.argv.slice(2));

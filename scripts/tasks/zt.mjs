import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execTs, ROOT } from './lib.mjs';

// The Node flags the image's ENTRYPOINT passes (apps/ztunnel/package.json "ztNodeFlags").
const { ztNodeFlags = [] } = JSON.parse(readFileSync(join(ROOT, 'apps/ztunnel/package.json'), 'utf8'));
execTs('apps/ztunnel/src/main.ts', process.argv.slice(2), ztNodeFlags);

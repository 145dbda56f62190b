import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// A published package carries a copy of the schemas in ./proto (made at pack time); in the
// repository they live once, at the top-level proto/ folder.
function findProtoDir(): string {
  const candidates = [
    fileURLToPath(new URL('../proto', import.meta.url)),
    fileURLToPath(new URL('../../../proto', import.meta.url)),
  ];
  for (const dir of candidates) {
    if (existsSync(dir) && statSync(dir).isDirectory()) return dir;
  }
  throw new Error(`zt proto: no proto/ folder found (looked in ${candidates.join(', ')})`);
}

export const PROTO_DIR: string = findProtoDir();

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.proto')) out.push(relative(PROTO_DIR, p));
  }
  return out;
}

/** Every .proto file of the project, relative to PROTO_DIR, in a stable order. */
export function protoFiles(): string[] {
  return walk(PROTO_DIR, []);
}

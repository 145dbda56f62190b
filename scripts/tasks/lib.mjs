// Shared by the task scripts; runs under the pinned Node (>= 22.12).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// Workspace packages resolve each other to their TypeScript sources under this condition,
// so nothing needs building before it runs; published builds resolve to dist/.
export const SOURCE_CONDITION = '--conditions=zt-source';

/** Runs a TypeScript entry point of the workspace in the foreground, forwarding signals to it. */
export function execTs(entry, args, nodeFlags = []) {
  const child = spawn(process.execPath, [...nodeFlags, SOURCE_CONDITION, join(ROOT, entry), ...args], {
    stdio: 'inherit',
    cwd: ROOT,
  });
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => child.kill(sig));
  }
  child.on('exit', (code, signal) => {
    process.exit(signal ? 128 + 15 : (code ?? 1));
  });
}

// The app's public entry. The container runs main.ts; this is for apps/lab, which runs zt as a child
// process (the demo, the reliability suite) or inside its own process (the in-pod topologies).
import { fileURLToPath } from 'node:url';

export { type StartOptions, startZtunnel, type Ztunnel } from './app.ts';
export { type Config, ConfigError, loadConfig } from './config.ts';
export { formatReport } from './doctor/report.ts';
export { type DoctorOptions, runDoctor } from './doctor/run.ts';
export type { CheckResult, DoctorReport } from './doctor/types.ts';

/**
 * The file to hand `node` to run zt as its own process: `main.ts` when this module is loaded from
 * its sources (the zt-source condition, which the child then needs too), the built `main.js` else.
 */
export const MAIN_PATH: string = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './main.ts' : './main.js', import.meta.url),
);

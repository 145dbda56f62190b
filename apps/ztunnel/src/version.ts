import { readFileSync } from 'node:fs';

/** The app's package version; reported in logs, config_dump and istio_build. */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

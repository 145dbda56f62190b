// zt's entry point: read the environment, start, and drain on SIGTERM/SIGINT as upstream does.
import { startZtunnel } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`zt: ${e.message}\n`);
    process.exit(2);
  }
  throw e;
}

let zt: Awaited<ReturnType<typeof startZtunnel>>;
try {
  zt = await startZtunnel(config, { onExit: () => process.exit(0) });
} catch (e) {
  // A bad local config, an unreadable root certificate, a port in use: one clear line, exit 1.
  const err = e as Error & { code?: string };
  process.stderr.write(`zt: cannot start: ${err.message}${err.code ? ` (${err.code})` : ''}\n`);
  process.exit(1);
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    void zt.shutdown(signal);
  });
}

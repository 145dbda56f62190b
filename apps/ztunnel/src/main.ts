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

const zt = await startZtunnel(config, { onExit: () => process.exit(0) });
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    void zt.shutdown(signal);
  });
}

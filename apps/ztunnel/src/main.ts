// zt's entry point: read the environment, start, and drain on SIGTERM/SIGINT as upstream does.
import { startZtunnel } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';

// `zt doctor ...`: check a running zt and its surroundings instead of starting one.
if (process.argv[2] === 'doctor') {
  const { doctorMain } = await import('./doctor/cli.ts');
  process.exit(await doctorMain(process.argv.slice(3)));
}

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

let zt: Awaited<ReturnType<typeof startZtunnel>> | undefined;
// Started by a Node parent with an IPC channel (the demo, the bench): leave with it, even when it
// was SIGKILLed. A zt left behind keeps its SO_REUSEPORT listeners beside the next run's and takes
// half of that run's connections. Registered before start-up, which the parent may not outlive.
// A container or systemd start has no channel.
if (process.channel) {
  process.channel.unref();
  process.on('disconnect', () => {
    if (zt) void zt.shutdown('parent process exited');
    else process.exit(1);
  });
}
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

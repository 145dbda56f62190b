import { isIP } from 'node:net';
import { LogFilterError, type Logger, type LogLevelControl } from '@zt/log';
import { counter } from '@zt/metrics';
import { ADMIN_PAGE_CSP, ADMIN_PAGE_SCRIPT, adminPageHtml } from './admin-page.ts';
import { type ConfigDumpProvider, redactPrivateKeys } from './config-dump.ts';
import type { ConnectionsProvider, ConnectionsView } from './connections.ts';
import { AdminNotLoopbackError } from './errors.ts';
import { drain, methodNotAllowed, type RunningServer, send, serve } from './http.ts';
import { ProfileEndpoints, type Profiler } from './profile.ts';
import type { StatusProvider } from './status.ts';
import {
  matchesFilter,
  parseFilter,
  type RecentProvider,
  type RuleDescriber,
  trafficView,
} from './traffic.ts';
import { TRAFFIC_PAGE_SCRIPT } from './traffic-page.ts';

export const ADMIN_PORT = 15000;

export interface AdminServerOptions {
  /** Default 15000. */
  port?: number;
  /** Default 127.0.0.1; anything but loopback is refused. */
  host?: string;
  /** More loopback addresses on the same port (::1 beside 127.0.0.1); skipped where absent. */
  alsoHosts?: readonly string[];
  /** The `/config_dump` body (upstream's shape, see ConfigDump). */
  configDump: ConfigDumpProvider;
  /** The live connections for `/` and `/connections`. */
  connections: ConnectionsProvider;
  /** What `/logging` reads and changes: the app's Logging (every thread follows it). */
  logging: LogLevelControl;
  /** The closed connections and denials for `/connections?recent=1` (none when absent). */
  recent?: RecentProvider;
  /** Words for a policy's rule, shown beside the denials it caused. */
  describeRule?: RuleDescriber;
  /** `/status`: what `zt doctor` reads (404 when absent). */
  status?: StatusProvider;
  /** `/debug/cpuprofile` and `/debug/heapsnapshot` (404 when absent). */
  profiler?: Profiler;
  /**
   * Called once by `POST /quitquitquit`; resolves once drain has started. The reply waits for it
   * (at most `shutdownWaitMs`), as upstream answers only after its shutdown was triggered.
   */
  shutdown: () => void | Promise<void>;
  /** How long the reply waits for `shutdown` (upstream: the termination deadline). Default 5 s. */
  shutdownWaitMs?: number;
  logger?: Logger;
}

// Upstream's help text, with zt's scope names and the GET form zt also accepts.
export const LOGGING_HELP = `
usage: GET /logging or POST /logging\t\t\t\t(To list current level)
usage: POST /logging?level=<level>\t\t\t\t(To change global levels)
usage: POST /logging?level={scope1}={level1},{scope2}={level2}\t(To change specific scopes' logging level)
usage: POST /logging?reset\t\t\t\t\t(To restore the startup level, RUST_LOG)

hint: loglevel:\terror|warn|info|debug|trace|off
hint: scope:\tthe log scope, e.g. access, xds
`;

const redactions = counter(
  'zt_admin_config_dump_redactions_total',
  'Private keys removed from /config_dump output (a provider put key material in the dump: a bug to report)',
);

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '0:0:0:0:0:0:0:1' || host.toLowerCase().startsWith('::ffff:127.');
}

/** upstream's admin API: `/config_dump`, `/logging`, `/quitquitquit`, and a live home page. */
export function startAdminServer(opts: AdminServerOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  for (const h of [host, ...(opts.alsoHosts ?? [])])
    if (!isLoopback(h)) return Promise.reject(new AdminNotLoopbackError(h));
  let shuttingDown: Promise<void> | undefined;
  const log = opts.logger;
  const profiles = opts.profiler ? new ProfileEndpoints(opts.profiler) : undefined;

  return serve(
    'admin',
    async (req, res, url) => {
      const method = req.method ?? 'GET';
      const read = method === 'GET' || method === 'HEAD';
      switch (url.pathname) {
        case '/': {
          if (!read) return methodNotAllowed(res, 'GET, HEAD');
          res.setHeader('content-security-policy', ADMIN_PAGE_CSP);
          return send(res, 200, adminPageHtml(), 'text/html; charset=utf-8');
        }
        case '/dashboard.js':
          if (!read) return methodNotAllowed(res, 'GET, HEAD');
          return send(res, 200, ADMIN_PAGE_SCRIPT, 'text/javascript; charset=utf-8');
        case '/traffic.js':
          if (!read) return methodNotAllowed(res, 'GET, HEAD');
          return send(res, 200, TRAFFIC_PAGE_SCRIPT, 'text/javascript; charset=utf-8');
        case '/connections': {
          if (!read) return methodNotAllowed(res, 'GET, HEAD');
          const filter = parseFilter(url);
          const live = await opts.connections();
          const recent = url.searchParams.get('recent');
          const view: ConnectionsView =
            recent === null || recent === '0' || recent === 'false'
              ? { now: Date.now(), connections: live.filter((c) => matchesFilter(c, filter)) }
              : trafficView(live, (await opts.recent?.()) ?? [], filter, Date.now(), opts.describeRule);
          return send(res, 200, JSON.stringify(view), 'application/json');
        }
        case '/status':
          if (!opts.status) return send(res, 404, '');
          if (!read) return methodNotAllowed(res, 'GET, HEAD');
          return send(res, 200, JSON.stringify(await opts.status(), null, 2), 'application/json');
        case '/debug/cpuprofile':
        case '/debug/heapsnapshot':
          if (!profiles) return send(res, 404, '');
          if (method !== 'GET') return methodNotAllowed(res, 'GET');
          return url.pathname === '/debug/cpuprofile'
            ? profiles.cpuprofile(res, url)
            : profiles.heapsnapshot(res, url);
        case '/config_dump': {
          if (!read) return methodNotAllowed(res, 'GET, HEAD');
          const { value, redacted } = redactPrivateKeys(await opts.configDump());
          if (redacted > 0) {
            redactions.inc(redacted);
            log?.error({ redacted }, 'config dump provider returned private key material; it was redacted');
          }
          return send(res, 200, JSON.stringify(value, null, 2), 'application/json');
        }
        case '/logging':
          return logging(method, url);
        case '/quitquitquit': {
          if (method !== 'POST') return methodNotAllowed(res, 'POST');
          await drain(req);
          if (!shuttingDown) {
            log?.info('shutdown requested through the admin API');
            shuttingDown = Promise.resolve()
              .then(opts.shutdown)
              .catch((err: unknown) => log?.error({ err }, 'shutdown failed'));
          }
          // Answer once drain has started (readiness already failing), not before: a caller that
          // sees the reply can rely on zt taking no new work. Bounded, so the caller is not left
          // hanging on a shutdown that stalls.
          let timer: NodeJS.Timeout | undefined;
          const waited = await Promise.race([
            shuttingDown.then(() => true),
            new Promise<false>((resolve) => {
              timer = setTimeout(() => resolve(false), opts.shutdownWaitMs ?? 5000);
            }),
          ]);
          clearTimeout(timer);
          if (!waited) log?.warn('shutdown did not start in time; answering /quitquitquit anyway');
          return send(res, 200, 'shutdown now\n');
        }
        default:
          return send(res, 404, '');
      }

      function logging(method: string, url: URL): void {
        const level = url.searchParams.get('level');
        const reset = url.searchParams.has('reset');
        const current = () => send(res, 200, `current log level is ${opts.logging.level()}\n`);
        if (method === 'GET' || method === 'HEAD') {
          if (level !== null || reset)
            methodNotAllowed(res, 'POST', `use POST to change the level\n${LOGGING_HELP}`);
          else current();
        } else if (method !== 'POST') {
          methodNotAllowed(res, 'GET, POST', `Invalid HTTP method\n ${LOGGING_HELP}`);
        } else if ((level === null || level === '') && !reset) {
          current();
        } else {
          try {
            opts.logging.setLevel(level ?? '', reset);
          } catch (err) {
            if (!(err instanceof LogFilterError)) throw err;
            send(res, 400, `Invalid level provided: ${level}\n${LOGGING_HELP}`);
            return;
          }
          current();
        }
      }
    },
    { port: opts.port ?? ADMIN_PORT, host, alsoHosts: opts.alsoHosts, logger: log },
  );
}

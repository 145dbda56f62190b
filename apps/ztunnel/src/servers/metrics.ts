import type { Logger } from '@zt/log';
import { PROMETHEUS_CONTENT_TYPE } from '@zt/metrics';
import { methodNotAllowed, type RunningServer, send, serve } from './http.ts';

export const METRICS_PORT = 15020;

export interface MetricsServerOptions {
  /** Default 15020. */
  port?: number;
  /** Default: all addresses (Prometheus scrapes the pod IP). */
  host?: string;
  /** The exposition text: the main registry plus the workers' (`WorkerMetrics.text()` of @zt/metrics). */
  text: () => Promise<string>;
  logger?: Logger;
}

/** Prometheus scrape endpoint, on upstream's port and both of its paths. */
export function startMetricsServer(opts: MetricsServerOptions): Promise<RunningServer> {
  return serve(
    'metrics',
    async (req, res, url) => {
      if (url.pathname !== '/metrics' && url.pathname !== '/stats/prometheus') return send(res, 404, '');
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, 'GET, HEAD');
      send(res, 200, await opts.text(), PROMETHEUS_CONTENT_TYPE);
    },
    { port: opts.port ?? METRICS_PORT, host: opts.host, logger: opts.logger },
  );
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@zt/log';
import { counter } from '@zt/metrics';
import { ServerListenError } from './errors.ts';

/** A started server: where it listens and how to stop it. */
export interface RunningServer {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`, IPv6 hosts bracketed. */
  readonly url: string;
  /** Stop accepting, drop keep-alive connections, resolve when closed. */
  close(): Promise<void>;
}

export interface ListenOptions {
  port: number;
  /** Unset: Node's default (all addresses, dual-stack where IPv6 is on). */
  host?: string | undefined;
  logger?: Logger | undefined;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

const handlerErrors = counter(
  'zt_server_request_errors_total',
  'Requests to the admin, metrics or readiness servers that failed inside zt',
  ['server'],
);

export function send(
  res: ServerResponse,
  status: number,
  body: string,
  contentType = 'text/plain; charset=utf-8',
): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export function methodNotAllowed(res: ServerResponse, allow: string, body = ''): void {
  res.setHeader('allow', allow);
  send(res, 405, body);
}

/** Read a small request body (admin POSTs carry their arguments in the query; the body is drained). */
export async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req) {
    // discard
  }
}

export async function serve(name: string, handler: Handler, opts: ListenOptions): Promise<RunningServer> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://zt.invalid');
    Promise.resolve()
      .then(() => handler(req, res, url))
      .catch((err: unknown) => {
        handlerErrors.inc({ server: name });
        opts.logger?.error({ err, path: url.pathname }, `${name} request failed`);
        if (!res.headersSent) send(res, 500, `internal error: ${(err as Error).message ?? String(err)}\n`);
        else res.destroy();
      });
  });
  // Probes and scrapers keep connections alive; on close we want to be gone, not wait for them.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: unknown) => reject(new ServerListenError(name, opts.host ?? '*', opts.port, err));
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.address;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
  opts.logger?.info({ address: `${host}:${addr.port}` }, `${name} server listening`);
  return {
    host,
    port: addr.port,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

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
  /** Every address bound: `host`, then those of `alsoHosts` this machine has. */
  readonly hosts: readonly string[];
  /** Stop accepting, drop keep-alive connections, resolve when closed. */
  close(): Promise<void>;
}

export interface ListenOptions {
  port: number;
  /** Unset: Node's default (all addresses, dual-stack where IPv6 is on). */
  host?: string | undefined;
  /**
   * Further addresses served on the same port (the admin API's ::1 beside 127.0.0.1, as upstream
   * binds localhost on both families). One whose family this host lacks is skipped.
   */
  alsoHosts?: readonly string[] | undefined;
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
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://zt.invalid');
    Promise.resolve()
      .then(() => handler(req, res, url))
      .catch((err: unknown) => {
        handlerErrors.inc({ server: name });
        opts.logger?.error({ err, path: url.pathname }, `${name} request failed`);
        if (!res.headersSent) send(res, 500, `internal error: ${(err as Error).message ?? String(err)}\n`);
        else res.destroy();
      });
  };
  const first = await listen(name, onRequest, opts.host, opts.port);
  const addr = first.address() as AddressInfo;
  const servers = [first];
  const hosts = [addr.address];
  for (const extra of opts.alsoHosts ?? []) {
    try {
      servers.push(await listen(name, onRequest, extra, addr.port));
      hosts.push(extra);
    } catch (e) {
      const code = ((e as ServerListenError).cause as NodeJS.ErrnoException | undefined)?.code;
      // No such address family here (IPv6 off, no ::1): serve on the others, as upstream does.
      if (code !== 'EADDRNOTAVAIL' && code !== 'EAFNOSUPPORT') {
        for (const s of servers) s.close();
        throw e;
      }
      opts.logger?.debug({ address: extra, code }, `${name} server: address unavailable, not bound`);
    }
  }
  const host = addr.address;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
  opts.logger?.info(
    { address: hosts.map((h) => `${h}:${addr.port}`).join(', ') },
    `${name} server listening`,
  );
  return {
    host,
    port: addr.port,
    url,
    hosts,
    close: () =>
      Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      ).then(() => undefined),
  };
}

async function listen(
  name: string,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
  host: string | undefined,
  port: number,
): Promise<Server> {
  const server: Server = createServer(onRequest);
  // Probes and scrapers keep connections alive; on close we want to be gone, not wait for them.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: unknown) => reject(new ServerListenError(name, host ?? '*', port, err));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return server;
}

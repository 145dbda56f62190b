// One side of the kernel-TLS spike's HBONE-shaped pair, in its own process so its CPU is its own:
//   node pair.ts server <variant>            prints {"port"} then, per tunnel, {"bytes","cpuUs"}
//   node pair.ts client <variant> <port> <bytes>   prints {"ms","cpuUs","cipher"}
// Variants: "tls" is today's path (HTTP/2 over node:tls, TLS 1.3, mutual certificates); "plain" is
// the same HTTP/2 session over bare TCP: no encryption at all, the ceiling any TLS offload can reach;
// "ktls" does the tls handshake, hands the record layer to the kernel (@zt/native's handoff) and runs
// HTTP/2 over the plain socket. "ktls" needs a kernel with TLS (CONFIG_TLS); compare.ts skips it
// elsewhere.
// TLS material comes from the files named by ZT_KTLS_TLS (JSON of bench's TlsFiles).
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { createSecureContext, type TLSSocket } from 'node:tls';
import { enableKernelTlsHandoff, tlsHandshakeForHandoff } from '@zt/native';

// zt's HBONE defaults (packages/transport/src/config.ts): 1 MiB stream window, 2 MiB connection
// window, 1 MiB frames.
const STREAM_WINDOW = 1024 * 1024;
const CONNECTION_WINDOW = 2 * 1024 * 1024;
const FRAME_SIZE = 1024 * 1024;
const CHUNK = 64 * 1024;

const [role, variant, portArg, bytesArg] = process.argv.slice(2);
if (variant !== 'tls' && variant !== 'plain' && variant !== 'ktls')
  throw new Error(`unknown variant ${variant}`);
// The kernel handoff lingers this long after the handshake so the server's two session tickets
// are dropped in userspace: the kernel's plain read() would fail on them.
const LINGER_MS = 50;

function tlsFiles(): { root: string; cert: string; key: string; ccert: string; ckey: string } {
  const f = JSON.parse(process.env['ZT_KTLS_TLS'] ?? '{}') as Record<string, string>;
  const read = (k: string): string => readFileSync(f[k] ?? '', 'utf8');
  return {
    root: read('root'),
    cert: read('serverCert'),
    key: read('serverKey'),
    ccert: read('clientCert'),
    ckey: read('clientKey'),
  };
}

const settings = { initialWindowSize: STREAM_WINDOW, maxFrameSize: FRAME_SIZE, enablePush: false };
const cpuUs = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since);
  return d.user + d.system;
};

if (role === 'server') {
  const onStream = (stream: http2.ServerHttp2Stream): void => {
    const start = process.cpuUsage();
    let bytes = 0;
    stream.respond({ ':status': 200 });
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.on('end', () => {
      stream.end(() => {
        process.stdout.write(`${JSON.stringify({ bytes, cpuUs: cpuUs(start) })}\n`);
      });
    });
  };
  const onSession = (s: http2.ServerHttp2Session): void => s.setLocalWindowSize(CONNECTION_WINDOW);
  let server: http2.Http2Server | http2.Http2SecureServer;
  let listener: net.Server | undefined;
  if (variant === 'ktls') {
    const t = tlsFiles();
    const secureContext = createSecureContext({
      cert: t.cert,
      key: t.key,
      ca: t.root,
      minVersion: 'TLSv1.3',
    });
    server = http2.createServer({ settings });
    const h2 = server;
    listener = net.createServer((raw) => {
      tlsHandshakeForHandoff(raw, {
        isServer: true,
        secureContext,
        requestCert: true,
        ALPNProtocols: ['h2'],
        lingerMs: LINGER_MS,
      }).then(
        (h) => {
          if (!h.authorized) throw new Error('client certificate not trusted');
          enableKernelTlsHandoff(raw, h);
          h2.emit('connection', raw);
        },
        (e: unknown) => {
          process.stderr.write(`ktls server handoff: ${String(e)}\n`);
          raw.destroy();
        },
      );
    });
  } else if (variant === 'tls') {
    const t = tlsFiles();
    server = http2.createSecureServer({
      cert: t.cert,
      key: t.key,
      ca: t.root,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['h2'],
      settings,
    });
  } else {
    server = http2.createServer({ settings });
  }
  server.on('session', onSession);
  server.on('stream', onStream);
  const listening = listener ?? server;
  listening.listen(0, '127.0.0.1', () => {
    const addr = listening.address();
    if (addr && typeof addr === 'object') process.stdout.write(`${JSON.stringify({ port: addr.port })}\n`);
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
} else {
  const port = Number(portArg);
  const total = Number(bytesArg);
  const t = variant === 'tls' ? tlsFiles() : undefined;
  let raw: net.Socket | undefined;
  let cipher = 'none';
  if (variant === 'ktls') {
    const k = tlsFiles();
    raw = net.connect(port, '127.0.0.1');
    await new Promise((resolve, reject) => {
      raw?.once('connect', resolve);
      raw?.once('error', reject);
    });
    const h = await tlsHandshakeForHandoff(raw, {
      isServer: false,
      ca: k.root,
      cert: k.ccert,
      key: k.ckey,
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['h2'],
      servername: 'localhost',
      checkServerIdentity: () => undefined,
      lingerMs: LINGER_MS,
    });
    enableKernelTlsHandoff(raw, h);
    cipher = `${h.cipher} (kernel)`;
  }
  const kernelSocket = raw;
  const session = http2.connect(
    `${t ? 'https' : 'http'}://127.0.0.1:${port}`,
    kernelSocket
      ? { settings, createConnection: () => kernelSocket }
      : t
        ? {
            ca: t.root,
            cert: t.ccert,
            key: t.ckey,
            minVersion: 'TLSv1.3',
            servername: 'localhost',
            checkServerIdentity: () => undefined,
            settings,
          }
        : { settings },
  );
  session.on('connect', () => {
    session.setLocalWindowSize(CONNECTION_WINDOW);
    if (t) cipher = (session.socket as TLSSocket).getCipher?.().standardName ?? '';
    const started = performance.now();
    const start = process.cpuUsage();
    const stream = session.request({ ':method': 'CONNECT', ':authority': '127.0.0.1:9' });
    const chunk = Buffer.alloc(CHUNK, 0x5a);
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        sent += CHUNK;
        if (!stream.write(chunk)) {
          stream.once('drain', pump);
          return;
        }
      }
      stream.end();
    };
    stream.on('response', pump);
    stream.resume();
    stream.on('end', () => {
      const ms = performance.now() - started;
      process.stdout.write(`${JSON.stringify({ ms, cpuUs: cpuUs(start), cipher })}\n`);
      session.close(() => process.exit(0));
    });
  });
}

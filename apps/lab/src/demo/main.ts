// `npm run demo`: a local mesh on loopback. A built-in control plane (our xDS and CA servers, in a
// process of their own), two zt processes as two nodes, sample workloads, a service VIP and a deny
// policy; traffic flows through HBONE with mTLS and the demo narrates what happens.
//
//   node-a: zt on 127.0.20.2, pods sleep (127.0.21.10, ns frontend) and intruder (127.0.21.20, ns untrusted)
//   node-b: zt on 127.0.20.3, pods echo (127.0.22.10:8080) and web (127.0.22.11:8081), ns backend
//   service echo.backend.svc.cluster.local: VIP 127.10.0.10:80 -> echo:8080
//   policy backend/deny-untrusted: DENY from namespace untrusted
//
// `--duration <s>` stops after s seconds and exits 0 only if traffic went end to end through mTLS
// and the deny policy denied.
import { type ChildProcess, spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { socksDial } from '@zt/core/testing';
import { MAIN_PATH } from '@zt/ztunnel';

const { values: args } = parseArgs({
  options: { duration: { type: 'string' }, quiet: { type: 'boolean', default: false } },
});
const durationS = args.duration === undefined ? undefined : Number(args.duration);
if (durationS !== undefined && !(durationS > 0)) {
  console.error('demo: --duration takes a number of seconds > 0');
  process.exit(2);
}

const color = process.stdout.isTTY
  ? (c: number, s: string) => `\x1b[${c}m${s}\x1b[0m`
  : (_c: number, s: string) => s;
const green = (s: string) => color(32, s);
const red = (s: string) => color(31, s);
const dim = (s: string) => color(2, s);
const bold = (s: string) => color(1, s);

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

const NODES = [
  { name: 'node-a', ip: '127.0.20.2' },
  { name: 'node-b', ip: '127.0.20.3' },
] as const;
const VIP = { host: '127.10.0.10', port: 80 };
const SLEEP_IP = '127.0.21.10';
const INTRUDER_IP = '127.0.21.20';
const ECHO = { host: '127.0.22.10', port: 8080 };
const WEB = { host: '127.0.22.11', port: 8081 };

const children: ChildProcess[] = [];
const servers: Server[] = [];

function spawnTs(file: string, env: Record<string, string>, args: string[] = []): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--conditions=zt-source', fileURLToPath(new URL(file, import.meta.url)), ...args],
    {
      env: { ...process.env, ...env },
      // The IPC channel ties zt to the demo: zt leaves when the demo dies, however it dies.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  children.push(child);
  return child;
}

// --- the control plane ---------------------------------------------------------------------------
say(bold('zt demo: a two-node mesh on loopback'));
const cp = spawnTs('./control-plane.ts', {});
const cpInfo = await new Promise<{ xds: string; ca: string }>((resolve, reject) => {
  const rl = createInterface({ input: cp.stdout! });
  rl.once('line', (line) => resolve(JSON.parse(line) as { xds: string; ca: string }));
  cp.once('exit', (code) => reject(new Error(`control plane exited (${code}) before it started`)));
});
cp.stderr!.on('data', (d: Buffer) => process.stderr.write(dim(`[control-plane] ${d}`)));
say(`control plane: xDS ${cpInfo.xds}, CA ${cpInfo.ca}`);

// --- the sample workloads (the "pods" of node-b) ---------------------------------------------------
function listen(server: Server, host: string, port: number): Promise<void> {
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}
await listen(
  createServer((s) => s.pipe(s)),
  ECHO.host,
  ECHO.port,
);
await listen(
  createHttpServer((_req, res) => res.end('hello from web in backend\n')),
  WEB.host,
  WEB.port,
);
say(
  `workloads: echo ${ECHO.host}:${ECHO.port}, web ${WEB.host}:${WEB.port} (node-b); sleep ${SLEEP_IP}, intruder ${INTRUDER_IP} (node-a)`,
);

// --- two zt nodes -----------------------------------------------------------------------------------
interface Tally {
  mtlsInbound: number;
  denied: number;
}
const tally: Tally = { mtlsInbound: 0, denied: 0 };

function narrate(node: string, line: string): void {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    say(dim(`[${node}] ${line}`));
    return;
  }
  const msg = String(rec['message'] ?? '');
  if (rec['scope'] === 'access' && msg === 'connection complete') {
    const dir = String(rec['direction']);
    const src = `${rec['src.workload'] ?? rec['src.addr']}${rec['src.namespace'] ? `.${rec['src.namespace']}` : ''}`;
    const dst = `${rec['dst.workload'] ?? rec['dst.addr']}${rec['dst.namespace'] ? `.${rec['dst.namespace']}` : ''}`;
    const ids = rec['src.identity'] ? ` ${dim(`${rec['src.identity']} -> ${rec['dst.identity']}`)}` : '';
    const bytes = `sent ${rec['bytes_sent']} B, recv ${rec['bytes_recv']} B, ${rec['duration']}`;
    const err = rec['error'] ? String(rec['error']) : undefined;
    if (dir === 'inbound' && rec['src.identity'] && !err) tally.mtlsInbound++;
    if (dir === 'inbound' && err && /denied|policy|401/i.test(err)) tally.denied++;
    const verdict = err ? red(`✘ ${err}`) : green('✔');
    if (!args.quiet) say(`[${node}] ${dir.padEnd(8)} ${src} -> ${dst}${ids} ${bytes} ${verdict}`);
    return;
  }
  if (rec['level'] === 'warn' || rec['level'] === 'error' || rec['level'] === 'fatal') {
    say(`[${node}] ${String(rec['level'])}: ${msg} ${dim(JSON.stringify(rec))}`);
  }
}

for (const n of NODES) {
  const zt = spawnTs(MAIN_PATH, {
    XDS_ADDRESS: cpInfo.xds,
    CA_ADDRESS: cpInfo.ca,
    CLUSTER_ID: 'demo',
    NODE_NAME: n.name,
    POD_NAME: `ztunnel-${n.name}`,
    POD_NAMESPACE: 'istio-system',
    INSTANCE_IP: n.ip,
    // zt's loopback lab: no istio-cni here, every node on an address of this host.
    ZT_LAB_MODE: 'true',
    ZT_BIND_ADDRESS: n.ip,
    ZT_PER_WORKLOAD_LISTENERS: 'true',
    UNSTABLE_ENABLE_SOCKS5: 'true',
    ZTUNNEL_WORKER_THREADS: '1',
    RUST_LOG: 'info',
    // Narrated from its JSON lines.
    LOG_FORMAT: 'json',
  });
  createInterface({ input: zt.stdout! }).on('line', (l) => narrate(n.name, l));
  createInterface({ input: zt.stderr! }).on('line', (l) => say(dim(`[${n.name}] ${l}`)));
  zt.once('exit', (code, signal) => {
    if (!stopping) {
      say(red(`[${n.name}] zt exited unexpectedly (${signal ?? code})`));
      void stop(1);
    }
  });
}

async function waitReady(ip: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://${ip}:15021/healthz/ready`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`zt on ${ip} did not become ready within 60 s (see its log lines above)`);
}
await Promise.all(NODES.map((n) => waitReady(n.ip)));
for (const n of NODES) {
  say(`${bold(n.name)} ready`);
  say(`  metrics: http://${n.ip}:15020/metrics`);
  say(`  hbone: ${n.ip}:15008`);
  say(`  admin: http://${n.ip}:15000/  (live and recent connections, denials, profiling)`);
}

// --- traffic -----------------------------------------------------------------------------------------
const results = { ok: 0, denied: 0, failed: 0 };
/** Name resolution through node-a's DNS proxy, then a connection to what it answered. */
const dnsResult = { resolved: '', connected: false };

/**
 * Resolves `name` as the sleep workload would: a real resolver client, its queries sent from
 * sleep's address (the proxy finds the client by source address, on the node) to node-a's DNS proxy.
 */
async function resolveFromSleep(name: string): Promise<string | undefined> {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`${NODES[0].ip}:15053`]);
  r.setLocalAddress(SLEEP_IP);
  try {
    return (await r.resolve4(name))[0];
  } catch (e) {
    say(red(`✘ sleep could not resolve ${name}: ${(e as Error).message}`));
    return undefined;
  }
}

/** One request/response through zt on node-a; resolves with the response, or undefined if refused. */
async function exchange(
  from: string,
  dest: { host: string; port: number },
  payload: string,
): Promise<string | undefined> {
  let sock: Awaited<ReturnType<typeof socksDial>>;
  try {
    sock = await socksDial({ address: NODES[0].ip, port: 15080 }, from, {
      address: dest.host,
      port: dest.port,
    });
  } catch {
    return undefined;
  }
  return new Promise((resolve) => {
    let got = '';
    const timer = setTimeout(() => sock.destroy(), 5000);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      got += d;
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(got.length > 0 ? got : undefined);
    });
    sock.on('error', () => undefined);
    sock.end(payload);
  });
}

async function dnsRound(): Promise<void> {
  // `echo.backend`: sleep is in frontend, so the name needs the namespace; the proxy expands it.
  const vip = await resolveFromSleep('echo.backend');
  if (vip === undefined) {
    results.failed++;
    return;
  }
  dnsResult.resolved = vip;
  const echoed = await exchange(SLEEP_IP, { host: vip, port: VIP.port }, 'found you by name');
  dnsResult.connected = echoed === 'found you by name';
  if (dnsResult.connected) {
    results.ok++;
    say(
      green(
        `✔ sleep resolved echo.backend to ${vip} (zt's DNS proxy on node-a) and connected to it through the mesh`,
      ),
    );
  } else {
    results.failed++;
    say(red(`✘ sleep resolved echo.backend to ${vip} but the connection failed`));
  }
}

let round = 0;
async function trafficRound(): Promise<void> {
  round++;
  if (round === 1) await dnsRound();
  const msg = `hello #${round} from sleep`;
  const echoed = await exchange(SLEEP_IP, VIP, msg);
  if (echoed === msg) {
    results.ok++;
    say(
      green(
        `✔ sleep -> echo.backend.svc (VIP ${VIP.host}:${VIP.port}): "${echoed}" echoed back over HBONE mTLS`,
      ),
    );
  } else {
    results.failed++;
    say(red(`✘ sleep -> echo.backend.svc: no echo (${echoed === undefined ? 'refused' : 'mangled'})`));
  }
  const page = await exchange(SLEEP_IP, WEB, `GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n`);
  if (page?.includes('hello from web')) {
    results.ok++;
    say(
      green(
        `✔ sleep -> web ${WEB.host}:${WEB.port}: HTTP ${page.split(' ')[1]} "${page.split('\r\n\r\n')[1]?.trim()}"`,
      ),
    );
  } else {
    results.failed++;
    say(red('✘ sleep -> web: no response'));
  }
  const intruder = await exchange(INTRUDER_IP, VIP, 'let me in');
  if (intruder === undefined) {
    results.denied++;
    say(
      green(`✔ intruder (ns untrusted) -> echo.backend.svc: denied, as policy backend/deny-untrusted says`),
    );
  } else {
    results.failed++;
    say(red(`✘ intruder got through: "${intruder}" — the deny policy did not hold`));
  }
}

/** `zt doctor` against node-a, once, as an operator would run it: one verdict per check. */
async function doctor(): Promise<void> {
  const d = spawn(
    process.execPath,
    ['--conditions=zt-source', MAIN_PATH, 'doctor', '--admin', `http://${NODES[0].ip}:15000`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  d.stdout.on('data', (b: Buffer) => (out += b));
  d.stderr.on('data', (b: Buffer) => (out += b));
  const code = await new Promise<number | null>((resolve) => d.once('exit', resolve));
  say(bold(`zt doctor on node-a (exit ${code})`));
  for (const line of out.trimEnd().split('\n')) say(`  ${line}`);
}

let stopping = false;
async function stop(code: number): Promise<never> {
  stopping = true;
  const end = (cs: ChildProcess[]) => {
    for (const c of cs) c.kill('SIGTERM');
    return Promise.all(
      cs.map((c) =>
        c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once('exit', r)),
      ),
    );
  };
  // The zt nodes first, then the control plane (started first): stopped together, the nodes
  // logged the control plane's going away as xDS stream errors while they drained.
  await end(children.filter((c) => c !== cp));
  await end([cp]);
  for (const s of servers) s.close();
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

const started = Date.now();
say(bold(`traffic: every second${durationS ? ` for ${durationS} s` : ' until Ctrl-C'}`));
while (!stopping && (durationS === undefined || Date.now() - started < durationS * 1000)) {
  await trafficRound();
  if (round === 1 && !stopping) await doctor();
  await new Promise((r) => setTimeout(r, 1000));
}

// --- verdict (with --duration) -----------------------------------------------------------------------
const metrics = await fetch(`http://${NODES[1].ip}:15020/metrics`).then((r) => r.text());
const mtlsOpened = metrics
  .split('\n')
  .filter(
    (l) =>
      l.startsWith('istio_tcp_connections_opened_total{') &&
      l.includes('reporter="destination"') &&
      l.includes('connection_security_policy="mutual_tls"') &&
      l.includes('source_principal="spiffe://cluster.local/ns/frontend/sa/sleep"'),
  )
  .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
say(bold('summary'));
say(
  `  end-to-end exchanges ok: ${results.ok}, denied as expected: ${results.denied}, failed: ${results.failed}`,
);
say(
  `  node-b counted ${mtlsOpened} inbound mTLS connections from spiffe://cluster.local/ns/frontend/sa/sleep`,
);
say(`  node-b logged ${tally.mtlsInbound} inbound mTLS connections and ${tally.denied} policy denials`);
say(
  `  DNS: sleep resolved echo.backend to ${dnsResult.resolved || 'nothing'} via node-a's DNS proxy and ${dnsResult.connected ? 'connected to it' : 'did not connect'}`,
);
const pass =
  results.ok > 0 &&
  results.denied > 0 &&
  results.failed === 0 &&
  mtlsOpened > 0 &&
  tally.denied > 0 &&
  dnsResult.connected;
say(pass ? green('PASS: traffic crossed the mesh with mTLS and the deny policy denied') : red('FAIL'));
await stop(pass ? 0 : 1);

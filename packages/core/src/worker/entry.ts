// Entry point of a data-plane worker thread: one ProxyEngine, driven by the main thread's messages.
import { parentPort, workerData } from 'node:worker_threads';
import { Logging } from '@zt/log';
import { metricsSnapshot, startRuntimeMetrics } from '@zt/metrics';
import { CertificateUnavailableError, NotInWorkerError } from '../errors.ts';
import { nativeSocketOps } from '../native.ts';
import { takeCpuProfile } from '../profile.ts';
import { ProxyEngine } from '../proxy.ts';
import { RemoteCertSource } from './certs.ts';
import type {
  MainToWorker,
  WireCert,
  WorkerInit,
  WorkerRequest,
  WorkerResults,
  WorkerToMain,
} from './types.ts';

const port = parentPort;
if (!port) throw new NotInWorkerError('worker/entry.ts');
const init = workerData as WorkerInit;
// Event-loop delay and GC pauses of this thread, beside the main thread's (zt_event_loop_delay_seconds).
startRuntimeMetrics(`worker-${init.index}`);
// The main thread's filter, format and output, so workers' lines (access logs among them) match
// its lines and obey its RUST_LOG and `/logging` changes.
const logging = new Logging(init.log);
const log = logging.scope('proxy');

let nextCert = 0;
const pendingCerts = new Map<
  number,
  { identity: string; resolve: (c: WireCert) => void; reject: (e: Error) => void }
>();
const certs = new RemoteCertSource(
  (identity) =>
    new Promise((resolve, reject) => {
      const id = ++nextCert;
      pendingCerts.set(id, { identity, resolve, reject });
      post({ t: 'cert-req', id, identity });
    }),
);

const proxy = new ProxyEngine(init.config, {
  certs,
  log,
  accessLog: logging.access,
  dnsLog: logging.scope('dns'),
  ops: await nativeSocketOps(),
  idPrefix: `w${init.index}.${init.generation}-`,
});

function post(m: WorkerToMain): void {
  port?.postMessage(m);
}

async function handle(body: WorkerRequest): Promise<WorkerResults[keyof WorkerResults]> {
  switch (body.t) {
    case 'start':
      return proxy.start(body.ports ?? {});
    case 'connections':
      return proxy.connections();
    case 'metrics':
      return metricsSnapshot();
    case 'drain':
      await proxy.drain(body.deadlineMs);
      return null;
    case 'close':
      await proxy.close();
      return null;
    case 'recent':
      return proxy.recent();
    case 'dns-dump':
      return proxy.dnsDump() ?? null;
    case 'cpuprofile':
      return takeCpuProfile(body.seconds);
    case 'pod-add':
      return proxy.addPod(body.pod);
    case 'pod-del':
      await proxy.removePod(body.uid);
      return null;
  }
}

port.on('message', (m: MainToWorker) => {
  switch (m.t) {
    case 'req':
      handle(m.body).then(
        (value) => post({ t: 'res', id: m.id, ok: true, value }),
        (e: unknown) =>
          post({ t: 'res', id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) }),
      );
      break;
    case 'state':
      // Acknowledged either way: a failure is logged here, and the main thread's wait must end.
      proxy
        .setState(m.snapshot)
        .catch((e: unknown) => log.error({ err: e, version: m.snapshot.version }, 'state update failed'))
        .finally(() => post({ t: 'state-applied', seq: m.seq }));
      break;
    case 'log-filter':
      logging.follow(m.filter);
      break;
    case 'pods':
      proxy.setPods(m.pods).catch((e: unknown) => log.error({ err: e }, 'pod update failed'));
      break;

    case 'cert-res': {
      const p = pendingCerts.get(m.id);
      pendingCerts.delete(m.id);
      if (m.cert) p?.resolve(m.cert);
      else if (p) p.reject(new CertificateUnavailableError(p.identity, m.error ?? 'the CA gave none'));
      break;
    }
    case 'cert-rotated':
      certs.rotated(m.cert);
      break;
  }
});

// Wiring: configuration in, a running zt out. Every decision of substance lives in the packages;
// this file only connects them and owns the order of start-up and shutdown.
import { existsSync, readFileSync } from 'node:fs';
import {
  type BoundListener,
  type ConnectionInfo,
  DataPlane,
  DEFAULT_HBONE_PORT,
  type DnsProxyConfig,
} from '@zt/core';
import { errorMessage } from '@zt/errors';
import {
  CaClient,
  type CertificateProvider,
  CsrWorkerPool,
  FakeCaProvider,
  SecretManager,
} from '@zt/identity';
import { enableListenerHandoff, ZdsClient } from '@zt/inpod';
import { Logging } from '@zt/log';
import { recordBuildInfo, startProcessMetrics, startRuntimeMetrics } from '@zt/metrics';
import { loadLocalConfig, type StateSnapshot, StateStore, XdsClient } from '@zt/xds';
import { CertPrefetch, prefetchForPods } from './cert-prefetch.ts';
import { type Config, ConfigError } from './config.ts';
import { wireOps } from './ops.ts';
import { podInfo } from './pod-netns.ts';
import {
  buildConfigDump,
  buildInfo,
  Readiness,
  type RunningServer,
  startAdminServer,
  startMetricsServer,
  startReadinessServer,
} from './servers/index.ts';
import { VERSION } from './version.ts';

export interface Ztunnel {
  readonly logging: Logging;
  readonly readiness: Readiness;
  readonly dataPlane: DataPlane;
  readonly store: StateStore;
  readonly secrets: SecretManager;
  /** Listener addresses actually bound (ports may be 0 in tests). */
  readonly bound: BoundListener[];
  readonly servers: { admin: RunningServer; metrics: RunningServer; readiness: RunningServer };
  /** Drain (readiness false, GOAWAY, deadline) and stop everything. Idempotent. */
  shutdown(reason: string): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string | undefined>;
  /** Called once shutdown is complete (main.ts exits the process). */
  onExit?: () => void;
}

/** A file path, inline PEM, or `SYSTEM` (the system roots), as upstream reads XDS_ROOT_CA / CA_ROOT_CA. */
function readRoots(source: string): string | undefined {
  if (source === 'SYSTEM') return undefined;
  if (source.includes('-----BEGIN')) return source;
  return existsSync(source) ? readFileSync(source, 'utf8') : undefined;
}

async function certificateProvider(
  config: Config,
  log: Logging,
  csrPool: CsrWorkerPool,
): Promise<CertificateProvider> {
  if (config.fakeCa) return FakeCaProvider.create({ ttlSeconds: Math.round(config.secretTtlMs / 1000) });
  if (!config.caAddress) throw new ConfigError('CA_ADDRESS', '', 'the CA address, unless FAKE_CA=true');
  const rootCert = config.caAddress.startsWith('https:') ? readRoots(config.caRootCaPath) : undefined;
  return new CaClient({
    address: config.caAddress,
    ...(rootCert ? { rootCert } : {}),
    ...(config.altCaHostname ? { altHostname: config.altCaHostname } : {}),
    ...(config.authTokenPath ? { tokenPath: config.authTokenPath } : {}),
    ...(config.authToken ? { token: config.authToken } : {}),
    clusterId: config.clusterId,
    headers: config.caHeaders,
    ttlSeconds: Math.round(config.secretTtlMs / 1000),
    // CSR encoding costs ~3.5 ms of main-thread time each; a worker keeps the event loop free.
    csrGenerator: csrPool.generate,
    logger: log.scope('cert'),
  });
}

/** The DNS proxy's settings for the data plane (served in every pod in in-pod mode, else on the node). */
function dnsProxyOptions(config: Config): DnsProxyConfig {
  return {
    addresses: config.dnsProxyAddr,
    clusterDomain: config.clusterDomain,
    ipv6Enabled: config.ipv6Enabled,
    ...(config.preferredServiceNamespace
      ? { preferredServiceNamespace: config.preferredServiceNamespace }
      : {}),
    ...(config.dnsResolvConf ? { resolvConf: config.dnsResolvConf } : {}),
    ...(config.dnsForwardPort ? { forwardPort: config.dnsForwardPort } : {}),
    ...(config.dnsQpsPerSource ? { limits: { queriesPerSecondPerSource: config.dnsQpsPerSource } } : {}),
  };
}

export async function startZtunnel(config: Config, opts: StartOptions = {}): Promise<Ztunnel> {
  const logging = new Logging({ filter: config.logLevel, format: config.logFormat });
  const log = logging.root;
  log.info({ version: VERSION, node: config.nodeName, workers: config.workerThreads }, 'starting zt');

  // The tag is the Istio version (ISTIO_META_ISTIO_VERSION), as upstream: not zt's own version.
  recordBuildInfo(buildInfo(VERSION, config.proxyMetadata).istioVersion);
  // This thread's event-loop delay and GC pauses; each data-plane worker starts its own.
  startRuntimeMetrics('main');
  startProcessMetrics();
  const readiness = new Readiness(log);
  const proxyReady = readiness.register('proxy');
  const stateReady = readiness.register('state manager');
  const certsReady = readiness.register('workload certificates');

  const csrPool = new CsrWorkerPool();
  const secrets = new SecretManager({
    provider: await certificateProvider(config, logging, csrPool),
    logger: logging.scope('cert'),
  });
  const store = new StateStore();
  const dataPlane = new DataPlane({
    workers: config.workerThreads,
    certs: secrets,
    logging,
    nodeName: config.nodeName,
    network: config.network,
    trustDomain: config.trustDomain,
    localhostAppTunnel: config.localhostAppTunnel,
    responseBaggage: config.enableResponseBaggage,
    ...(config.inpodEnabled
      ? { socketMark: config.inpodMark, originalSource: config.enableOriginalSource }
      : {}),
    listeners: config.inpodEnabled
      ? {
          workloads: {
            mode: 'netns' as const,
            bindOutbound: true,
            reusePort: config.inpodPortReuse,
            ipv6: config.ipv6Enabled,
          },
        }
      : {
          shared: {
            address: config.bindAddress,
            outbound: config.outboundPort,
            inbound: config.inboundPort,
            inboundPlaintext: config.inboundPlaintextPort,
          },
          ...(config.perWorkloadListeners
            ? {
                workloads: {
                  mode: 'loopback' as const,
                  inbound: config.inboundPort,
                  inboundPlaintext: config.inboundPlaintextPort,
                },
              }
            : {}),
        },
    socks5: {
      enabled: config.socks5Enabled,
      // Upstream binds SOCKS5 on localhost only; a loopback bind address keeps nodes apart on one host.
      address: config.bindAddress.startsWith('127.') ? config.bindAddress : '127.0.0.1',
      port: config.socks5Port,
    },
    hbonePort: DEFAULT_HBONE_PORT,
    pool: {
      maxStreamsPerConnection: config.poolMaxStreamsPerConnection,
      unusedReleaseTimeoutMs: config.poolUnusedReleaseTimeoutMs,
    },
    http2: {
      ...(config.http2StreamWindowSize !== undefined
        ? { streamWindowSize: config.http2StreamWindowSize }
        : {}),
      ...(config.http2ConnectionWindowSize !== undefined
        ? { connectionWindowSize: config.http2ConnectionWindowSize }
        : {}),
      ...(config.http2FrameSize !== undefined ? { frameSize: config.http2FrameSize } : {}),
    },
    tls12Enabled: config.tls12Enabled,
    drainDeadlineMs: config.connectionTerminationDeadlineMs,
    recentConnections: config.recentConnections,
    tcp: config.tcp,
    dns: { ipv6: config.ipv6Enabled },
    ...(config.dnsProxy ? { dnsProxy: dnsProxyOptions(config) } : {}),
  });
  dataPlane.on('workerRestart', (e) => log.warn(e, 'data-plane worker died and was restarted'));

  const prefetch = new CertPrefetch({
    nodeName: config.nodeName,
    trustDomain: config.trustDomain,
    certs: secrets,
    logger: logging.scope('cert'),
  });
  // Readiness waits for the certificates of the first synced state (fetched or failed).
  let firstSync = true;
  store.on('change', (snap) => {
    void dataPlane.setState(snap);
    const fetched = prefetch.update(snap);
    if (firstSync && store.synced) {
      firstSync = false;
      void fetched.then(certsReady);
    }
  });
  store.on('synced', () => {
    stateReady();
    if (firstSync) {
      firstSync = false;
      void prefetch.update(store.snapshot()).then(certsReady);
    }
  });

  let xds: XdsClient | undefined;
  let localConfig: StateSnapshot | undefined;
  if (config.localXdsPath !== undefined || config.localXds !== undefined) {
    const snap = loadLocalConfig(
      config.localXdsPath !== undefined ? { path: config.localXdsPath } : { inline: config.localXds ?? '' },
    );
    localConfig = snap;
    store.replace(snap);
    store.markSynced();
  } else {
    const rootCert = config.xdsAddress.startsWith('https:') ? readRoots(config.xdsRootCaPath) : undefined;
    xds = new XdsClient({
      address: config.xdsAddress,
      store,
      ...(rootCert ? { rootCert: Buffer.from(rootCert) } : {}),
      ...(config.altXdsHostname ? { serverName: config.altXdsHostname } : {}),
      ...(config.authTokenPath ? { tokenPath: config.authTokenPath } : {}),
      ...(config.authToken ? { token: config.authToken } : {}),
      clusterId: config.clusterId,
      headers: config.xdsHeaders,
      node: {
        instanceIp: config.instanceIp,
        podName: config.podName,
        podNamespace: config.podNamespace,
        nodeName: config.nodeName,
        metadata: { CLUSTER_ID: config.clusterId, ...config.proxyMetadata },
      },
      logger: logging.scope('xds'),
    });
    xds.start();
  }

  // In-pod mode: istio-cni hands over each pod's network namespace; as upstream, the data plane
  // binds the pod's listeners inside it before the add is acked (an error Ack when it cannot, and
  // zt stays not ready for the pod), from the pod alone: its workload may come later over xDS.
  let inpod: ZdsClient | undefined;
  if (config.inpodEnabled) {
    const inpodLog = logging.scope('inpod');
    inpod = new ZdsClient({
      path: config.inpodUds,
      trustDomain: config.trustDomain,
      logger: inpodLog,
      startPod: (pod) => {
        // Before the pod's listeners exist: the old zt of a rolling update then hands its queued
        // connections to ours when it closes its listeners (ARCHITECTURE.md, "Drain and hand-off").
        if (config.inpodPortReuse) enableListenerHandoff(pod.netns, inpodLog);
        return dataPlane.addPod(podInfo(pod));
      },
    });
    inpod.bindReadiness((name) => readiness.register(name));
    prefetchForPods(inpod.pods, secrets, logging.scope('cert'));
    inpod.pods.on('podRemoved', (pod) => {
      dataPlane
        .removePod(pod.uid)
        .catch((e: unknown) =>
          inpodLog.error({ err: errorMessage(e), uid: pod.uid }, 'removing a pod failed'),
        );
    });
    inpod.start();
  }

  const ops = wireOps({ config, version: VERSION, dataPlane, store, readiness, xds, inpod });
  let shuttingDown: Promise<void> | undefined;
  // Resolved once drain has begun: what /quitquitquit waits for before it answers.
  let markDrainStarted: () => void = () => {};
  const drainStarted = new Promise<void>((resolve) => {
    markDrainStarted = resolve;
  });
  const servers = {
    readiness: await startReadinessServer({
      readiness,
      host: config.bindAddress,
      port: config.readinessPort,
      logger: log,
    }),
    metrics: await startMetricsServer({
      host: config.bindAddress,
      port: config.statsPort,
      text: () => dataPlane.metricsText(),
      logger: log,
    }),
    admin: await startAdminServer({
      // As upstream, localhost on both families; a lab node's own loopback address keeps nodes
      // apart on one host.
      host: config.bindAddress.startsWith('127.') ? config.bindAddress : '127.0.0.1',
      ...(config.bindAddress.startsWith('127.') || !config.ipv6Enabled ? {} : { alsoHosts: ['::1'] }),
      port: config.adminPort,
      configDump: () =>
        buildConfigDump({
          state: store.snapshot(),
          localConfig,
          certificates: secrets.dump(),
          version: VERSION,
          config,
          inpod: inpod && {
            pods: inpod.pods.pods(),
            nodeName: config.nodeName,
            pending: inpod.pendingPods(),
          },
          connections: () => dataPlane.connections(),
          dns: () => dataPlane.dnsDump(),
        }),
      connections: (): Promise<ConnectionInfo[]> => dataPlane.connections(),
      ...ops.admin,
      logging,
      shutdown: () => {
        void shutdown('admin /quitquitquit');
        return drainStarted;
      },
      shutdownWaitMs: config.connectionTerminationDeadlineMs,
      logger: log,
    }),
  };

  ops.serversStarted(servers);
  const bound = await dataPlane.start();
  proxyReady();
  for (const b of bound)
    log.info({ listener: b.kind, set: b.set, address: `${b.address}:${b.port}` }, 'listener ready');

  async function shutdown(reason: string): Promise<void> {
    if (shuttingDown) return shuttingDown;
    shuttingDown = (async () => {
      log.info({ reason, deadlineMs: config.connectionTerminationDeadlineMs }, 'draining');
      readiness.setDraining();
      const drained = dataPlane.drain(config.connectionTerminationDeadlineMs);
      markDrainStarted();
      await drained;
      await inpod?.close();
      await xds?.close();
      await dataPlane.close();
      secrets.close();
      await csrPool.close();
      const closed = await Promise.allSettled([
        servers.admin.close(),
        servers.metrics.close(),
        servers.readiness.close(),
      ]);
      for (const r of closed) {
        // Nothing is lost: zt is leaving, and the process exit closes what a server still holds.
        if (r.status === 'rejected')
          log.debug({ err: errorMessage(r.reason) }, 'a server did not close cleanly at shutdown');
      }
      log.info('shutdown complete');
      opts.onExit?.();
    })();
    return shuttingDown;
  }

  return { logging, readiness, dataPlane, store, secrets, bound, servers, shutdown };
}

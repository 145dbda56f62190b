import { errorBase } from '@zt/errors';
import { formatAddr, type SocketAddr } from './addr.ts';
import type { AuthzDecision } from './authz/authorize.ts';
import type { Socks5Failure } from './outbound/socks5.ts';

/**
 * Every code a core error carries: `ERR_ZT_PROXY_*` for what happens to one connection,
 * `ERR_ZT_CORE_*` for what stops the proxy itself from working as configured.
 */
export const CORE_ERROR_CODES = [
  'ERR_ZT_PROXY_DIAL',
  'ERR_ZT_PROXY_SOCKS5',
  'ERR_ZT_PROXY_DENIED',
  'ERR_ZT_PROXY_WORKLOAD_GONE',
  'ERR_ZT_PROXY_DRAINED',
  'ERR_ZT_PROXY_NO_LOCAL_WORKLOAD',
  'ERR_ZT_PROXY_POD_WORKLOAD_UNKNOWN',
  'ERR_ZT_CORE_LISTEN',
  'ERR_ZT_CORE_NATIVE_REQUIRED',
  'ERR_ZT_CORE_INPOD_NOT_CONFIGURED',
  'ERR_ZT_CORE_WORKER_EXITED',
  'ERR_ZT_CORE_WORKER_FAILED',
  'ERR_ZT_CORE_NOT_IN_WORKER',
  'ERR_ZT_PROXY_NO_CERTIFICATE',
  'ERR_ZT_CORE_TRANSPORT_MODULE',
] as const;
export type CoreErrorCode = (typeof CORE_ERROR_CODES)[number];

/** Base of every core error: a stable `code` for programs, a message that says what to check. */
export class CoreError extends errorBase('CoreError', CORE_ERROR_CODES) {}

/** A plain TCP connection to a destination (an inbound pod, a TCP workload) could not be made. */
export class DialError extends CoreError {
  constructor(target: SocketAddr, why: string) {
    super(
      'ERR_ZT_PROXY_DIAL',
      `connection to ${target.address}:${target.port} failed: ${why}; check that the destination is listening and no NetworkPolicy blocks it`,
    );
    this.name = 'DialError';
  }
}

/** A listener (15001, 15006, 15008, 15080 or a pod's set) could not bind. */
export class ListenError extends CoreError {
  constructor(kind: string, address: string, port: number, cause: Error) {
    super(
      'ERR_ZT_CORE_LISTEN',
      `cannot listen for ${kind} on ${formatAddr({ address, port })}: ${cause.message}; check that the address exists on this host and nothing else holds the port`,
      { cause },
    );
    this.name = 'ListenError';
  }
}

/** A SOCKS5 client that does not speak what upstream's 15080 listener accepts. */
export class Socks5Error extends CoreError {
  readonly reply: number;
  readonly reason: Socks5Failure;
  constructor(message: string, replyCode: number, reason: Socks5Failure) {
    super(
      'ERR_ZT_PROXY_SOCKS5',
      `SOCKS5 negotiation failed: ${message}; the client must offer no-auth and CONNECT to an IP address`,
    );
    this.name = 'Socks5Error';
    this.reply = replyCode;
    this.reason = reason;
  }
}

/**
 * Authorization denied an inbound connection: when it arrived, or when a policy change re-checked
 * it. The message is the same either way, so one policy reads the same in every access log line.
 */
export class PolicyDeniedError extends CoreError {
  /** `namespace/name` of the DENY policy that matched; absent when no ALLOW policy did. */
  readonly policy: string | undefined;
  constructor(decision: Pick<AuthzDecision, 'policy'>) {
    super(
      'ERR_ZT_PROXY_DENIED',
      `denied by ${decision.policy ? `policy ${decision.policy}` : 'default deny (no ALLOW policy matched)'}`,
    );
    this.name = 'PolicyDeniedError';
    this.policy = decision.policy;
  }
}

/** A connection closed because its workload left this node (or the state) and the drain deadline passed. */
export class WorkloadGoneError extends CoreError {
  readonly uid: string;
  constructor(uid: string, detail: string) {
    super('ERR_ZT_PROXY_WORKLOAD_GONE', `closed: workload ${uid} ${detail}`);
    this.name = 'WorkloadGoneError';
    this.uid = uid;
  }
}

/** A connection still open when the drain deadline (CONNECTION_TERMINATION_DEADLINE) passed. */
export class DrainDeadlineError extends CoreError {
  constructor(deadlineMs: number) {
    super(
      'ERR_ZT_PROXY_DRAINED',
      `closed by drain after ${deadlineMs}ms; raise CONNECTION_TERMINATION_DEADLINE to give connections longer`,
    );
    this.name = 'DrainDeadlineError';
  }
}

/** An HBONE connection arrived at an address that is no pod of this node: no certificate to present. */
export class NoLocalWorkloadError extends CoreError {
  constructor(nodeName: string, address: string) {
    super(
      'ERR_ZT_PROXY_NO_LOCAL_WORKLOAD',
      `no workload of node ${nodeName} at ${address}: HBONE must be dialled at a local pod's address`,
    );
    this.name = 'NoLocalWorkloadError';
  }
}

/**
 * A connection came to a pod's listener and the pod's workload did not arrive over xDS within the
 * wait (upstream's UnknownSourceWorkload / UnknownWorkload in in-pod mode).
 */
export class PodWorkloadUnknownError extends CoreError {
  constructor(pod: { namespace: string; name: string }, nodeName: string, waitedMs: number) {
    super(
      'ERR_ZT_PROXY_POD_WORKLOAD_UNKNOWN',
      `pod ${pod.namespace}/${pod.name} has no workload of node ${nodeName} after waiting ${waitedMs} ms: check that istiod knows the pod (xDS) and that NODE_NAME matches its node`,
    );
    this.name = 'PodWorkloadUnknownError';
  }
}

/** The configuration needs @zt/native (in-pod listeners), which is not available here. */
export class NativeRequiredError extends CoreError {
  constructor(what: string) {
    super(
      'ERR_ZT_CORE_NATIVE_REQUIRED',
      `${what} need @zt/native, which is unavailable here; build it (pnpm --filter @zt/native build:native) on Linux, or use the shared listeners`,
    );
    this.name = 'NativeRequiredError';
  }
}

/**
 * A pod was handed to a data plane that was not built for in-pod listeners: the pod would never be
 * served, so it is refused at once (the ZDS client acks it as an error) instead of failing later.
 */
export class InpodNotConfiguredError extends CoreError {
  constructor(pod: { namespace: string; name: string }, mode: string) {
    super(
      'ERR_ZT_CORE_INPOD_NOT_CONFIGURED',
      `cannot serve pod ${pod.namespace}/${pod.name}: the data plane was not configured for in-pod listeners (workload listeners: ${mode}); start it with listeners.workloads.mode 'netns' (PROXY_MODE=shared without ZT_LAB_MODE)`,
    );
    this.name = 'InpodNotConfiguredError';
  }
}

/** A data-plane worker thread exited while the main thread waited on it (its requests fail with this). */
export class WorkerExitedError extends CoreError {
  readonly worker: number;
  readonly exitCode: number;
  constructor(worker: number, exitCode: number) {
    super(
      'ERR_ZT_CORE_WORKER_EXITED',
      `data-plane worker ${worker} exited with code ${exitCode} before it answered; it is restarted, retry the request (the log says why it died)`,
    );
    this.name = 'WorkerExitedError';
    this.worker = worker;
    this.exitCode = exitCode;
  }
}

/** A data-plane worker answered a request from the main thread with a failure. */
export class WorkerRequestError extends CoreError {
  readonly worker: number;
  constructor(worker: number, why: string) {
    super('ERR_ZT_CORE_WORKER_FAILED', `data-plane worker ${worker}: ${why}`);
    this.name = 'WorkerRequestError';
    this.worker = worker;
  }
}

/** The worker entry was loaded outside a worker thread (a packaging or import mistake). */
export class NotInWorkerError extends CoreError {
  constructor(file: string) {
    super(
      'ERR_ZT_CORE_NOT_IN_WORKER',
      `${file} must run in a worker thread; start the data plane with DataPlane, do not import the worker entry`,
    );
    this.name = 'NotInWorkerError';
  }
}

/** The main thread could not give a worker the certificate a connection needs. */
export class CertificateUnavailableError extends CoreError {
  readonly identity: string;
  constructor(identity: string, why: string) {
    super(
      'ERR_ZT_PROXY_NO_CERTIFICATE',
      `no certificate for ${identity}: ${why}; check the CA (CA_ADDRESS) and the certificate state in /config_dump`,
    );
    this.name = 'CertificateUnavailableError';
    this.identity = identity;
  }
}

/** A module of ProxyConfig.transportModules could not be loaded or exports no transport. */
export class TransportModuleError extends CoreError {
  readonly specifier: string;
  constructor(specifier: string, why: string, cause?: unknown) {
    super(
      'ERR_ZT_CORE_TRANSPORT_MODULE',
      `transport module ${specifier}: ${why}`,
      cause === undefined ? {} : { cause },
    );
    this.name = 'TransportModuleError';
    this.specifier = specifier;
  }
}

/**
 * @zt/inpod — in-pod mode: istio-cni's node agent hands zt each pod's network namespace over ZDS
 * (a SEQPACKET Unix socket); zt keeps the pods, reports readiness, and tells the data plane and the
 * certificate manager what to do through events. Each group below is a chunk of its own (the comment
 * and the blank line after it keep the import sorter from mixing groups).
 */

export { DEFAULT_INPOD_UDS, ZdsClient, type ZdsClientEvents, type ZdsClientOptions } from './client.ts';
export {
  InpodConfigError,
  InpodError,
  type InpodErrorCode,
  PodGoneError,
  type RejectReason,
  ZdsRequestError,
} from './errors.ts';
export { enableListenerHandoff, MIGRATE_SYSCTL } from './handoff.ts';
export type { ConnectionEnd } from './metrics.ts';
export { Pod, PodManager, type PodManagerEvents, type PodManagerOptions, type RemoveReason } from './pods.ts';
export { type InpodStatus, READINESS_TASK, type RegisterTask } from './readiness.ts';

// Lower level: the wire format (the fake node agent and tools use it).

export {
  decodeAck,
  decodeHello,
  decodeRequest,
  encodeAck,
  encodeHello,
  encodeRequest,
  type WorkloadInfo,
  ZDS_VERSION_V1,
  type ZdsRequest,
} from './codec.ts';

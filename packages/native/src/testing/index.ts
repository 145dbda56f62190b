/** Test fixtures of @zt/native: network namespaces for multi-node and in-pod tests. */
export type { RunResult, ShResult } from './netns.ts';
export {
  addInpodCapture,
  addVethPod,
  enablePodForwarding,
  freeTestSubnet,
  must,
  natUnsupported,
  netnsUnsupported,
  sh,
  sweepStaleNetns,
  TestNetns,
} from './netns.ts';

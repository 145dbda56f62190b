/** Test fixtures of @zt/native: network namespaces for multi-node and in-pod tests. */
export type { RunResult } from './netns.ts';
export {
  addVethPod,
  enablePodForwarding,
  freeTestSubnet,
  netnsUnsupported,
  sweepStaleNetns,
  TestNetns,
} from './netns.ts';

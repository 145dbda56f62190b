/** Test fixtures of @zt/inpod: a fake istio-cni node agent with real pod namespaces. */

export { netnsUnsupported } from '@zt/native/testing';
export {
  type AckRecord,
  type FakeCniOptions,
  FakeCniServer,
  type FakePod,
  type FakePodSpec,
} from './fake-cni.ts';

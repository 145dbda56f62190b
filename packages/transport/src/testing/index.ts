export { type StaticCertSource, staticCertSource } from './certs.ts';
export { type EchoServer, startEchoServer } from './echo.ts';
export {
  connectHeaders,
  FLAG,
  FRAME,
  type Frame,
  frame,
  headerBlock,
  pingFrame,
  RawH2,
  rstStream,
  settings,
} from './h2raw.ts';
export { forwardTunnel, type HbonePair, type PairOptions, startHbonePair } from './pair.ts';

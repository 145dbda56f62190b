export { type StaticCertSource, staticCertSource } from './certs.ts';
export { type EchoServer, startEchoServer } from './echo.ts';
export { forwardTunnel, type HbonePair, type PairOptions, startHbonePair } from './pair.ts';

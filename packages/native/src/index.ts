/**
 * @zt/native — the Linux socket calls Node lacks and zt needs for transparent capture and in-pod
 * mode, from a small N-API addon built at install time. When the addon is missing (not Linux,
 * build failed, ZT_NATIVE_DISABLE=1) `available` is false and every call throws
 * NativeUnavailableError (code ERR_ZT_NATIVE_UNAVAILABLE): fall back to SOCKS5 / explicit
 * destinations.
 */
export { available, unavailableReason } from './binding.ts';
export {
  MessageTruncatedError,
  NativeSyscallError,
  NativeUnavailableError,
  NoFdError,
  SocketClosedError,
} from './errors.ts';
export type { FdTarget } from './fd.ts';
export type { KernelTlsSupport } from './ktls.ts';
export { enableKernelTls, KernelTlsUnsupportedError, kernelTlsSupport } from './ktls.ts';
export type { HandoffOptions, KernelTlsDirection, KernelTlsHandoff } from './ktls-handoff.ts';
export {
  enableKernelTlsHandoff,
  KernelTlsHandoffError,
  resumeReading,
  tlsHandshakeForHandoff,
} from './ktls-handoff.ts';
export { releaseFreeMemory } from './memory.ts';
export type { RecvOptions, SeqpacketListenOptions, SeqpacketMessage } from './seqpacket.ts';
export { SeqpacketServer, SeqpacketSocket } from './seqpacket.ts';
export type { ConnectOptions, ListenerOptions, NetnsRef, SocketOptions } from './socket.ts';
export { connectSocket, listenServer, openConnection, openListener } from './socket.ts';
export type { SocketAddress, TcpKeepalive } from './sockopt.ts';
export {
  closeFd,
  getFreebind,
  getMark,
  getTcpKeepalive,
  getTcpUserTimeout,
  getTransparent,
  localAddressOf,
  originalDst,
  setFreebind,
  setMark,
  setTcpKeepalive,
  setTcpUserTimeout,
  setTransparent,
  TCP_KEEPALIVE_LIMITS,
  ZT_SOCKET_MARK,
} from './sockopt.ts';
export { setNetnsSysctl } from './sysctl.ts';
export type { KernelTlsCipher, KeylogEntry, TrafficKeys } from './tls13-keys.ts';
export { hkdfExpandLabel, isKernelTlsSuite, parseKeylogLine, trafficKeys } from './tls13-keys.ts';
export { bindUdpSocket, openUdpSocket, type UdpBindOptions } from './udp.ts';

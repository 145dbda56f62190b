// Loads the addon once per thread. The raw functions are internal: the other modules of this
// package wrap them with typed arguments and NativeSyscallError.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { NativeUnavailableError } from './errors.ts';

export interface RawAddress {
  address: string;
  port: number;
  family: 4 | 6;
}

export interface RawOpenSpec {
  listen: boolean;
  /** A bound UDP socket instead of TCP (`listen` is ignored). */
  udp?: boolean;
  address: string;
  port: number;
  localAddress?: string;
  localPort?: number;
  backlog?: number;
  reuseAddr?: boolean;
  reusePort?: boolean;
  mark?: number;
  transparent?: boolean;
  freebind?: boolean;
  ipv6Only?: boolean;
  netnsPath?: string;
  netnsFd?: number;
}

export interface RawMessage {
  data: Buffer;
  fds: number[];
  truncated: boolean;
  fdsTruncated: boolean;
}

export type RawOption =
  | 'mark'
  | 'transparent'
  | 'freebind'
  | 'reuseport'
  | 'keepalive'
  | 'keepidle'
  | 'keepintvl'
  | 'keepcnt'
  | 'usertimeout';

export interface RawAddon {
  getOriginalDst(fd: number): RawAddress;
  setSockOpt(fd: number, option: RawOption, value: number): void;
  getSockOpt(fd: number, option: RawOption): number;
  getSockName(fd: number): RawAddress | undefined;
  socketError(fd: number): number;
  closeFd(fd: number): void;
  openSocket(spec: RawOpenSpec): { fd: number; pending: boolean };
  seqpacketListen(path: string, backlog: number): number;
  seqpacketConnect(path: string): number;
  seqpacketAccept(fd: number): number | null;
  sendMsg(fd: number, data: Buffer, fds: number[]): number | null;
  recvMsg(fd: number, maxBytes: number, maxFds: number): RawMessage | null;
  pollOpen(fd: number, callback: (status: number, events: number) => void, ownsFd: boolean): void;
  pollSet(fd: number, events: number): void;
  pollRef(fd: number, ref: boolean): void;
  pollClose(fd: number): void;
  releaseFreeMemory(): boolean;
  setTcpUlp(fd: number, name: string): void;
  recvSome(fd: number, buffer: Buffer, length: number): number | null;
  setTlsCrypto(fd: number, tx: boolean, cipher: number, key: Buffer, iv: Buffer, seq: Buffer): void;
  setNetnsSysctl(netnsPath: string, netnsFd: number, name: string, value: string): void;
}

const ADDON_PATH = '../build/Release/zt_native.node';
const BUILD_LOG = new URL('../build/build-error.log', import.meta.url);

function load(): { addon?: RawAddon; reason: string } {
  if (process.env['ZT_NATIVE_DISABLE'] === '1') return { reason: 'disabled by ZT_NATIVE_DISABLE=1' };
  if (process.platform !== 'linux') return { reason: `Linux only, this is ${process.platform}` };
  try {
    return { addon: createRequire(import.meta.url)(ADDON_PATH) as RawAddon, reason: '' };
  } catch (e) {
    let buildFailure = '';
    try {
      buildFailure = readFileSync(BUILD_LOG, 'utf8').split('\n')[0] ?? '';
    } catch {
      // No log: the build never ran (for example `pnpm install --ignore-scripts`).
    }
    const why = buildFailure
      ? `the install-time build failed: ${buildFailure}`
      : `cannot load ${ADDON_PATH}: ${(e as Error).message.split('\n')[0]}`;
    return { reason: why };
  }
}

const loaded = load();

/** True when the addon is loaded and the calls of this package work. */
export const available: boolean = loaded.addon !== undefined;
/** Why the addon is unavailable ('' when it is available). */
export const unavailableReason: string = loaded.reason;

/** The raw addon, or NativeUnavailableError naming the operation the caller attempted. */
export function addon(operation: string): RawAddon {
  if (loaded.addon === undefined) throw new NativeUnavailableError(loaded.reason, operation);
  return loaded.addon;
}

import { ZtError } from '@zt/errors';

// Errors of @zt/native. zt's own failures are ZtErrors (`ERR_ZT_NATIVE_*`); a failed system call is
// a NativeSyscallError, which keeps the shape of Node's own system errors instead (see there).

/** The addon is not loaded (not built, not Linux, or disabled): callers fall back. */
export class NativeUnavailableError extends ZtError {
  readonly reason: string;
  constructor(reason: string, operation?: string) {
    super(
      'ERR_ZT_NATIVE_UNAVAILABLE',
      `${operation ? `${operation}: ` : ''}the @zt/native addon is unavailable (${reason}); ` +
        'transparent capture is off, use SOCKS5 or explicit destinations, or rebuild it with ' +
        '`pnpm --filter @zt/native build:native`',
    );
    this.name = 'NativeUnavailableError';
    this.reason = reason;
  }
}

/** A socket or server that has no file descriptor (not yet connected or listening, or destroyed). */
export class NoFdError extends ZtError {
  constructor(what: string) {
    super(
      'ERR_ZT_NATIVE_NO_FD',
      `${what} has no file descriptor: call this after 'connect' / 'listening' and before the socket is destroyed`,
    );
    this.name = 'NoFdError';
  }
}

/**
 * A failed system call. Deliberately not a ZtError: `code` is the errno name ("EPERM", "ECONNREFUSED")
 * with `errno` and `syscall` beside it, exactly as in the system errors Node raises for its own
 * sockets. The addon's calls stand in for Node's on the same paths (a connect made inside a pod's
 * namespace fails where `net.connect` would), so callers and logs treat both alike: zt's rule is
 * "zt's own failures are `ERR_ZT_*` ZtErrors, a system call's failure keeps its errno code".
 */
export class NativeSyscallError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  constructor(code: string, errno: number, syscall: string, detail: string) {
    const hint = hintFor(code, syscall);
    super(`${syscall} failed: ${detail}${hint ? `; ${hint}` : ''}`);
    this.name = 'NativeSyscallError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }
}

/** A SEQPACKET message larger than the receive buffer, or with more fds than asked for. */
export class MessageTruncatedError extends ZtError {
  constructor(what: 'data' | 'fds', limit: number) {
    super(
      'ERR_ZT_NATIVE_MESSAGE_TRUNCATED',
      what === 'data'
        ? `received a message longer than maxBytes (${limit}); the rest was discarded by the kernel, raise maxBytes`
        : `received more file descriptors than maxFds (${limit}); the extra ones were closed by the kernel, raise maxFds`,
    );
    this.name = 'MessageTruncatedError';
  }
}

/** An operation on a SEQPACKET socket or server that is closed (or was closed while it waited). */
export class SocketClosedError extends ZtError {
  constructor(what: string) {
    super('ERR_ZT_NATIVE_SOCKET_CLOSED', `${what} is closed`);
    this.name = 'SocketClosedError';
  }
}

function hintFor(code: string, syscall: string): string | undefined {
  if (code === 'EPERM' || code === 'EACCES') {
    if (syscall.startsWith('setns'))
      return 'entering a network namespace needs CAP_SYS_ADMIN (run zt as root)';
    return 'this needs CAP_NET_ADMIN (SO_MARK, IP_TRANSPARENT) or CAP_NET_RAW; run zt with those capabilities';
  }
  if (code === 'ENOENT' && syscall.includes('ORIGINAL_DST')) {
    return 'the connection has no NAT record: it did not pass an iptables REDIRECT/DNAT rule, check the capture rules';
  }
  if (code === 'ENOENT' && syscall.startsWith('open(netns)')) {
    return 'the network namespace does not exist (has the pod gone?)';
  }
  if (code === 'ENOPROTOOPT' && syscall.includes('ORIGINAL_DST')) {
    return 'the kernel has no netfilter conntrack for this family (load nf_conntrack / ip6table_nat)';
  }
  return undefined;
}

interface RawSystemError {
  code: string;
  errno: number;
  syscall: string;
  message: string;
}

function isRawSystemError(e: unknown): e is RawSystemError {
  return (
    e instanceof Error &&
    typeof (e as Partial<RawSystemError>).errno === 'number' &&
    typeof (e as Partial<RawSystemError>).syscall === 'string'
  );
}

/** Turns the addon's system errors into NativeSyscallError; anything else passes unchanged. */
export function translate(e: unknown, context?: string): unknown {
  if (!isRawSystemError(e)) return e;
  const detail = e.message.replace(/^.*? failed: /, '');
  const syscall = context ? `${e.syscall} (${context})` : e.syscall;
  return new NativeSyscallError(e.code, e.errno, syscall, detail);
}

/** Runs an addon call, rethrowing its system errors as NativeSyscallError. */
export function call<T>(fn: () => T, context?: string): T {
  try {
    return fn();
  } catch (e) {
    throw translate(e, context);
  }
}

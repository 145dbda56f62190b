// The kernel TLS handoff (bench spike, issue #21 §7): Node does the TLS 1.3 handshake, the kernel
// then owns the record layer of the same TCP socket. The hard part is the bytes: Node's TLS layer
// reads ahead (a session ticket, the peer's first data) and would keep them in OpenSSL, out of
// reach. So the handshake runs through a TLSSocket over a Duplex this module feeds one record at
// a time, and stops feeding at the first record protected with the peer's application key. Those
// records, and the rest of any record the last read stopped inside of, are opened here (the keys
// come from the key log); the kernel gets the keys and the sequence numbers that follow.
import type net from 'node:net';
import { Duplex } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import tls from 'node:tls';
import { ZtError } from '@zt/errors';
import { addon } from './binding.ts';
import { call } from './errors.ts';
import { fdOf } from './fd.ts';
import { enableKernelTls } from './ktls.ts';
import { parseKeylogLine, type TrafficKeys, trafficKeys } from './tls13-keys.ts';
import {
  CONTENT_ALERT,
  CONTENT_APPLICATION_DATA,
  CONTENT_HANDSHAKE,
  openRecord,
  RECORD_HEADER,
  wholeRecordLength,
} from './tls13-record.ts';

const HANDSHAKE_NEW_SESSION_TICKET = 4;
const HANDSHAKE_KEY_UPDATE = 24;

/** The handoff could not take the connection over; the socket is unusable and should be closed. */
export class KernelTlsHandoffError extends ZtError {
  constructor(detail: string) {
    super('ERR_ZT_NATIVE_KTLS_HANDOFF', `kernel TLS handoff failed: ${detail}; close the connection`);
    this.name = 'KernelTlsHandoffError';
  }
}

export interface KernelTlsDirection {
  keys: TrafficKeys;
  /** The sequence number of the next record in this direction. */
  sequence: bigint;
}

export interface KernelTlsHandoff {
  /** The negotiated suite by its IANA name. */
  cipher: string;
  alpnProtocol: string | false;
  peerCertificate: tls.PeerCertificate;
  authorized: boolean;
  tx: KernelTlsDirection;
  rx: KernelTlsDirection;
  /** The peer's application data read before the handoff: it comes before anything read later. */
  readAhead: Buffer;
  /** NewSessionTicket messages received after the handshake and dropped here. */
  ticketsDropped: number;
}

interface HandoffTiming {
  /** Gives up the handshake after this long (default 10 s). */
  timeoutMs?: number;
  /**
   * Waits this long after the handshake before handing over, so that the peer's post-handshake
   * messages (an OpenSSL server's two session tickets) are read and dropped here: after the
   * handoff they would reach the kernel, whose plain read() fails on them (EIO). Default 0.
   */
  lingerMs?: number;
}

export type HandoffOptions =
  | ({ isServer: false } & HandoffTiming & Omit<tls.ConnectionOptions, 'socket'>)
  | ({ isServer: true } & HandoffTiming & tls.TLSSocketOptions);

interface ReadingHandle {
  _handle?: { reading?: boolean; readStop?: () => number; readStart?: () => number } | null;
}

// Node offers no way to stop a socket reading from the kernel now: pause() lets reads continue
// until the stream's buffer fills. The handoff must stop on a record boundary, so it stops the
// libuv handle itself, and must start it again itself: the stream still believes a read is under
// way, so resume() alone would never ask the handle for more.
function stopReading(raw: net.Socket): void {
  const handle = (raw as unknown as ReadingHandle)._handle;
  raw.pause();
  if (handle?.readStop && handle.reading !== false) {
    handle.readStop();
    handle.reading = false;
  }
}

function startReading(raw: net.Socket): void {
  const handle = (raw as unknown as ReadingHandle)._handle;
  if (handle?.readStart && handle.reading === false) {
    handle.reading = true;
    handle.readStart();
  }
}

/** Reads again, flowing, from a socket the handoff stopped (to handle its records in userspace). */
export function resumeReading(raw: net.Socket): void {
  startReading(raw);
  raw.resume();
}

/**
 * Runs a TLS 1.3 handshake on the connected TCP socket `raw` and returns what the kernel needs to
 * take over: keys and sequence numbers per direction, and the peer's data already read. `raw`
 * is left paused and not reading; pass the result to `enableKernelTlsHandoff` (or, to handle the
 * records in userspace, `resumeReading`).
 */
export async function tlsHandshakeForHandoff(
  raw: net.Socket,
  options: HandoffOptions,
): Promise<KernelTlsHandoff> {
  const { timeoutMs = 10_000, lingerMs = 0, ...tlsOptions } = options;
  const secrets = new Map<string, Buffer>();
  const sent: Buffer[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let detached = false;
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  const poke = (): void => {
    wake?.();
    wake = undefined;
  };

  const wire = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      // After the handoff nothing the abandoned TLS layer writes (close_notify) may reach the peer.
      if (detached) return done();
      sent.push(chunk);
      raw.write(chunk, done);
    },
  });
  const onData = (chunk: Buffer): void => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    poke();
  };
  const onEnd = (): void => {
    failure ??= new KernelTlsHandoffError('the peer closed the connection during the handshake');
    poke();
  };
  const onError = (e: Error): void => {
    failure ??= e;
    poke();
  };
  raw.on('data', onData);
  raw.on('end', onEnd);
  raw.on('error', onError);

  const socket = options.isServer
    ? new tls.TLSSocket(wire, { ...(tlsOptions as tls.TLSSocketOptions), isServer: true })
    : tls.connect({ ...(tlsOptions as tls.ConnectionOptions), socket: wire });
  let secure = false;
  socket.on('keylog', (line: Buffer) => {
    const entry = parseKeylogLine(line);
    if (entry) secrets.set(entry.label, entry.secret);
  });
  socket.once(options.isServer ? 'secure' : 'secureConnect', () => {
    secure = true;
    poke();
  });
  socket.on('error', onError);
  socket.on('data', () => {
    failure ??= new KernelTlsHandoffError('the TLS layer decrypted application data before the handoff');
    poke();
  });
  const timer = setTimeout(() => {
    failure ??= new KernelTlsHandoffError(`no handshake within ${timeoutMs} ms`);
    poke();
  }, timeoutMs);

  const ownLabel = options.isServer ? 'SERVER_TRAFFIC_SECRET_0' : 'CLIENT_TRAFFIC_SECRET_0';
  const peerLabel = options.isServer ? 'CLIENT_TRAFFIC_SECRET_0' : 'SERVER_TRAFFIC_SECRET_0';
  const keysFor = (label: string): TrafficKeys | undefined => {
    const secret = secrets.get(label);
    const suite = socket.getCipher()?.standardName;
    return secret && suite ? trafficKeys(suite, secret) : undefined;
  };
  try {
    // Feed whole records one at a time until the handshake is done and the next record (if any)
    // is the peer's first under its application key.
    for (;;) {
      if (failure) throw failure;
      const len = wholeRecordLength(pending);
      const peerKeys = len ? keysFor(peerLabel) : undefined;
      const nextIsApplication = peerKeys !== undefined && openRecord(peerKeys, 0n, pending.subarray(0, len));
      if (secure && (len === 0 || nextIsApplication)) break;
      if (len && !nextIsApplication) {
        wire.push(pending.subarray(0, len));
        pending = pending.subarray(len);
        // The TLS layer processes a record within the turn it reads it; the keylog of the
        // application secrets, emitted while it does, must be seen before the next record.
        await nextTurn();
        await nextTurn();
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    // Let the TLS layer's last writes (the client's Finished, the server's tickets) reach `sent`.
    await nextTurn();
    await nextTurn();
    if (lingerMs > 0) await new Promise((resolve) => setTimeout(resolve, lingerMs));
    stopReading(raw);
    if (failure) throw failure;

    const cipher = socket.getCipher()?.standardName ?? '';
    const own = keysFor(ownLabel);
    const peer = keysFor(peerLabel);
    if (socket.getProtocol() !== 'TLSv1.3' || !own || !peer) {
      throw new KernelTlsHandoffError(
        `${socket.getProtocol()} with ${cipher || 'no cipher'}: only TLS 1.3 with AES-GCM or ChaCha20 can be handed over`,
      );
    }
    const tx = { keys: own, sequence: countOwnRecords(Buffer.concat(sent), own) };
    const rx = await openReadAhead(raw, pending, peer, timeoutMs);
    return {
      cipher,
      alpnProtocol: socket.alpnProtocol ?? false,
      peerCertificate: socket.getPeerCertificate(),
      authorized: socket.authorized,
      tx,
      rx: { keys: peer, sequence: rx.sequence },
      readAhead: rx.data,
      ticketsDropped: rx.tickets,
    };
  } finally {
    clearTimeout(timer);
    detached = true;
    raw.off('data', onData);
    raw.off('end', onEnd);
    raw.off('error', onError);
    socket.removeAllListeners('data');
    socket.on('error', () => {});
    socket.destroy();
  }
}

// Our records under the application key already on the wire (a server's session tickets): the
// handshake-key ones before them do not open with it.
function countOwnRecords(wireBytes: Buffer, own: TrafficKeys): bigint {
  let sequence = 0n;
  let rest = wireBytes;
  for (let len = wholeRecordLength(rest); len; len = wholeRecordLength(rest)) {
    if (openRecord(own, sequence, rest.subarray(0, len))) sequence++;
    rest = rest.subarray(len);
  }
  return sequence;
}

async function openReadAhead(
  raw: net.Socket,
  pending: Buffer,
  peer: TrafficKeys,
  timeoutMs: number,
): Promise<{ sequence: bigint; data: Buffer; tickets: number }> {
  // A record cut by the last read: take exactly its rest from the kernel, so that the kernel's
  // record parser starts on a boundary.
  let buf = pending;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let at = 0;
    while (at + RECORD_HEADER <= buf.length && wholeRecordLength(buf.subarray(at))) {
      at += wholeRecordLength(buf.subarray(at));
    }
    const tail = buf.length - at;
    if (tail === 0) break;
    const need =
      tail < RECORD_HEADER ? RECORD_HEADER - tail : RECORD_HEADER + buf.readUInt16BE(at + 3) - tail;
    const chunk = Buffer.alloc(need);
    const n = call(() => addon('kernel TLS handoff').recvSome(fdOf(raw), chunk, need));
    if (n === 0) throw new KernelTlsHandoffError('the peer closed the connection inside a record');
    if (n === null) {
      if (Date.now() > deadline) throw new KernelTlsHandoffError('the rest of a record never came');
      await new Promise((resolve) => setTimeout(resolve, 1));
      continue;
    }
    buf = Buffer.concat([buf, chunk.subarray(0, n)]);
  }
  const data: Buffer[] = [];
  let sequence = 0n;
  let tickets = 0;
  for (let len = wholeRecordLength(buf); len; len = wholeRecordLength(buf)) {
    const record = openRecord(peer, sequence, buf.subarray(0, len));
    if (!record)
      throw new KernelTlsHandoffError(
        `record ${sequence} after the handshake does not open with the peer's key`,
      );
    sequence++;
    buf = buf.subarray(len);
    if (record.type === CONTENT_APPLICATION_DATA) data.push(record.data);
    else if (record.type === CONTENT_HANDSHAKE) tickets += droppedTickets(record.data);
    else if (record.type === CONTENT_ALERT)
      throw new KernelTlsHandoffError('the peer sent an alert right after the handshake');
  }
  return { sequence, data: Buffer.concat(data), tickets };
}

// Handshake messages after the handshake: tickets are dropped (this connection never resumes);
// a KeyUpdate would change the keys the kernel is about to get, which the handoff does not follow.
function droppedTickets(messages: Buffer): number {
  let tickets = 0;
  for (let at = 0; at + 4 <= messages.length; ) {
    const type = messages[at] as number;
    const len = messages.readUIntBE(at + 1, 3);
    if (type === HANDSHAKE_NEW_SESSION_TICKET) tickets++;
    else if (type === HANDSHAKE_KEY_UPDATE) throw new KernelTlsHandoffError('the peer sent a KeyUpdate');
    else throw new KernelTlsHandoffError(`unexpected handshake message ${type} after the handshake`);
    at += 4 + len;
  }
  return tickets;
}

/**
 * Gives both directions of `raw` to the kernel with the handoff's keys, puts the data read ahead
 * back in front of the stream and reads again: from here `raw` carries plaintext. The stream stays
 * paused (flowing now would drop the read-ahead data): give it a consumer, a 'data' listener or an
 * HTTP/2 session (which takes buffered data first).
 */
export function enableKernelTlsHandoff(raw: net.Socket, handoff: KernelTlsHandoff): void {
  enableKernelTls(raw, 'tx', handoff.tx.keys, handoff.tx.sequence);
  enableKernelTls(raw, 'rx', handoff.rx.keys, handoff.rx.sequence);
  if (handoff.readAhead.length) raw.unshift(handoff.readAhead);
  startReading(raw);
}

import type { Socket as UdpSocket } from 'node:dgram';
import { unmapIp } from './tcp.ts';

/** What the UDP side needs of the proxy. */
export interface UdpHandler {
  answer(msg: Buffer, source: { address: string; port: number }): Promise<Buffer | undefined>;
  socketError(err: Error): void;
}

/** One answer per datagram, sent back to where the query came from; nothing for what is dropped. */
export function serveUdp(socket: UdpSocket, handler: UdpHandler): void {
  socket.on('message', (msg, rinfo) => {
    const source = { address: unmapIp(rinfo.address), port: rinfo.port };
    handler.answer(msg, source).then(
      (reply) => {
        if (!reply) return;
        try {
          // Send errors (the client went away: ICMP unreachable) leave nothing to do.
          socket.send(reply, rinfo.port, rinfo.address, () => {});
        } catch {
          // The socket closed while the answer was being made.
        }
      },
      () => {},
    );
  });
  socket.on('error', (e) => handler.socketError(e));
}

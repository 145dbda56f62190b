import type { Duplex } from 'node:stream';
import { dialTcp } from '../conn/dial.ts';
import type { Transport, TransportRequest } from './transport.ts';

/** Plain TCP to `route.connect`: TCP workloads and passthrough destinations. */
export const tcpTransport: Transport = {
  name: 'tcp',
  mtls: false,
  open(req: TransportRequest): Promise<Duplex> {
    return dialTcp(req.ctx, req.route.connect);
  },
};

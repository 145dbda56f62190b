import type { Duplex } from 'node:stream';
import { dialTcp } from '../conn/dial.ts';
import type { Transport, TransportRequest } from './transport.ts';

/**
 * Plain TCP to `route.connect`: TCP workloads and passthrough destinations. In-pod, dialled from
 * the source pod's network namespace (marked, so its capture rules let it out), as upstream's
 * socket factory does: the destination, NetworkPolicy and egress rules see the pod's IP.
 */
export const tcpTransport: Transport = {
  name: 'tcp',
  mtls: false,
  open(req: TransportRequest): Promise<Duplex> {
    const netns = req.inPod ? req.ctx.netnsOf(req.source.uid) : undefined;
    return dialTcp(req.ctx, req.route.connect, netns);
  },
};

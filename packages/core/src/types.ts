/** One live connection, as the admin page lists it. Structured-clone safe. */
export interface ConnectionInfo {
  id: string;
  direction: 'inbound' | 'outbound';
  protocol: 'HBONE' | 'TCP';
  src: { address: string; port: number; workload?: string /* ns/name */; identity?: string };
  dst: { address: string; port: number; workload?: string; identity?: string; service?: string };
  /** Epoch ms. */
  startedAt: number;
  /** From zt's point of view in this direction, as upstream's access log: outbound sends the
   * client's bytes, inbound sends the destination's bytes. */
  bytesSent: number;
  bytesReceived: number;
  verdict: 'allow' | 'deny' | 'none';
  policy?: string;
  /** Index of the policy's rule that matched (with `policy`). */
  rule?: number;
}

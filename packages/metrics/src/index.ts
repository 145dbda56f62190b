export { counter, gauge, histogram, registry } from './registry.ts';
export {
  TRAFFIC_LABELS,
  type TrafficLabel,
  type TrafficLabels,
  tcpConnectionsClosed,
  tcpConnectionsFailed,
  tcpConnectionsOpened,
  tcpReceivedBytes,
  tcpSentBytes,
  trafficLabels,
  UNKNOWN,
} from './traffic.ts';

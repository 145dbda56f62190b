/** Where this zt runs (the Downward API values upstream reads from the environment). */
export interface NodeInfo {
  /** INSTANCE_IP; upstream falls back to 1.1.1.1 when unset. */
  instanceIp?: string;
  /** POD_NAME */
  podName?: string;
  /** POD_NAMESPACE */
  podNamespace?: string;
  /** NODE_NAME */
  nodeName?: string;
  /**
   * Extra node metadata, e.g. the ISTIO_META_* variables with the prefix stripped (CLUSTER_ID,
   * ISTIO_VERSION, ...), as upstream sends them; the app reads them. Values here override the
   * built-in keys.
   */
  metadata?: Record<string, string>;
}

/** envoy.config.core.v3.Node as @grpc/proto-loader takes it. */
export interface NodeMessage {
  id: string;
  metadata: { fields: Record<string, { stringValue: string }> };
}

/** The Node zt sends with its first request per type: upstream's id format and metadata keys. */
export function buildNode(info: NodeInfo): NodeMessage {
  const ip = info.instanceIp || '1.1.1.1';
  const pod = info.podName ?? '';
  const ns = info.podNamespace ?? '';
  const meta: Record<string, string> = {
    NAME: pod,
    NAMESPACE: ns,
    INSTANCE_IPS: ip,
    NODE_NAME: info.nodeName ?? '',
    ...info.metadata,
  };
  const fields: Record<string, { stringValue: string }> = {};
  for (const [k, v] of Object.entries(meta)) fields[k] = { stringValue: v };
  return { id: `ztunnel~${ip}~${pod}.${ns}~${ns}.svc.cluster.local`, metadata: { fields } };
}

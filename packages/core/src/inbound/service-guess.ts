import type { ProxyStateView, Service, Workload } from '@zt/xds';

/**
 * The `host=` of a `Forwarded` header, as upstream's parse_forwarded_host reads it: the first
 * `;`-separated part that starts with `host=`, quotes stripped; nothing for non-ASCII or empty.
 */
export function forwardedHost(header: string | undefined): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
  if (header === undefined || !/^[\x00-\x7f]*$/.test(header)) return undefined;
  for (const part of header.split(';')) {
    const p = part.trim();
    if (!p.startsWith('host=')) continue;
    let host = p.slice('host='.length);
    if (host.startsWith('"')) host = host.slice(1);
    if (host.endsWith('"')) host = host.slice(0, -1);
    return host === '' ? undefined : host;
  }
  return undefined;
}

/** The services `w` backs that the state knows, in the order the workload lists them. */
export function servicesOf(view: ProxyStateView, w: Workload): Service[] {
  const out: Service[] = [];
  for (const key of Object.keys(w.services)) {
    const slash = key.indexOf('/');
    if (slash < 0) continue;
    const s = view.serviceByHostname(key.slice(0, slash), key.slice(slash + 1));
    if (s) out.push(s);
  }
  return out;
}

/**
 * The service an inbound connection is labelled with (upstream's guess_inbound_service): a workload
 * may back many, so first the one the client named (`Forwarded: host=`, trusted only among the
 * workload's own services), else the first whose target port, or the workload's own port for a
 * named target port, is the port the connection goes to.
 */
export function guessInboundService(
  view: ProxyStateView,
  dst: Workload,
  port: number,
  forHost?: string,
): Service | undefined {
  const services = servicesOf(view, dst);
  if (forHost !== undefined) {
    const named = services.find((s) => s.hostname === forHost);
    if (named) return named;
  }
  return services.find((s) => {
    const endpointPorts = dst.services[`${s.namespace}/${s.hostname}`];
    return s.ports.some((p) => p.targetPort === port || endpointPorts?.[p.servicePort] === port);
  });
}

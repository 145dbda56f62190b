// Name handling for mesh lookups, as upstream's src/dns/server.rs and name_util.rs: which names a
// client may mean by what it asked (Kubernetes short forms, search domains appended by its
// resolver), and the wildcard hosts that could answer them. Names here are lower case, without the
// trailing dot; DNS compares names case-insensitively, so a lookup never depends on the asked case.

/** One name to look up for a query, and how it was derived from the asked name. */
export interface Alias {
  name: string;
  /**
   * Set when the alias came from stripping one of the client's search domains: the number of
   * leading labels of the asked name that remain. The answer then carries a CNAME from the asked
   * name to that shorter name.
   */
  strippedLabels?: number;
}

/** Lower case, without the trailing dot; the root name is ''. */
export function normalizeName(name: string): string {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  return n.toLowerCase();
}

export function countLabels(name: string): number {
  if (name === '') return 0;
  let n = 1;
  for (let i = name.indexOf('.'); i !== -1; i = name.indexOf('.', i + 1)) n++;
  return n;
}

/** `name` ends with every label of `domain` and has at least one label more. */
export function hasDomain(name: string, domain: string): boolean {
  if (domain === '' || domain.startsWith('*')) return false;
  return (
    name.length > domain.length + 1 && name.endsWith(domain) && name[name.length - domain.length - 1] === '.'
  );
}

/** `name` without the labels of `domain`, when it has them and something is left. */
export function trimDomain(name: string, domain: string): string | undefined {
  return hasDomain(name, domain) ? name.slice(0, name.length - domain.length - 1) : undefined;
}

/**
 * The Kubernetes FQDNs a client in `namespace` may mean by `name`, as upstream's to_kube_fqdns:
 * `<svc>.<ns>.svc.<domain>` for services and `<pod-hostname>.<subdomain>.<ns>.svc.<domain>` for
 * pods with a subdomain. Only the forms the label count allows; longer names are taken as they are.
 */
export function kubeFqdns(name: string, namespace: string, clusterDomain: string): string[] {
  const svcDomain = `svc.${clusterDomain}`;
  const nsDomain = `${namespace}.${svcDomain}`;
  switch (countLabels(name)) {
    case 1:
      // <svc>: a service of the client's own namespace.
      return [`${name}.${nsDomain}`];
    case 2:
      // <svc>.<ns>, or <pod-hostname>.<subdomain> in the client's namespace.
      return [`${name}.${svcDomain}`, `${name}.${nsDomain}`];
    case 3: {
      const out: string[] = [];
      // <svc>.<ns>.svc
      if (hasDomain(name, 'svc')) out.push(`${name}.${clusterDomain}`);
      // <pod-hostname>.<subdomain>.<ns>
      out.push(`${name}.${svcDomain}`);
      return out;
    }
    case 4:
      // <pod-hostname>.<subdomain>.<ns>.svc
      return hasDomain(name, 'svc') ? [`${name}.${clusterDomain}`] : [];
    default:
      return [];
  }
}

/**
 * `name` itself, then wildcards of decreasing specificity: `a.b.c` -> `a.b.c`, `*.b.c`, `*.c`.
 * Upstream stops there: a bare `*` host never matches.
 */
export function wildcards(name: string): string[] {
  const out = [name];
  let rest = name;
  for (let dot = rest.indexOf('.'); dot !== -1; dot = rest.indexOf('.')) {
    out.push(`*${rest.slice(dot)}`);
    rest = rest.slice(dot + 1);
  }
  return out;
}

/** True when the first label is `*`. */
export function isWildcard(name: string): boolean {
  return name === '*' || name.startsWith('*.');
}

/**
 * The search domains a Kubernetes pod in `namespace` has (`<ns>.svc.<domain> svc.<domain>
 * <domain>`). A node-level proxy serves pods of every namespace, so it cannot use its own
 * resolv.conf's search list: as upstream's shared mode, it assumes Kubernetes' default per pod.
 */
export function kubeSearchDomains(namespace: string, clusterDomain: string): string[] {
  return [`${namespace}.svc.${clusterDomain}`, `svc.${clusterDomain}`, clusterDomain];
}

/**
 * Every name the client may mean by `name`, in upstream's order: the name, its Kubernetes
 * expansions, then for each search domain it ends with, the name without it and that name's
 * expansions. No name appears twice (the first derivation wins).
 */
export function aliases(
  name: string,
  namespace: string,
  searchDomains: readonly string[],
  clusterDomain: string,
): Alias[] {
  const out: Alias[] = [];
  const seen = new Set<string>();
  const add = (alias: Alias): void => {
    if (seen.has(alias.name)) return;
    seen.add(alias.name);
    out.push(alias);
  };
  add({ name });
  for (const fqdn of kubeFqdns(name, namespace, clusterDomain)) add({ name: fqdn });
  for (const domain of searchDomains) {
    const stripped = trimDomain(name, normalizeName(domain));
    if (stripped === undefined) continue;
    const strippedLabels = countLabels(stripped);
    add({ name: stripped, strippedLabels });
    for (const fqdn of kubeFqdns(stripped, namespace, clusterDomain)) add({ name: fqdn, strippedLabels });
  }
  return out;
}

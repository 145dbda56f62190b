// One line per authorization rule, for the admin page's denials: which rule of the policy matched,
// in words a reader compares with the AuthorizationPolicy they wrote.
import type { Authorization, Cidr, Match, Rule, StringMatch } from '@zt/xds';

function str(m: StringMatch): string {
  switch (m.kind) {
    case 'exact':
      return m.value;
    case 'prefix':
      return `${m.value}*`;
    case 'suffix':
      return `*${m.value}`;
    case 'presence':
      return '*';
  }
}

const cidr = (c: Cidr) => `${c.address}/${c.length}`;

function match(m: Match): string {
  const parts: string[] = [];
  const put = (name: string, values: readonly string[]) => {
    if (values.length) parts.push(`${name}=${values.join('|')}`);
  };
  put('namespaces', m.namespaces.map(str));
  put('not namespaces', m.notNamespaces.map(str));
  put('principals', m.principals.map(str));
  put('not principals', m.notPrincipals.map(str));
  put(
    'service accounts',
    m.serviceAccounts.map((s) => `${s.namespace}/${s.serviceAccount}`),
  );
  put(
    'not service accounts',
    m.notServiceAccounts.map((s) => `${s.namespace}/${s.serviceAccount}`),
  );
  put('source ips', m.sourceIps.map(cidr));
  put('not source ips', m.notSourceIps.map(cidr));
  put('destination ips', m.destinationIps.map(cidr));
  put('not destination ips', m.notDestinationIps.map(cidr));
  put('ports', m.destinationPorts.map(String));
  put('not ports', m.notDestinationPorts.map(String));
  return parts.length ? parts.join(', ') : '(empty match)';
}

/** `namespaces=untrusted and (ports=80 or ports=8080)`; a rule without clauses matches everything. */
export function describeRule(rule: Rule): string {
  const clauses = rule.clauses.filter((c) => c.matches.length > 0);
  if (clauses.length === 0) return 'any connection';
  return clauses
    .map((c) => {
      const ms = c.matches.map(match);
      return ms.length > 1 && clauses.length > 1 ? `(${ms.join(' or ')})` : ms.join(' or ');
    })
    .join(' and ');
}

/** Rule `index` of policy `namespace/name` among `policies`, described; undefined when gone. */
export function describePolicyRule(
  policies: readonly Authorization[],
  policy: string,
  index: number,
): string | undefined {
  const p = policies.find((x) => `${x.namespace}/${x.name}` === policy);
  const rule = p?.rules[index];
  return rule ? describeRule(rule) : undefined;
}

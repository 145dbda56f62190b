import {
  type CollectionTag,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type ScalarTag,
  visit,
} from 'yaml';
import { LocalConfigError } from './errors.ts';

// The YAML layer of the local config. Upstream reads the file with serde_yaml 0.9, which writes and
// reads an enum variant that carries a value as a YAML tag (`!Exact "a"`, `!Presence []`) and a unit
// variant as its bare name (`Allow`), or as a tag with no value (`!Allow`). The tags become
// `Tagged` values in the parsed tree; local.ts decides where a tag may stand.

/** What a tag was put on: serde_yaml accepts different node kinds for each kind of variant. */
export type TaggedContent =
  | { kind: 'scalar'; text: string; plain: boolean }
  | { kind: 'seq'; length: number }
  | { kind: 'map'; size: number };

/** A node carrying one of upstream's enum tags, e.g. `!Exact "x"`: tag `Exact`, text `x`. */
export class Tagged {
  readonly tag: string;
  readonly content: TaggedContent;
  constructor(tag: string, content: TaggedContent) {
    this.tag = tag;
    this.content = content;
  }
  /** As written, for error messages. */
  toString(): string {
    const c = this.content;
    if (c.kind === 'scalar') return c.text === '' ? `!${this.tag}` : `!${this.tag} ${JSON.stringify(c.text)}`;
    return c.kind === 'seq' ? `!${this.tag} [${c.length} items]` : `!${this.tag} {${c.size} keys}`;
  }
}

/**
 * Every variant name of the enums in upstream's local config (workload, service and policy fields).
 * Only these tags are registered; any other `!tag` is refused with the path where it stands.
 */
export const ENUM_VARIANTS: readonly string[] = [
  // StringMatch (newtype and empty-tuple variants: always tags)
  'Exact',
  'Prefix',
  'Suffix',
  'Presence',
  // RbacAction, RbacScope
  'Allow',
  'Deny',
  'Global',
  'Namespace',
  'WorkloadSelector',
  // InboundProtocol, NetworkMode, HealthStatus, application_tunnel::Protocol
  'TCP',
  'HBONE',
  'Standard',
  'HostNetwork',
  'Healthy',
  'Unhealthy',
  'NONE',
  'PROXY',
  // LoadBalancerScopes, LoadBalancerMode, LoadBalancerHealthPolicy, IpFamily, Visibility
  'Region',
  'Zone',
  'Subzone',
  'Node',
  'Cluster',
  'Network',
  'Strict',
  'Failover',
  'Passthrough',
  'OnlyHealthy',
  'AllowAll',
  'Dual',
  'IPv4',
  'IPv6',
  'Public',
];

const TAGS = new Set(ENUM_VARIANTS.map((v) => `!${v}`));

// The core schema's own tags (`!!str` and friends) resolve as YAML defines them.
const CORE_TAGS = new Set(
  ['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`),
);

const CUSTOM_TAGS: Array<ScalarTag | CollectionTag> = ENUM_VARIANTS.flatMap(
  (v): Array<ScalarTag | CollectionTag> => [
    {
      tag: `!${v}`,
      // `plain` is settled in index() once the node's style is known; yaml gives resolve() only the text.
      resolve: (text: string) => new Tagged(v, { kind: 'scalar', text, plain: true }),
    },
    {
      tag: `!${v}`,
      collection: 'seq',
      resolve: (seq) => new Tagged(v, { kind: 'seq', length: seq.items.length }),
    },
    {
      tag: `!${v}`,
      collection: 'map',
      resolve: (map) => new Tagged(v, { kind: 'map', size: map.items.length }),
    },
  ],
);

/** A parsed local config: the plain tree (with `Tagged` values) and the line of every key path. */
export interface ParsedYaml {
  value: unknown;
  /** `workloads[0].protocol` -> 1-based line. */
  lines: Map<string, number>;
}

export const joinPath = (path: string, k: string) => (path ? `${path}.${k}` : k);

/** Walks the node tree once: records lines, settles tagged scalars' style, refuses stray tags. */
function index(
  source: string,
  node: Node | null | undefined,
  path: string,
  lc: LineCounter,
  out: Map<string, number>,
): void {
  const at = (n: Node | null | undefined) => (n?.range ? lc.linePos(n.range[0]).line : undefined);
  const checkTag = (n: Node | null | undefined, p: string, isKey: boolean) => {
    const tag = n?.tag;
    if (!tag || tag === '!' || CORE_TAGS.has(tag)) return;
    // A block collection's range starts at its first item, a line below its tag: prefer the key's.
    const line = (isKey ? undefined : out.get(p)) ?? at(n);
    const where = { key: p || '(top level)', ...(line !== undefined ? { line } : {}) };
    if (isKey) throw new LocalConfigError(source, `a key cannot carry a tag (${tag})`, where);
    if (!TAGS.has(tag)) {
      throw new LocalConfigError(
        source,
        `unknown tag ${tag}: the local config's tags are upstream's enum variants, e.g. !Exact "value", ` +
          '!Prefix "value", !Suffix "value" or !Presence [] in a string matcher',
        where,
      );
    }
    if (isScalar(n) && n.value instanceof Tagged && n.value.content.kind === 'scalar') {
      // serde_yaml reads an empty plain scalar as "no value"; a quoted "" is a value.
      const c = n.value.content;
      n.value = new Tagged(n.value.tag, { ...c, plain: n.type === 'PLAIN' });
    }
  };
  checkTag(node, path, false);
  if (isMap(node)) {
    for (const pair of node.items) {
      const keyNode = pair.key as Node | null;
      const k = !isScalar(keyNode)
        ? String(pair.key)
        : keyNode.value instanceof Tagged && keyNode.value.content.kind === 'scalar'
          ? keyNode.value.content.text
          : String(keyNode.value);
      const p = joinPath(path, k);
      checkTag(keyNode, p, true);
      const line = at(keyNode);
      if (line !== undefined) out.set(p, line);
      index(source, pair.value as Node | null, p, lc, out);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const p = `${path}[${i}]`;
      const line = at(item as Node | null);
      if (line !== undefined) out.set(p, line);
      index(source, item as Node | null, p, lc, out);
    });
  }
}

/** Parse local config YAML text into a tree in which upstream's enum tags are `Tagged` values. */
export function parseLocalYaml(text: string, source: string): ParsedYaml {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, customTags: CUSTOM_TAGS });
  const err = doc.errors[0];
  if (err) {
    throw new LocalConfigError(source, `invalid YAML: ${err.message.split('\n')[0]}`, {
      line: lc.linePos(err.pos[0]).line,
    });
  }
  const lines = new Map<string, number>();
  index(source, doc.contents as Node | null, '', lc, lines);
  try {
    return { value: doc.toJS() ?? {}, lines };
  } catch (e) {
    // toJS resolves aliases and throws a plain ReferenceError for one without its anchor.
    let line: number | undefined;
    visit(doc, {
      Alias(_key, node) {
        if (line === undefined && isAlias(node) && node.range) line = lc.linePos(node.range[0]).line;
      },
    });
    throw new LocalConfigError(
      source,
      `invalid YAML: ${(e as Error).message}`,
      line !== undefined ? { line } : {},
    );
  }
}

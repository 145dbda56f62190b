// Network namespaces for tests: pods and hosts built on this machine with `ip netns`. Needs root and
// iproute2; `netnsUnsupported()` says why not, so tests can skip with a reason.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

let counter = 0;

function findTool(name: string): string | undefined {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

/** Why namespaces cannot be used here, or undefined when they can. */
export function netnsUnsupported(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces are Linux-only (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root';
  if (!findTool('ip')) return 'iproute2 (`ip`) is not installed';
  return undefined;
}

/**
 * Why NAT capture cannot be set up in a namespace here, or undefined when it can: namespaces are
 * supported, `tool` (iptables or ip6tables) is installed, and a nat rule loads in a probe namespace.
 */
export function natUnsupported(tool: 'iptables' | 'ip6tables' = 'iptables'): string | undefined {
  const why = netnsUnsupported();
  if (why) return why;
  if (!findTool(tool)) return `${tool} is not installed`;
  const probe = `ztnat-probe-${process.pid}-${counter++}`;
  if (!sh('ip', ['netns', 'add', probe]).ok) return 'cannot create a network namespace here';
  const nat = sh('ip', ['netns', 'exec', probe, tool, '-t', 'nat', '-A', 'OUTPUT', '-j', 'RETURN']);
  sh('ip', ['netns', 'del', probe]);
  return nat.ok ? undefined : `${tool} nat does not work in a namespace: ${nat.out}`;
}

/**
 * Deletes the network namespaces that test processes of this project left behind when they were
 * killed before cleaning up (names start with `zt` and carry the creating process's pid as their
 * first all-digit `-` segment). A leftover namespace keeps its veth pair, and the host end keeps
 * its address and route, which would capture the traffic of a later run that picks the same
 * subnet. Namespaces of processes still running are left alone. Returns the names deleted.
 * `prefix` narrows the sweep (its own test uses one no other sweep touches: test processes sweep
 * at start-up, concurrently).
 */
export function sweepStaleNetns(prefix = 'zt'): string[] {
  const list = run('ip', ['netns', 'list']);
  if (list.status !== 0) return [];
  const deleted: string[] = [];
  for (const line of list.stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (!name.startsWith(prefix)) continue;
    const pid = name.split('-').find((part) => /^[0-9]+$/.test(part));
    if (pid === undefined || existsSync(`/proc/${pid}`)) continue;
    if (run('ip', ['netns', 'delete', name]).status === 0) deleted.push(name);
  }
  return deleted;
}

/**
 * A second octet X in [from, from + count) such that no interface in this namespace has an
 * address in 10.X.0.0/16, starting the search at `from + (pid % count)` so concurrent test
 * processes spread out. Throws when every one is taken.
 */
export function freeTestSubnet(from: number, count: number): number {
  const addrs = run('ip', ['-o', '-4', 'addr', 'show']).stdout;
  const used = new Set<number>();
  for (const m of addrs.matchAll(/inet 10\.([0-9]+)\./g)) used.add(Number(m[1]));
  for (let i = 0; i < count; i++) {
    const x = from + ((process.pid + i) % count);
    if (!used.has(x)) return x;
  }
  throw new Error(`no free 10.X.0.0/16 for X in ${from}..${from + count - 1}: every one has a host address`);
}

/**
 * Turns on IPv4 forwarding in this namespace, as on a Kubernetes node, so pods (namespaces joined
 * to this one by veth pairs) reach each other. Returns the undo: it turns forwarding off again when
 * it was off before and no test namespace of this project is left (tests run in parallel).
 */
export function enablePodForwarding(): () => void {
  const file = '/proc/sys/net/ipv4/ip_forward';
  const before = readFileSync(file, 'utf8').trim();
  if (before === '1') return () => {};
  writeFileSync(file, '1');
  return () => {
    const list = run('ip', ['netns', 'list']).stdout;
    if (!list.split('\n').some((l) => l.startsWith('zt'))) writeFileSync(file, before);
  };
}

/**
 * A pod as a node sees it: the named namespace `netns`, joined to this one by a veth pair whose host
 * end `hostIf` holds `gateway`/24 and whose pod end `eth0` holds `ip`/24, with a default route via the
 * gateway. Throws with ip's message when a step fails (what was made so far is the caller's to
 * delete: `ip netns del` takes the veth pair with it).
 */
export function addVethPod(o: { netns: string; hostIf: string; gateway: string; ip: string }): void {
  const must = (...args: string[]) => {
    const r = run('ip', args);
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
  };
  must('netns', 'add', o.netns);
  must('link', 'add', o.hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', o.netns);
  must('addr', 'add', `${o.gateway}/24`, 'dev', o.hostIf);
  must('link', 'set', o.hostIf, 'up');
  must('-n', o.netns, 'link', 'set', 'lo', 'up');
  must('-n', o.netns, 'link', 'set', 'eth0', 'up');
  must('-n', o.netns, 'addr', 'add', `${o.ip}/24`, 'dev', 'eth0');
  must('-n', o.netns, 'route', 'add', 'default', 'via', o.gateway);
}

/**
 * istio-cni's in-pod capture inside `netns`, as upstream's rules: zt's own traffic (marked `mark`,
 * default 1337) and loopback pass, other outbound TCP goes to 15001 (unless `outbound` is false);
 * inbound TCP goes to 15006, except HBONE (15008) and the `inboundPass` ports.
 */
export function addInpodCapture(
  netns: string,
  o: { tool?: 'iptables' | 'ip6tables'; mark?: number; outbound?: boolean; inboundPass?: number[] } = {},
): void {
  const rule = (...a: string[]) =>
    must('ip', ['netns', 'exec', netns, o.tool ?? 'iptables', '-t', 'nat', ...a]);
  if (o.outbound ?? true) {
    rule('-A', 'OUTPUT', '-p', 'tcp', '-m', 'mark', '--mark', `${o.mark ?? 1337}`, '-j', 'RETURN');
    rule('-A', 'OUTPUT', '-p', 'tcp', '-o', 'lo', '-j', 'RETURN');
    rule('-A', 'OUTPUT', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', '15001');
  }
  for (const port of [15008, ...(o.inboundPass ?? [])])
    rule('-A', 'PREROUTING', '-p', 'tcp', '--dport', `${port}`, '-j', 'RETURN');
  rule('-A', 'PREROUTING', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', '15006');
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: readonly string[], input?: string): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 30_000 });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? r.error?.message ?? '' };
}

/** A command's outcome for test set-ups: whether it exited 0, and its output (stdout, stderr, spawn error). */
export interface ShResult {
  ok: boolean;
  out: string;
}

/** Runs a set-up command (`ip`, `iptables`...) synchronously; never throws. */
export function sh(cmd: string, args: readonly string[], input?: string): ShResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 20_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}`.trim() };
}

/** Runs a set-up command that must succeed; throws with the command line and its output otherwise. */
export function must(cmd: string, args: readonly string[], input?: string): void {
  const r = sh(cmd, args, input);
  if (!r.ok) throw new Error(`${cmd} ${args.join(' ')}: ${r.out}`);
}

/** A named network namespace (unique per process and call) with loopback up. */
export class TestNetns {
  readonly name: string;
  readonly path: string;
  #deleted = false;

  constructor(label: string) {
    counter += 1;
    this.name = `zt-${label}-${process.pid}-${counter}`;
    this.path = `/var/run/netns/${this.name}`;
    const add = run('ip', ['netns', 'add', this.name]);
    if (add.status !== 0) throw new Error(`ip netns add ${this.name}: ${add.stderr.trim()}`);
    this.ip('link', 'set', 'lo', 'up');
  }

  /** `ip -n <ns> ...`; throws with ip's message on failure. */
  ip(...args: string[]): string {
    const r = run('ip', ['-n', this.name, ...args]);
    if (r.status !== 0) throw new Error(`ip -n ${this.name} ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /**
   * Runs a command inside the namespace without blocking this process's event loop (needed when
   * the command talks to servers of this process) and resolves with its result; never rejects.
   */
  spawn(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
    return new Promise((resolve) => {
      const child = spawn('ip', ['netns', 'exec', this.name, findTool(cmd) ?? cmd, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: timeoutMs,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      child.on('error', (e) => resolve({ status: 1, stdout, stderr: e.message }));
      child.on('close', (code) => resolve({ status: code ?? 1, stdout, stderr }));
    });
  }

  /** Runs a command inside the namespace, blocking, and returns its result without throwing. */
  exec(cmd: string, args: readonly string[], input?: string): RunResult {
    return run('ip', ['netns', 'exec', this.name, findTool(cmd) ?? cmd, ...args], input);
  }

  /**
   * Adds an interface holding `cidrs` (e.g. '192.0.2.1/24', '2001:db8::1/64'), so those subnets are
   * routable in the namespace. It is one end of a veth pair whose other end (`<ifname>p`) also
   * stays inside: veth works where the dummy module is missing.
   */
  addInterface(ifname: string, ...cidrs: string[]): void {
    this.ip('link', 'add', ifname, 'type', 'veth', 'peer', 'name', `${ifname}p`);
    for (const cidr of cidrs) {
      this.ip('addr', 'add', cidr, 'dev', ifname, ...(cidr.includes(':') ? ['nodad'] : []));
    }
    this.ip('link', 'set', `${ifname}p`, 'up');
    this.ip('link', 'set', ifname, 'up');
  }

  /**
   * Runs iptables (or ip6tables) inside the namespace. Returns an error message instead of
   * throwing, so a test can skip where the kernel lacks the table or match.
   */
  iptables(v6: boolean, args: readonly string[]): string | undefined {
    const tool = v6 ? 'ip6tables' : 'iptables';
    if (!findTool(tool)) return `${tool} is not installed`;
    const r = this.exec(tool, ['-w', ...args]);
    return r.status === 0 ? undefined : `${tool} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`;
  }

  /** Deletes the namespace (its interfaces and iptables rules go with it). Idempotent. */
  destroy(): void {
    if (this.#deleted) return;
    this.#deleted = true;
    run('ip', ['netns', 'delete', this.name]);
  }
}

// In-pod: zt is connected to istio-cni's node agent (ZDS), and inside every enrolled pod's network
// namespace zt listens on 15001, 15006 and 15008 and the capture rules that send the pod's traffic
// there are installed (iptables or nftables).
import { spawnSync } from 'node:child_process';
import { parseProcNetTcp } from './procnet.ts';
import type { Target } from './target.ts';
import { type CheckResult, cannotCheck, result } from './types.ts';

const POD_PORTS: readonly [number, string][] = [
  [15001, 'outbound'],
  [15006, 'inbound plaintext'],
  [15008, 'HBONE'],
];

interface Run {
  ok: boolean;
  out: string;
  missing: boolean;
}

/** Runs `cmd` inside the network namespace at `netns` (nsenter, from util-linux). */
function inNetns(netns: string, cmd: string[]): Run {
  const r = spawnSync('nsenter', [`--net=${netns}`, '--', ...cmd], { encoding: 'utf8', timeout: 10_000 });
  const err = r.error as NodeJS.ErrnoException | undefined;
  return {
    ok: r.status === 0,
    out: `${r.stdout ?? ''}${r.stderr ?? ''}${err?.message ?? ''}`,
    missing: err?.code === 'ENOENT' || r.status === 127 || /No such file or directory/.test(r.stderr ?? ''),
  };
}

/** The capture rules' targets found in a ruleset dump: the ports traffic is redirected to. */
export function redirectPorts(rules: string): Set<number> {
  const out = new Set<number>();
  // iptables-save: `-j REDIRECT --to-ports 15001`; nft: `redirect to :15001`; TPROXY variants too.
  for (const m of rules.matchAll(/(?:--to-ports|--on-port|redirect to :|tproxy to :)\s*(\d+)/g))
    out.add(Number(m[1]));
  return out;
}

function captureRules(netns: string): { ports: Set<number>; tool: string } | string {
  const missing: string[] = [];
  let empty: { ports: Set<number>; tool: string } | undefined;
  for (const cmd of [['iptables-save'], ['iptables-legacy-save'], ['nft', 'list', 'ruleset']]) {
    const tool = cmd[0] as string;
    const r = inNetns(netns, cmd);
    if (r.missing) {
      missing.push(tool);
      continue;
    }
    if (!r.ok) return `${cmd.join(' ')} failed: ${r.out.trim()}`;
    const ports = redirectPorts(r.out);
    if (ports.size > 0) return { ports, tool };
    empty ??= { ports, tool };
  }
  return empty ?? `cannot read the capture rules: ${missing.join(', ')} not found`;
}

export function checkInpod(t: Target): CheckResult {
  const s = t.status;
  const enabled = s ? s.inpod.enabled : t.config?.inpodEnabled;
  if (!enabled) return result('in-pod', 'skip', 'in-pod mode is off (lab mode, ZT_LAB_MODE=true)');
  if (!s?.inpod.enabled) return cannotCheck('in-pod', t.adminError);
  const p = s.inpod;
  if (p.state !== 'ready') {
    return result(
      'in-pod',
      'fail',
      `not connected to the istio-cni node agent at ${p.uds} (${p.state}${p.lastError ? `: ${p.lastError}` : ''})`,
      [],
      "check that istio-cni's node agent runs on this node and that zt and it share the directory of INPOD_UDS",
    );
  }
  const problems: string[] = [];
  const details: string[] = [`ZDS connected at ${p.uds}; ${p.pods.length} pods enrolled`];
  const warnings: string[] = [];
  for (const uid of p.pendingPods) problems.push(`pod ${uid}: its listeners failed to start (retried)`);
  for (const pod of p.pods) {
    const name = `pod ${pod.namespace}/${pod.name}`;
    const netns = `/proc/${s.pid}/fd/${pod.netnsFd}`;
    const tcp = inNetns(netns, ['cat', '/proc/net/tcp', '/proc/net/tcp6']);
    if (!tcp.ok) {
      warnings.push(`${name}: cannot enter its network namespace (${netns}): ${tcp.out.trim()}`);
      continue;
    }
    const listening = new Set(parseProcNetTcp(tcp.out).map((x) => x.port));
    const missingPorts = POD_PORTS.filter(([port]) => !listening.has(port));
    for (const [port, what] of missingPorts)
      problems.push(`${name}: zt does not listen on ${port} (${what}) inside the pod`);
    const rules = captureRules(netns);
    if (typeof rules === 'string') {
      warnings.push(`${name}: ${rules}`);
      continue;
    }
    const missingRules = POD_PORTS.filter(([port]) => port !== 15008 && !rules.ports.has(port));
    for (const [port, what] of missingRules)
      problems.push(`${name}: no capture rule redirects ${what} traffic to ${port} (${rules.tool})`);
    if (missingPorts.length === 0 && missingRules.length === 0)
      details.push(`${name}: listeners 15001, 15006, 15008 and capture rules (${rules.tool}) present`);
  }
  if (problems.length) {
    return result(
      'in-pod',
      'fail',
      problems[0] + (problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''),
      [...problems, ...warnings, ...details],
      /capture rule/.test(problems[0] ?? '')
        ? "istio-cni installs the rules when the pod starts: check istio-cni's logs, then restart the pod"
        : "see zt's in-pod log lines (scope inpod) for why the pod's listeners are missing",
    );
  }
  if (warnings.length) {
    return result(
      'in-pod',
      'warn',
      warnings[0] ?? '',
      [...warnings, ...details],
      "run zt doctor as root in zt's pod or on its node, with nsenter and iptables-save (or nft) installed",
    );
  }
  return result(
    'in-pod',
    'pass',
    `ZDS connected; ${p.pods.length} pods with listeners and capture rules`,
    details,
  );
}

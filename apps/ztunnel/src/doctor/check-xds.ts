// xDS: connected to istiod (and reachable from here), synced, how many resources zt holds, and
// the last NACK with the reasons zt gave.
import { formatDuration } from './check-ca.ts';
import { tcpProbe } from './probe.ts';
import type { Target } from './target.ts';
import { type CheckResult, cannotCheck, result } from './types.ts';

const SHORT_TYPE = (typeUrl: string) => typeUrl.slice(typeUrl.lastIndexOf('.') + 1);

export async function checkXds(t: Target): Promise<CheckResult> {
  const s = t.status;
  const d = t.dump;
  if (!s || !d) return cannotCheck('xDS', t.adminError);
  const counts = `${d.workloads.length} workloads, ${d.services.length} services, ${d.policies.length} policies`;
  const x = s.xds;
  if (x.mode === 'local') return result('xDS', 'pass', `local config (${x.source}): ${counts}`, [counts]);

  const now = Date.now();
  const details: string[] = [counts, `streams opened: ${x.streams}, ACKs: ${x.acks}, NACKs: ${x.nacks}`];
  const url = new URL(x.address);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let reach: string;
  try {
    reach = `reachable from here (TCP ${await tcpProbe(host, port, t.timeoutMs)} ms)`;
  } catch (e) {
    reach = `not reachable from here: ${(e as Error).message}`;
  }
  details.push(`${host}:${port} ${reach}`);
  const last = x.lastDisconnect;
  if (last) {
    details.push(
      `last stream end ${formatDuration(now - Date.parse(last.at))} ago: ${last.reason}, gRPC code ${last.code}: ${last.details}`,
    );
  }
  if (!x.connected) {
    return result(
      'xDS',
      'fail',
      `not connected to istiod at ${x.address}${last ? `: ${last.details} (${last.reason})` : ''}; ${reach}`,
      details,
      'check XDS_ADDRESS, XDS_ROOT_CA and the token (AUTH_TOKEN), that istiod runs, and istiod logs for this node',
    );
  }
  const since = x.connectedAt ? ` for ${formatDuration(now - Date.parse(x.connectedAt))}` : '';
  if (!x.synced) {
    return result(
      'xDS',
      'fail',
      `connected to ${x.address}${since} but the first full sync has not completed`,
      details,
      "istiod has not sent (or zt has not accepted) every resource type yet: see zt's xds log lines",
    );
  }
  const n = x.lastNack;
  const why = n?.errors.map((e) => `${e.resource}: ${e.reason}`).join('; ');
  if (n) details.push(`last NACK ${formatDuration(now - Date.parse(n.at))} ago (nonce ${n.nonce}): ${why}`);
  // Standing: nothing of that type was accepted since (a later ACK means istiod sent a fix).
  const ackedSince = n && (x.lastAck[n.typeUrl] ?? '') > n.at;
  if (n && !ackedSince) {
    return result(
      'xDS',
      'warn',
      `connected, but zt rejected ${SHORT_TYPE(n.typeUrl)} resources ${formatDuration(now - Date.parse(n.at))} ago: ${why}`,
      details,
      'rejected resources keep their last good version; fix the object istiod built them from, or report it if istiod and zt disagree on a valid one',
    );
  }
  const nack = n ? `last NACK ${formatDuration(now - Date.parse(n.at))} ago, resolved since` : 'no NACK';
  return result('xDS', 'pass', `connected to ${x.address}${since}, synced: ${counts}; ${nack}`, details);
}

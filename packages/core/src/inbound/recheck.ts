import type { AuthzConnection, AuthzDecision } from '../authz/authorize.ts';
import type { TrackedConnection } from '../conn/registry.ts';
import type { FlowContext } from '../context.ts';
import { PolicyDeniedError, WorkloadGoneError } from '../errors.ts';
import { authorizeInbound, logDryRunMatches } from './flow.ts';

interface Watched {
  uid: string;
  conn: AuthzConnection;
  /** The dry-run matches last logged for this connection, joined. */
  dryRun: string;
}

const watched = new WeakMap<TrackedConnection, Watched>();

/** Remembers what an inbound connection was authorized as, so a policy change can re-check it. */
export function watchPolicy(
  t: TrackedConnection,
  dstUid: string,
  conn: AuthzConnection,
  decision: AuthzDecision,
): void {
  watched.set(t, { uid: dstUid, conn, dryRun: decision.dryRunMatches.join(',') });
}

/**
 * After a state update: every open inbound connection is authorized again against the new
 * policies (as upstream's connection manager does), with the flows' own authorizeInbound; those now
 * denied are closed. Returns how many.
 */
export function recheckInbound(ctx: FlowContext): number {
  const view = ctx.view();
  let closed = 0;
  for (const t of ctx.registry.live()) {
    const w = watched.get(t);
    if (!w || t.closed) continue;
    const wl = view.workloadByUid(w.uid);
    if (!wl) {
      closeNoLongerAllowed(
        ctx,
        t,
        undefined,
        'workload removed',
        new WorkloadGoneError(w.uid, 'was removed'),
      );
      closed++;
      continue;
    }
    // Every state update re-checks every connection: a dry-run match is logged again only when the
    // set of matching dry-run policies changed, not once per update.
    const decision = authorizeInbound(ctx, w.conn, wl, false);
    const dryRun = decision.dryRunMatches.join(',');
    if (dryRun !== w.dryRun) {
      w.dryRun = dryRun;
      logDryRunMatches(ctx, w.conn, decision);
    }
    if (decision.allowed) continue;
    if (decision.rule !== undefined) t.info.rule = decision.rule;
    closeNoLongerAllowed(ctx, t, decision.policy, decision.reason, new PolicyDeniedError(decision));
    closed++;
  }
  return closed;
}

function closeNoLongerAllowed(
  ctx: FlowContext,
  t: TrackedConnection,
  policy: string | undefined,
  reason: string,
  err: Error,
): void {
  t.info.verdict = 'deny';
  if (policy) t.info.policy = policy;
  ctx.log.info(
    { id: t.info.id, policy, reason },
    'closing connection no longer allowed after a policy change',
  );
  t.abort(err);
}

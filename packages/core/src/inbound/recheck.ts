import { type AuthzConnection, authorize } from '../authz/authorize.ts';
import type { TrackedConnection } from '../conn/registry.ts';
import type { FlowContext } from '../context.ts';

const watched = new WeakMap<TrackedConnection, { uid: string; conn: AuthzConnection }>();

/** Remembers what an inbound connection was authorized as, so a policy change can re-check it. */
export function watchPolicy(
  _ctx: FlowContext,
  t: TrackedConnection,
  dstUid: string,
  conn: AuthzConnection,
): void {
  watched.set(t, { uid: dstUid, conn });
}

/**
 * After a state update: every open inbound connection is authorized again against the new
 * policies (as upstream's connection manager does); those now denied are closed. Returns how many.
 */
export function recheckInbound(ctx: FlowContext): number {
  const view = ctx.view();
  let closed = 0;
  for (const t of ctx.registry.live()) {
    const w = watched.get(t);
    if (!w || t.closed) continue;
    const wl = view.workloadByUid(w.uid);
    const decision = wl
      ? authorize(w.conn, view.policiesFor(wl))
      : { allowed: false, reason: 'workload removed' as const };
    if (decision.allowed) continue;
    t.info.verdict = 'deny';
    const policy = 'policy' in decision ? decision.policy : undefined;
    if (policy) t.info.policy = policy;
    if ('rule' in decision && decision.rule !== undefined) t.info.rule = decision.rule;
    ctx.log.info(
      { id: t.info.id, policy, reason: decision.reason },
      'closing connection no longer allowed after a policy change',
    );
    t.abort(
      new Error(
        `connection closed: no longer allowed (${policy ? `policy ${policy}` : decision.reason}) after a policy change`,
      ),
    );
    closed++;
  }
  return closed;
}

// The hand-off of a pod's listeners between two zt (INPOD_PORT_REUSE): during a rolling update the
// new zt binds the pod's ports beside the old one (SO_REUSEPORT), and the old one closes its
// listeners when it drains. Linux resets the connections still queued on a closing listener (the
// handshake done, not yet accepted) unless net.ipv4.tcp_migrate_req is set in that namespace; with
// it, they move to another listener of the same port, the new zt's. The knob is per network
// namespace and new namespaces start at 0, so it is set in each pod's.
import type { Logger } from '@zt/log';
import { setNetnsSysctl } from '@zt/native';

export const MIGRATE_SYSCTL = 'net.ipv4.tcp_migrate_req';

let warned = false;

/**
 * Sets net.ipv4.tcp_migrate_req=1 in the pod's namespace (`netns`: an fd or a path). Best effort:
 * where zt may not write /proc/sys (an unprivileged container mounts it read-only) the hand-off
 * still works, except for the few connections queued at the instant the old zt closes, as with
 * upstream ztunnel; zt says so once, at warn, and goes on. Returns whether the knob is set.
 */
export function enableListenerHandoff(netns: number | string, log: Logger): boolean {
  try {
    setNetnsSysctl(netns, MIGRATE_SYSCTL, 1);
    return true;
  } catch (e) {
    const msg = {
      err: (e as Error).message,
      hint: `the node agent or the node can set ${MIGRATE_SYSCTL}=1 in pod namespaces instead`,
    };
    if (!warned)
      log.warn(
        msg,
        `cannot set ${MIGRATE_SYSCTL} in the pod's namespace: a zt hand-off may reset connections queued on the old zt's listeners`,
      );
    else log.debug(msg, `cannot set ${MIGRATE_SYSCTL} in the pod's namespace`);
    warned = true;
    return false;
  }
}

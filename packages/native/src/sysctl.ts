// Network sysctls of another network namespace (a pod's): /proc/sys/net is per namespace, and
// zt's own threads stay in zt's, so the addon writes from a thread of its own inside the pod's.
import { addon } from './binding.ts';
import { call } from './errors.ts';
import { type NetnsRef, netnsSpec } from './socket.ts';

/**
 * Writes `value` to the network sysctl `name` (`net.ipv4.tcp_migrate_req`) inside `netns` (a
 * namespace fd, an `ip netns` name or a path). Throws NativeSyscallError: EROFS where /proc/sys is
 * mounted read-only (an unprivileged container), EACCES/EPERM without CAP_NET_ADMIN over the
 * namespace, ENOENT for a sysctl this kernel does not have.
 */
export function setNetnsSysctl(netns: NetnsRef, name: string, value: string | number): void {
  const native = addon('setNetnsSysctl');
  const spec = netnsSpec(netns);
  call(
    () => native.setNetnsSysctl(spec.netnsPath ?? '', spec.netnsFd ?? -1, name, String(value)),
    `${name} in ${typeof netns === 'number' ? `netns fd ${netns}` : netns}`,
  );
}

// The identity of a network namespace fd: its (device, inode) pair, as upstream's NetnsID. Two fds
// of one namespace have the same id; a pod whose sandbox was re-created gets a new one.
import { fstatSync, statSync } from 'node:fs';
import { ZdsRequestError } from './errors.ts';

let nsfsDev: bigint | null | undefined;

// Every namespace file lives on the kernel's nsfs device; a descriptor elsewhere (a regular file, a
// socket) is a node agent bug, caught here before a listener is opened in the wrong place.
function namespaceDevice(): bigint | null {
  if (nsfsDev === undefined) {
    try {
      nsfsDev = statSync('/proc/self/ns/net', { bigint: true }).dev;
    } catch {
      // No /proc (not Linux, or a sandbox without it): the device check below is skipped, and a
      // descriptor that is no namespace still fails where zt first enters it (setns).
      nsfsDev = null;
    }
  }
  return nsfsDev;
}

/** `<dev>:<inode>` of a namespace fd; throws ZdsRequestError ('fd') when it is not a namespace. */
export function netnsIdOf(fd: number): string {
  let st: ReturnType<typeof fstatSync> & { dev: bigint; ino: bigint };
  try {
    st = fstatSync(fd, { bigint: true });
  } catch (e) {
    throw new ZdsRequestError('fd', `cannot stat the received netns fd: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const dev = namespaceDevice();
  if (dev !== null && st.dev !== dev) {
    throw new ZdsRequestError(
      'fd',
      `the fd sent with AddWorkload is not a namespace file (device ${st.dev}, nsfs is ${dev})`,
    );
  }
  return `${st.dev}:${st.ino}`;
}

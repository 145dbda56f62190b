// The process's memory, beyond sockets: give freed C-heap pages back after a burst of traffic.
import { addon } from './binding.ts';

/**
 * Returns the C heap's free pages to the kernel (glibc `malloc_trim(0)`, every arena). True when
 * some memory was released. It walks the free lists, so call it when traffic has gone quiet, not
 * per connection. Throws NativeUnavailableError where the addon is not built.
 */
export function releaseFreeMemory(): boolean {
  return addon('releaseFreeMemory').releaseFreeMemory();
}

import type { SocketOps } from './context.ts';

/**
 * The SocketOps @zt/native provides on this host; empty (portable fallbacks) where the addon is
 * not built or the platform lacks the calls.
 */
export async function nativeSocketOps(): Promise<SocketOps> {
  return {};
}

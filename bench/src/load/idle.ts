// Idle connections: open `count` echo connections through a target (each proven end to end by one
// 1 KB exchange), hold them, and hand them back so the caller can read memory; then close them.
import type { Target } from '../targets.ts';
import { EchoConnection } from './echo.ts';

export interface IdleHold {
  opened: number;
  errors: number;
  firstError?: string;
  close(): Promise<void>;
}

export async function openIdle(target: Target, count: number, parallel = 64): Promise<IdleHold> {
  const payload = Buffer.alloc(1024, 0x64);
  const conns: EchoConnection[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      let c: EchoConnection | undefined;
      try {
        c = await EchoConnection.open(target);
        await c.request(payload);
        conns.push(c);
      } catch (e) {
        c?.close();
        errors++;
        firstError ??= (e as Error).message;
        if (errors > 50) return;
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return {
    opened: conns.length,
    errors,
    ...(firstError ? { firstError } : {}),
    close: async () => {
      await Promise.all(
        conns.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.socket.destroyed) return resolve();
              c.socket.once('close', () => resolve());
              c.close();
            }),
        ),
      );
    },
  };
}

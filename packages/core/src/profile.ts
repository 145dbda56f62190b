// V8 CPU profiles of the calling thread, through its own inspector session. Nothing is open until a
// profile is asked for, and the session is gone once it is taken: zero cost while nobody profiles.
import type { Profiler } from 'node:inspector';
import { Session } from 'node:inspector/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** A `.cpuprofile` (Chrome DevTools' and speedscope's format). */
export type CpuProfile = Profiler.Profile;

/** Samples this thread for `seconds` and returns the profile. Works in worker threads too. */
export async function takeCpuProfile(seconds: number): Promise<CpuProfile> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    await sleep(seconds * 1000);
    const { profile } = await session.post('Profiler.stop');
    return profile;
  } finally {
    session.disconnect();
  }
}

// Run sizes. The full run follows the brief; --quick and --ci trade sample size for time and say
// so in the output (the table header and the JSON carry the profile).
export interface Profile {
  name: 'full' | 'quick' | 'ci';
  reps: number;
  /**
   * Bytes each target relays once, unmeasured, before the first scenario: the bench's own client
   * and server processes, and each proxy's code paths, start cold, and a cold first run drags
   * down whichever targets the first repetition happens to run first.
   */
  warmupBytes: number;
  /** The same for connection set-up: each target's unmeasured connection-rate run, in ms. */
  warmupRateMs: number;
  bulk1Bytes: number;
  bulk1BidiBytes: number;
  bulk8Bytes: number;
  bulk8BidiBytes: number;
  rateMs: number;
  rateConcurrency: number;
  latencyMs: number;
  latencyRate: number;
  latencyConnections: number;
  idleConnections: number;
}

const MiB = 2 ** 20;

export const PROFILES: Record<Profile['name'], Profile> = {
  full: {
    name: 'full',
    reps: 5,
    warmupBytes: 512 * MiB,
    warmupRateMs: 3000,
    bulk1Bytes: 1024 * MiB,
    bulk1BidiBytes: 1024 * MiB,
    bulk8Bytes: 128 * MiB,
    bulk8BidiBytes: 128 * MiB,
    rateMs: 3000,
    rateConcurrency: 16,
    latencyMs: 5000,
    latencyRate: 1000,
    latencyConnections: 8,
    idleConnections: 10_000,
  },
  quick: {
    name: 'quick',
    reps: 3,
    warmupBytes: 256 * MiB,
    warmupRateMs: 2000,
    bulk1Bytes: 256 * MiB,
    bulk1BidiBytes: 128 * MiB,
    bulk8Bytes: 32 * MiB,
    bulk8BidiBytes: 16 * MiB,
    rateMs: 1000,
    rateConcurrency: 16,
    latencyMs: 1500,
    latencyRate: 1000,
    latencyConnections: 8,
    idleConnections: 10_000,
  },
  ci: {
    name: 'ci',
    reps: 3,
    warmupBytes: 64 * MiB,
    warmupRateMs: 700,
    bulk1Bytes: 64 * MiB,
    bulk1BidiBytes: 32 * MiB,
    bulk8Bytes: 8 * MiB,
    bulk8BidiBytes: 4 * MiB,
    rateMs: 700,
    rateConcurrency: 16,
    latencyMs: 1000,
    latencyRate: 1000,
    latencyConnections: 8,
    idleConnections: 5_000,
  },
};

export function describeProfile(p: Profile): string {
  const mib = (b: number): string => `${b / MiB} MiB`;
  return (
    `${p.name}: median of ${p.reps} interleaved runs after an unmeasured warm-up per target (${mib(p.warmupBytes)} bulk, ${p.warmupRateMs} ms of connections); bulk 1 conn ${mib(p.bulk1Bytes)} (both ways: ${mib(p.bulk1BidiBytes)} each way), ` +
    `8 conns ${mib(p.bulk8Bytes)} each (both ways: ${mib(p.bulk8BidiBytes)} each way); connection rate ${p.rateMs} ms x ${p.rateConcurrency} loops; ` +
    `latency ${p.latencyRate} rps for ${p.latencyMs} ms over ${p.latencyConnections} connections; ${p.idleConnections} idle connections`
  );
}

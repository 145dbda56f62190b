// `zt doctor` on the command line (npm run zt -- doctor, or the image's entry with `doctor`).
import { parseArgs } from 'node:util';
import { formatReport } from './report.ts';
import { defaultAdminUrl, healthy, runDoctor } from './run.ts';

const USAGE = `usage: zt doctor [--admin <url>] [--json] [--verbose] [--timeout <ms>]

Checks a running zt and its surroundings: configuration, CA, xDS, peers, in-pod, ports.
Prints a verdict per check and what to try; exits 1 when a check fails.

  --admin <url>    zt's admin API (default: from ZT_BIND_ADDRESS/ZT_ADMIN_PORT, else http://127.0.0.1:15000)
  --json           print { checks: [...] } as JSON
  --verbose, -v    print each check's details
  --timeout <ms>   per network probe (default 3000)
`;

/** Runs the command; resolves with the exit code. */
export async function doctorMain(
  argv: readonly string[],
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  let values: { admin?: string; json?: boolean; verbose?: boolean; timeout?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        admin: { type: 'string' },
        json: { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    process.stderr.write(`zt doctor: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    out.write(USAGE);
    return 0;
  }
  const timeoutMs = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
    process.stderr.write(`zt doctor: --timeout takes a number of milliseconds > 0\n`);
    return 2;
  }
  const report = await runDoctor({
    admin: values.admin ?? defaultAdminUrl(),
    ...(timeoutMs ? { timeoutMs } : {}),
  });
  out.write(
    values.json
      ? `${JSON.stringify(report, null, 2)}\n`
      : formatReport(report, {
          color: (out as { isTTY?: boolean }).isTTY === true,
          verbose: values.verbose === true,
        }),
  );
  return healthy(report) ? 0 : 1;
}

// A Dockerfile reader and the lint rules zt's image must pass (hadolint is not installable here).

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  op: string;
  /** Everything after the keyword, continuation lines joined. */
  args: string;
  /** 1-based line of the keyword. */
  line: number;
  /** Index of the stage (FROM) the instruction belongs to; -1 before the first FROM. */
  stage: number;
}

export interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): { instructions: Instruction[]; stages: Stage[] } {
  const instructions: Instruction[] = [];
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i] ?? '';
    if (/^\s*(#|$)/.test(first)) continue;
    const start = i;
    let joined = first;
    while (joined.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i] ?? '';
      if (/^\s*#/.test(next)) continue; // comments inside a continued instruction are dropped
      joined = `${joined.slice(0, -1)} ${next.trim()}`;
    }
    const m = /^\s*(\w+)\s+(.*)$/s.exec(joined);
    if (!m) continue;
    const op = (m[1] ?? '').toUpperCase();
    const args = (m[2] ?? '').trim();
    if (op === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ image: f?.[1] ?? args, name: f?.[2], instructions: [] });
    }
    const ins = { op, args, line: start + 1, stage: stages.length - 1 };
    instructions.push(ins);
    stages[stages.length - 1]?.instructions.push(ins);
  }
  return { instructions, stages };
}

export interface Expectations {
  /** Node version every stage's base image must carry (scripts/pins.json). */
  node: string;
  /** pnpm version the build stage must install (root package.json packageManager). */
  pnpm: string;
  /** USER of the final stage, as the chart's runAsUser:runAsGroup. */
  user: string;
  /** Ports the image must declare. */
  ports: number[];
  /** Readiness endpoint the HEALTHCHECK must call, as the chart's probe. */
  readiness: { port: number; path: string };
}

const SECRET_NAME = /(secret|token|passw|credential|api_?key|private_?key|auth)/i;
const SECRET_FILE = /(^|\/)(\.npmrc|\.netrc|\.env|id_rsa|id_ed25519|[^/\s]*\.pem|[^/\s]*\.key)(\s|$)/;

/** Problems found in `text`, one sentence each; empty when the Dockerfile passes. */
export function lintDockerfile(text: string, want: Expectations): string[] {
  const problems: string[] = [];
  const { instructions, stages } = parseDockerfile(text);
  const at = (i: Instruction) => `line ${i.line}`;

  if (stages.length < 2) problems.push('not multi-stage: build tools must stay out of the runtime image');
  for (const i of instructions.filter((x) => x.op === 'FROM')) {
    const image = stages[i.stage]?.image ?? '';
    const pinned = /@sha256:[0-9a-f]{64}$/.test(image) || /:\d+\.\d+\.\d+[^:]*$/.test(image);
    if (!pinned) problems.push(`${at(i)}: base image ${image} is not pinned to an exact version or digest`);
    if (image.startsWith('node:') && !image.startsWith(`node:${want.node}-`)) {
      problems.push(`${at(i)}: base image ${image} is not Node ${want.node} (scripts/pins.json)`);
    }
  }

  const final = stages[stages.length - 1];
  const build = stages.slice(0, -1);
  const buildRuns = build.flatMap((s) => s.instructions).filter((i) => i.op === 'RUN');
  if (!buildRuns.some((i) => new RegExp(`\\bpnpm@${want.pnpm.replaceAll('.', '\\.')}\\b`).test(i.args))) {
    problems.push(`the build stage does not install pnpm@${want.pnpm} (packageManager)`);
  }
  if (!buildRuns.some((i) => /pnpm install\b.*--frozen-lockfile/.test(i.args))) {
    problems.push('pnpm install without --frozen-lockfile: the image would not build what the lockfile says');
  }
  if (!buildRuns.some((i) => /pnpm\b.*\b(deploy|prune)\b.*--prod\b/.test(i.args))) {
    problems.push('no production-only step (pnpm deploy --prod or pnpm prune --prod)');
  }
  for (const i of instructions.filter((x) => x.op === 'RUN' && /apt-get install/.test(x.args))) {
    if (!/--no-install-recommends/.test(i.args))
      problems.push(`${at(i)}: apt-get install without --no-install-recommends`);
    if (!/rm -rf \/var\/lib\/apt\/lists/.test(i.args))
      problems.push(`${at(i)}: apt lists are left in the layer`);
  }

  for (const i of instructions) {
    if (i.op === 'ADD' && /https?:\/\//.test(i.args))
      problems.push(`${at(i)}: ADD of a URL; fetch in a RUN and verify`);
    if (i.op === 'RUN' && /(curl|wget)[^|]*\|\s*(ba)?sh/.test(i.args))
      problems.push(`${at(i)}: pipes a download into a shell`);
    if ((i.op === 'ENV' || i.op === 'ARG') && SECRET_NAME.test(i.args.split(/[=\s]/)[0] ?? '')) {
      problems.push(
        `${at(i)}: ${i.op} ${i.args.split(/[=\s]/)[0]} looks like a secret; use a build secret mount`,
      );
    }
    if ((i.op === 'COPY' || i.op === 'ADD') && SECRET_FILE.test(i.args)) {
      problems.push(`${at(i)}: copies a credentials file into the image`);
    }
    if (/_authToken|npm_token|BEGIN [A-Z ]*PRIVATE KEY/i.test(i.args))
      problems.push(`${at(i)}: contains a credential`);
  }

  if (!final) return problems;
  const finalOps = (op: string) => final.instructions.filter((i) => i.op === op);
  if (finalOps('RUN').some((i) => /apt-get|pnpm|npm (i|install)|node-gyp/.test(i.args))) {
    problems.push('the runtime stage installs or builds; do that in the build stage');
  }
  if (!finalOps('COPY').some((i) => /^--from=/.test(i.args)))
    problems.push('the runtime stage copies nothing from the build stage');

  const user = finalOps('USER').at(-1);
  if (!user) problems.push('no USER in the runtime stage: state the user the pod runs as');
  else if (user.args !== want.user) problems.push(`USER ${user.args} differs from the chart's ${want.user}`);

  const workdir = finalOps('WORKDIR').at(-1)?.args;
  if (workdir !== '/')
    problems.push(`runtime WORKDIR is ${workdir ?? 'unset'}; upstream's relative default paths need /`);

  const entry = finalOps('ENTRYPOINT').at(-1);
  if (!entry) problems.push('no ENTRYPOINT');
  else if (!isExecForm(entry.args))
    problems.push(`${at(entry)}: ENTRYPOINT is not in exec form, so SIGTERM would not reach Node`);

  const health = finalOps('HEALTHCHECK').at(-1);
  if (!health) problems.push('no HEALTHCHECK (Kubernetes uses the chart probes; docker run needs this)');
  else if (!health.args.includes(`:${want.readiness.port}${want.readiness.path}`)) {
    problems.push(
      `HEALTHCHECK does not call :${want.readiness.port}${want.readiness.path} as the chart's readiness probe`,
    );
  }

  const exposed = finalOps('EXPOSE').flatMap((i) => i.args.split(/\s+/).map((p) => Number.parseInt(p, 10)));
  for (const p of want.ports) if (!exposed.includes(p)) problems.push(`port ${p} is not EXPOSEd`);
  return problems;
}

function isExecForm(args: string): boolean {
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string');
  } catch {
    return false;
  }
}

/** The exec-form argument list of the final stage's ENTRYPOINT. */
export function entrypoint(text: string): string[] {
  const { stages } = parseDockerfile(text);
  const entry = stages
    .at(-1)
    ?.instructions.filter((i) => i.op === 'ENTRYPOINT')
    .at(-1);
  return entry && isExecForm(entry.args) ? (JSON.parse(entry.args) as string[]) : [];
}

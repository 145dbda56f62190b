import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ResolvConfError } from './errors.ts';

// The parts of resolv.conf(5) forwarding uses. As glibc: `domain` and `search` replace each other
// (the last one wins), options take the last value given, unknown lines are ignored.

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  /** `domain`, when it was the last of domain/search. */
  domain?: string;
  /** `options timeout:n` in seconds (glibc's default 5). */
  timeoutSec: number;
  /** `options attempts:n` (glibc's default 2). */
  attempts: number;
  ndots: number;
  /** `options use-vc`: always TCP. */
  useTcp: boolean;
}

export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = {
    nameservers: [],
    search: [],
    timeoutSec: 5,
    attempts: 2,
    ndots: 1,
    useTcp: false,
  };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (line === '') continue;
    const [key, ...args] = line.split(/\s+/);
    switch (key) {
      case 'nameserver': {
        const ip = args[0];
        // An IPv6 address may carry a zone (fe80::1%eth0); the address part must be an IP.
        if (ip !== undefined && isIP(ip.split('%')[0] ?? '') !== 0) out.nameservers.push(ip);
        break;
      }
      case 'search':
        out.search = args.map((d) => d.replace(/\.$/, '')).filter((d) => d !== '');
        delete out.domain;
        break;
      case 'domain':
        if (args[0]) {
          out.domain = args[0].replace(/\.$/, '');
          out.search = [out.domain];
        }
        break;
      case 'options':
        for (const o of args) {
          const [name, value] = o.split(':');
          const n = Number(value);
          if (name === 'timeout' && Number.isInteger(n) && n > 0) out.timeoutSec = Math.min(n, 30);
          else if (name === 'attempts' && Number.isInteger(n) && n > 0) out.attempts = Math.min(n, 5);
          else if (name === 'ndots' && Number.isInteger(n) && n >= 0) out.ndots = Math.min(n, 15);
          else if (name === 'use-vc' || name === 'tcp') out.useTcp = true;
        }
        break;
      default:
        break;
    }
  }
  return out;
}

/** Reads and parses `path`; at least one nameserver is required. */
export function readResolvConf(path: string): ResolvConf {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ResolvConfError(path, `cannot read it (${(e as Error).message})`, e);
  }
  const conf = parseResolvConf(text);
  if (conf.nameservers.length === 0) throw new ResolvConfError(path, 'it names no nameserver');
  return conf;
}

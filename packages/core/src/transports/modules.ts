import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TransportModuleError } from '../errors.ts';
import type { TransportRegistry } from './registry.ts';
import type { Transport } from './transport.ts';

// A transport registered with `transports.register` lives in the registry of the thread that
// registered it, and flows on worker threads read their own: a program's registration on the main
// thread never reaches them. A module specifier is plain data, so it travels to every worker in
// the proxy config, and each thread imports the module and registers what it exports.

function isTransport(v: unknown): v is Transport {
  if (typeof v !== 'object' || v === null) return false;
  const t = v as Record<string, unknown>;
  return (
    typeof t.name === 'string' &&
    t.name !== '' &&
    typeof t.mtls === 'boolean' &&
    typeof t.open === 'function' &&
    (t.accepts === undefined || typeof t.accepts === 'function')
  );
}

/**
 * The URL to import for `specifier`: an absolute path or a URL (`file:`, `data:`). A relative path
 * or a bare package name would resolve against @zt/core's files, not the program's, so it is refused.
 */
function moduleUrl(specifier: string): string {
  if (isAbsolute(specifier)) return pathToFileURL(specifier).href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(specifier)) return specifier;
  throw new TransportModuleError(
    specifier,
    'give an absolute path or a URL (new URL("./my-transport.js", import.meta.url).href): a relative one would resolve against @zt/core\'s files',
  );
}

/** The transports a module exports as its default: one, or an array of them. */
async function transportsOf(specifier: string): Promise<Transport[]> {
  let mod: { default?: unknown };
  try {
    mod = (await import(moduleUrl(specifier))) as { default?: unknown };
  } catch (e) {
    if (e instanceof TransportModuleError) throw e;
    throw new TransportModuleError(specifier, `it failed to load: ${(e as Error).message}`, e);
  }
  const exported = Array.isArray(mod.default) ? mod.default : [mod.default];
  const bad = exported.findIndex((t) => !isTransport(t));
  if (exported.length === 0 || bad >= 0) {
    throw new TransportModuleError(
      specifier,
      'its default export must be a Transport ({ name, mtls, open, accepts? }) or an array of them',
    );
  }
  return exported as Transport[];
}

/**
 * Imports each module (ProxyConfig.transportModules) and registers its transports in `registry`,
 * in order (a later one of the same name replaces an earlier one). Nothing is registered when one
 * fails. Resolves with the function that takes them out again.
 */
export async function loadTransportModules(
  specifiers: readonly string[],
  registry: TransportRegistry,
): Promise<() => void> {
  const loaded: Transport[] = [];
  for (const s of specifiers) loaded.push(...(await transportsOf(s)));
  const offs = loaded.map((t) => registry.register(t));
  return () => {
    for (const off of offs.reverse()) off();
  };
}

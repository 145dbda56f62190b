import { isZtErrorCode, ZtError } from '../errors.ts';

// For each package's own test that its errors keep the scheme: every error class it exports is
// found by walking the exports, so a class added later without a sample fails the test.

type ErrorClass = abstract new (...args: never[]) => Error;

function isErrorClass(v: unknown): v is ErrorClass {
  return typeof v === 'function' && v.prototype instanceof Error;
}

/** The error classes among a module's exports, by export name. */
export function errorClassesOf(module: Readonly<Record<string, unknown>>): Map<string, ErrorClass> {
  const out = new Map<string, ErrorClass>();
  for (const [name, v] of Object.entries(module)) if (isErrorClass(v)) out.set(name, v);
  return out;
}

export interface SchemeCheck {
  /** The package's exports (`import * as api from './index.ts'`), and any internal module with errors. */
  module: Readonly<Record<string, unknown>>;
  /** One instance of every error class, by export name. */
  samples: Readonly<Record<string, () => Error>>;
  /** Every code the package declares (its `*_ERROR_CODES` list). */
  codes?: readonly string[];
  /** The prefixes the package's codes start with, e.g. `ERR_ZT_XDS_`. */
  prefixes: readonly string[];
  /** Classes that are deliberately not ZtErrors (say why where they are declared). */
  exceptions?: readonly string[];
}

/** What breaks the scheme, one line per problem; empty when every error class and code keeps it. */
export function errorSchemeProblems(check: SchemeCheck): string[] {
  const problems: string[] = [];
  const exceptions = new Set(check.exceptions ?? []);
  const prefixed = (code: string) => check.prefixes.some((p) => code.startsWith(p));
  for (const [name, cls] of errorClassesOf(check.module)) {
    if (exceptions.has(name)) continue;
    const make = check.samples[name];
    if (!make) {
      problems.push(`${name}: no sample; add one so its code is checked`);
      continue;
    }
    let err: Error;
    try {
      err = make();
    } catch (e) {
      problems.push(`${name}: constructing the sample threw ${String(e)}`);
      continue;
    }
    if (!(err instanceof cls)) problems.push(`${name}: the sample is not a ${name}`);
    if (!(err instanceof ZtError)) {
      problems.push(`${name}: not a ZtError`);
      continue;
    }
    if (!isZtErrorCode(err.code) || !prefixed(err.code))
      problems.push(`${name}: code ${err.code} is not ${check.prefixes.join(' / ')}<WHAT>`);
    if (err.name !== name) problems.push(`${name}: its name is ${err.name}, so logs would misname it`);
  }
  for (const code of check.codes ?? []) {
    if (!isZtErrorCode(code) || !prefixed(code))
      problems.push(`code ${code} is not ${check.prefixes.join(' / ')}<WHAT>`);
  }
  return problems;
}

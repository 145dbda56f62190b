/**
 * Every error zt throws on purpose is a `ZtError`: programs branch on `code`, people read `message`.
 * Codes follow one scheme, `ERR_ZT_<AREA>_<WHAT>` in upper snake case, so a log search or an alert
 * on a prefix (`ERR_ZT_XDS_`) finds one package's failures. Messages end with what to check or do.
 */
export class ZtError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    if (!CODE_RE.test(code)) {
      // A malformed code is a programming error in zt itself; failing loudly keeps the scheme whole.
      throw new TypeError(`error code "${code}" does not follow ERR_ZT_<AREA>_<WHAT>`);
    }
    super(message, options);
    this.name = 'ZtError';
    this.code = code;
  }
}

const CODE_RE = /^ERR_ZT_[A-Z0-9]+(?:_[A-Z0-9]+)+$/;

/** True when `code` follows the scheme; tests use it to check every code a package declares. */
export function isZtErrorCode(code: string): boolean {
  return CODE_RE.test(code);
}

/** The `code` of any thrown value: a ZtError's, a Node system error's (`ECONNREFUSED`), or undefined. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** A one-line reason for a log field, whatever was thrown. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The constructor errorBase makes: a ZtError whose code is one of the package's. */
export interface ErrorBase<Code extends string> {
  new (code: Code, message: string, options?: { cause?: unknown }): ZtError & { readonly code: Code };
}

/**
 * The base class of one package's errors: a ZtError whose `code` is one of `codes`, the package's
 * list of every code it throws, so the compiler checks each code where it is thrown. A code off the
 * scheme fails when the package loads, not when the error is first thrown.
 */
export function errorBase<const Codes extends readonly string[]>(
  name: string,
  codes: Codes,
): ErrorBase<Codes[number]> {
  for (const code of codes) {
    if (!CODE_RE.test(code))
      throw new TypeError(`${name}: error code "${code}" does not follow ERR_ZT_<AREA>_<WHAT>`);
  }
  return class extends ZtError {
    constructor(code: Codes[number], message: string, options?: { cause?: unknown }) {
      super(code, message, options);
      this.name = name;
    }
  } as ErrorBase<Codes[number]>;
}

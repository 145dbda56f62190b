/** Base of every identity error: a stable `code` for programs, a message that says what to check. */
export class IdentityError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IdentityError';
    this.code = code;
  }
}

export class InvalidIdentityError extends IdentityError {
  constructor(input: string, why: string) {
    super(
      'ERR_INVALID_IDENTITY',
      `invalid SPIFFE identity "${input}": ${why}; expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`,
    );
    this.name = 'InvalidIdentityError';
  }
}

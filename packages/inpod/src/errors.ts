import { errorBase } from '@zt/errors';

/** Every code an inpod error carries. */
export const INPOD_ERROR_CODES = [
  'ERR_ZT_INPOD_BAD_REQUEST',
  'ERR_ZT_INPOD_POD_GONE',
  'ERR_ZT_INPOD_CONFIG',
  'ERR_ZT_INPOD_CLOSED',
] as const;
export type InpodErrorCode = (typeof INPOD_ERROR_CODES)[number];

/** Errors of @zt/inpod. Each has a stable `code`; messages say what the operator should check. */
export class InpodError extends errorBase('InpodError', INPOD_ERROR_CODES) {}

/** Why a ZDS request was refused; the `reason` is also the metric label. */
export type RejectReason = 'decode' | 'fd' | 'protocol' | 'identity';

/**
 * A request from the node agent that zt refuses: it is answered with an Ack carrying this message,
 * counted, logged, and the connection stays up.
 */
export class ZdsRequestError extends InpodError {
  readonly reason: RejectReason;
  constructor(reason: RejectReason, message: string, options?: { cause?: unknown }) {
    super(
      'ERR_ZT_INPOD_BAD_REQUEST',
      `${message}; check that the istio-cni node agent and zt speak the same ZDS version`,
      options,
    );
    this.name = 'ZdsRequestError';
    this.reason = reason;
  }
}

/** A pod's network namespace used after the pod was removed (its fd is closed). */
export class PodGoneError extends InpodError {
  constructor(uid: string) {
    super(
      'ERR_ZT_INPOD_POD_GONE',
      `pod ${uid} was removed and its network namespace closed; stop using it on podRemoved`,
    );
    this.name = 'PodGoneError';
  }
}

/** Options that cannot work (bad INPOD_UDS, trust domain). */
export class InpodConfigError extends InpodError {
  constructor(message: string) {
    super('ERR_ZT_INPOD_CONFIG', message);
    this.name = 'InpodConfigError';
  }
}

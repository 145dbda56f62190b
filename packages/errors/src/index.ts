export { Backoff, type BackoffOptions, backoffDelay } from './backoff.ts';
export { type ErrorBase, errorBase, errorCode, errorMessage, isZtErrorCode, ZtError } from './errors.ts';

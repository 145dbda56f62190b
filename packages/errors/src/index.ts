export { errorCode, errorMessage, isZtErrorCode, ZtError } from './errors.ts';

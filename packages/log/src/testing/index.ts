export { captureLog, type LogCapture } from './capture.ts';

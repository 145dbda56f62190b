export { type IssueOptions, TestCa } from './ca.ts';
export { ManualClock } from './clock.ts';
export { type RecordedRequest, type TestCaMode, TestCaServer, type TestCaServerOptions } from './server.ts';

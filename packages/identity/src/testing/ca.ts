// The in-memory CA lives in src (FAKE_CA uses it too); tests know it by this name.
export { type IssueOptions, LocalCa as TestCa } from '../local-ca.ts';

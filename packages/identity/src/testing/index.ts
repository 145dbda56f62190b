export { type IssueOptions, TestCa } from './ca.ts';

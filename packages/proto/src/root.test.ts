import assert from 'node:assert/strict';
import { test } from 'node:test';
import { protoFiles, protoRoot } from './index.ts';

test('every schema in proto/ loads and resolves', () => {
  const files = protoFiles();
  assert.ok(files.length > 0, 'proto/ holds at least one schema');
  const root = protoRoot();
  assert.ok(root.nestedArray.length > 0);
});

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';

test('deploy/ holds its README', () => {
  assert.ok(existsSync(new URL('../package.json', import.meta.url)));
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogFilterError } from './errors.ts';
import { formatLogFilter, levelFor, parseLogFilter, pinoLevel } from './filter.ts';

test('bad directives are refused with a stable code', () => {
  for (const bad of ['verbose', 'xds=loud', '=debug', 'a b=info']) {
    assert.throws(() => parseLogFilter(bad), LogFilterError, bad);
    assert.throws(() => parseLogFilter(bad), { code: 'ERR_ZT_LOG_FILTER' }, bad);
  }
  assert.equal(parseLogFilter('ztunnel::proxy:debug').scopes.get('ztunnel::proxy'), 'debug');
  assert.equal(parseLogFilter('INFO').level, 'info');
});

test('levelFor: the longest scope prefix wins, else the default level', () => {
  const f = parseLogFilter('warn,xds=debug,xds::client=error,access=off');
  assert.equal(levelFor(f, 'xds'), 'debug');
  assert.equal(levelFor(f, 'xds::delta'), 'debug');
  assert.equal(levelFor(f, 'xds::client'), 'error');
  assert.equal(levelFor(f, 'proxy'), 'warn');
  assert.equal(pinoLevel(levelFor(f, 'access')), 'silent');
  assert.equal(pinoLevel(levelFor(f, 'proxy')), 'warn');
});

test('a formatted filter parses back to the same filter; a later clause replaces an earlier one', () => {
  const f = parseLogFilter('access=debug,xds=warn,info,access=trace');
  const text = formatLogFilter(f);
  assert.equal(text, 'xds=warn,access=trace,info');
  assert.equal(formatLogFilter(parseLogFilter(text)), text);
  assert.equal(formatLogFilter(parseLogFilter('debug', f)), 'xds=warn,access=trace,debug');
});

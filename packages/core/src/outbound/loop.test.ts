import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSelfCall } from './loop.ts';

const ports = new Set([15001, 15006, 15008, 15080]);
const addrs = new Set(['10.0.0.5', '10.244.1.7']);

test('own ports on loopback are a self call (v4, v6, v4-mapped)', () => {
  for (const p of ports) assert.equal(isSelfCall({ address: '127.0.0.1', port: p }, ports, addrs), true);
  assert.equal(isSelfCall({ address: '127.0.1.10', port: 15008 }, ports, addrs), true);
  assert.equal(isSelfCall({ address: '::1', port: 15001 }, ports, addrs), true);
  assert.equal(isSelfCall({ address: '::ffff:127.0.0.1', port: 15006 }, ports, addrs), true);
});
test('own ports on own listener addresses are a self call', () => {
  assert.equal(isSelfCall({ address: '10.0.0.5', port: 15008 }, ports, addrs), true);
  assert.equal(isSelfCall({ address: '10.244.1.7', port: 15001 }, ports, addrs), true);
});
test('other ports, or own ports elsewhere, are not', () => {
  assert.equal(isSelfCall({ address: '127.0.0.1', port: 8080 }, ports, addrs), false);
  assert.equal(isSelfCall({ address: '10.0.0.6', port: 15008 }, ports, addrs), false);
  assert.equal(isSelfCall({ address: '10.0.0.5', port: 15021 }, ports, addrs), false);
});

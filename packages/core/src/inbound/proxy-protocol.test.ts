import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PROXY_TLV_IDENTITY, proxyProtocolHeader } from './proxy-protocol.ts';

const SIGNATURE = '0d0a0d0a000d0a515549540a';

test('PROXY v2 over IPv4: signature, PROXY command, TCP/IPv4, addresses, ports, the identity TLV', () => {
  const id = 'spiffe://cluster.local/ns/default/sa/client';
  const h = proxyProtocolHeader({ address: '10.0.0.1', port: 40000 }, { address: '10.10.0.1', port: 80 }, id);
  assert.equal(h.subarray(0, 12).toString('hex'), SIGNATURE);
  assert.equal(h[12], 0x21, 'version 2, PROXY');
  assert.equal(h[13], 0x11, 'TCP over IPv4');
  assert.equal(h.readUInt16BE(14), 12 + 3 + id.length, 'length of what follows');
  assert.equal(h.subarray(16, 20).toString('hex'), '0a000001');
  assert.equal(h.subarray(20, 24).toString('hex'), '0a0a0001');
  assert.equal(h.readUInt16BE(24), 40000);
  assert.equal(h.readUInt16BE(26), 80);
  assert.equal(h[28], PROXY_TLV_IDENTITY);
  assert.equal(h.readUInt16BE(29), id.length);
  assert.equal(h.subarray(31).toString(), id);
});

test('PROXY v2 over IPv6, and a mixed pair written as IPv6 (IPv4-mapped); no identity, no TLV', () => {
  const h = proxyProtocolHeader({ address: 'fd00::1', port: 1 }, { address: '10.0.0.2', port: 2 });
  assert.equal(h[13], 0x21, 'TCP over IPv6');
  assert.equal(h.readUInt16BE(14), 36);
  assert.equal(h.subarray(16, 32).toString('hex'), 'fd000000000000000000000000000001');
  assert.equal(h.subarray(32, 48).toString('hex'), '00000000000000000000ffff0a000002');
  assert.equal(h.readUInt16BE(48), 1);
  assert.equal(h.readUInt16BE(50), 2);
  assert.equal(h.length, 52);
});

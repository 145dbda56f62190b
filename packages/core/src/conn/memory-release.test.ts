import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryRelease } from './memory-release.ts';

const QUIET = 30;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function harness() {
  let size = 0;
  let releases = 0;
  const m = new MemoryRelease(
    () => releases++,
    () => size,
    QUIET,
  );
  return {
    m,
    open(n = 1) {
      for (let i = 0; i < n; i++) {
        size++;
        m.opened();
      }
    },
    close(n = 1) {
      for (let i = 0; i < n; i++) {
        size--;
        m.closed();
      }
    },
    get releases() {
      return releases;
    },
  };
}

describe('MemoryRelease', () => {
  test('releases once after the last connection closes and traffic stays quiet', async () => {
    const h = harness();
    h.open(3);
    h.close(3);
    assert.equal(h.releases, 0, 'not at once');
    await wait(QUIET * 3);
    assert.equal(h.releases, 1);
    await wait(QUIET * 3);
    assert.equal(h.releases, 1, 'nothing new to release without new traffic');
  });

  test('waits while connections keep opening', async () => {
    const h = harness();
    h.open();
    h.close();
    for (let i = 0; i < 5; i++) {
      await wait(QUIET / 2);
      h.open();
      h.close();
    }
    assert.equal(h.releases, 0);
    await wait(QUIET * 4);
    assert.equal(h.releases, 1);
  });

  test('does not release while a connection that opened meanwhile is still up', async () => {
    const h = harness();
    h.open();
    h.close();
    h.open();
    await wait(QUIET * 3);
    assert.equal(h.releases, 0);
    h.close();
    await wait(QUIET * 3);
    assert.equal(h.releases, 1);
  });

  test('releases after a large drop that leaves some connections open', async () => {
    const h = harness();
    h.open(100);
    h.close(70);
    await wait(QUIET * 3);
    assert.equal(h.releases, 0, '30 of a peak of 100 is not quiet');
    h.close(5);
    await wait(QUIET * 3);
    assert.equal(h.releases, 1, '25 of 100 is');
    h.close(25);
    await wait(QUIET * 3);
    assert.equal(h.releases, 1, 'no new traffic since');
  });

  test('a small peak releases only at zero', async () => {
    const h = harness();
    h.open(8);
    h.close(7);
    await wait(QUIET * 3);
    assert.equal(h.releases, 0);
    h.close();
    await wait(QUIET * 3);
    assert.equal(h.releases, 1);
  });

  test('stop cancels a pending release', async () => {
    const h = harness();
    h.open();
    h.close();
    h.m.stop();
    await wait(QUIET * 3);
    assert.equal(h.releases, 0);
  });
});

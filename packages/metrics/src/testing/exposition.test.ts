import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExpositionParseError, parseExposition, sampleValue, sumOf } from './index.ts';

test('parses names, escaped labels, special values and metadata', () => {
  const exp = parseExposition(
    [
      '# HELP a_total things counted',
      '# TYPE a_total counter',
      'a_total{x="q\\"uote",y="back\\\\slash",z="new\\nline"} 3',
      'a_total{x="2"} 4 1700000000000',
      'b +Inf',
      'c NaN',
      '',
    ].join('\n'),
  );
  assert.equal(exp.types.get('a_total'), 'counter');
  assert.equal(exp.help.get('a_total'), 'things counted');
  assert.equal(sampleValue(exp, 'a_total', { x: 'q"uote', y: 'back\\slash', z: 'new\nline' }), 3);
  assert.equal(sumOf(exp, 'a_total'), 7);
  assert.equal(sampleValue(exp, 'b', {}), Number.POSITIVE_INFINITY);
  assert.ok(Number.isNaN(sampleValue(exp, 'c', {})));
});

test('rejects malformed lines with the line number', () => {
  assert.throws(
    () => parseExposition('ok 1\nbad{x=1} 2'),
    (e: unknown) => {
      assert.ok(e instanceof ExpositionParseError);
      assert.match(e.message, /^line 2:/);
      return true;
    },
  );
  assert.throws(() => parseExposition('x{a="1",a="2"} 1'), ExpositionParseError);
  assert.throws(() => parseExposition('x abc'), ExpositionParseError);
});

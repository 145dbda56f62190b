import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logAccess } from './access.ts';
import { parseLogFormat, plainLine } from './format.ts';
import { Logging } from './logging.ts';
import { captureLog } from './testing/index.ts';

test('LOG_FORMAT unset or not json: upstream plain lines, time, level, scope, message, then key=value', () => {
  for (const value of [undefined, 'plain', 'text']) {
    const sink = captureLog();
    const logging = new Logging({ format: parseLogFormat(value), destination: sink });
    logAccess(logging.access, {
      'src.addr': '10.0.0.1:41234',
      'src.workload': 'sleep',
      'dst.addr': '10.0.0.2:15008',
      direction: 'outbound',
      bytes_sent: 120,
      bytes_recv: 7,
      duration: '12ms',
    });
    logging.root.warn('no fields here');
    const [line, bare] = sink.text().split(/(?<=\n)/);
    assert.match(
      line ?? '',
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tinfo\taccess\tconnection complete\tsrc\.addr="10\.0\.0\.1:41234" src\.workload="sleep" dst\.addr="10\.0\.0\.2:15008" direction="outbound" bytes_sent=120 bytes_recv=7 duration="12ms"\n$/,
    );
    assert.match(bare ?? '', /^\S+\twarn\tztunnel\tno fields here\n$/);
  }
  assert.equal(parseLogFormat('json'), 'json');
});

test('plainLine: objects are quoted JSON, a line without a scope is ztunnel, non-JSON passes through', () => {
  assert.equal(
    plainLine('{"level":"info","time":"t","message":"m","n":1,"o":{"a":1},"ok":true}'),
    't\tinfo\tztunnel\tm\tn=1 o="{\\"a\\":1}" ok=true\n',
  );
  assert.equal(plainLine('not json'), 'not json\n');
  assert.equal(plainLine('not json\n'), 'not json\n');
});

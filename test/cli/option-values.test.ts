import test from 'ava';
import { InvalidArgumentError } from 'commander';
import { byteSize, collect, deflateMode, nonNegativeInteger, positiveInteger, positiveNumber, timeSpan } from '../../src/cli/option-values.ts';

test('time spans take ms, s, m, h; a bare number is in the default unit', (t) => {
  const seconds = timeSpan('s');
  t.is(seconds('10'), 10_000);
  t.is(seconds('1.5'), 1500);
  t.is(seconds('500ms'), 500);
  t.is(seconds('2m'), 120_000);
  t.is(seconds('1h'), 3_600_000);
  t.is(timeSpan('ms')('250'), 250);
  for (const bad of ['', 'abc', '-1s', '0', '10 parsecs', '1e3']) t.throws(() => seconds(bad), { instanceOf: InvalidArgumentError }, bad);
});

test('sizes take bytes, k and m (binary multiples)', (t) => {
  t.is(byteSize('64'), 64);
  t.is(byteSize('0'), 0);
  t.is(byteSize('4k'), 4096);
  t.is(byteSize('4KiB'), 4096);
  t.is(byteSize('1m'), 1_048_576);
  for (const bad of ['-1', '1.5k', '4g', 'k']) t.throws(() => byteSize(bad), { instanceOf: InvalidArgumentError }, bad);
});

test('numbers are checked for range and form', (t) => {
  t.is(positiveInteger('100'), 100);
  t.throws(() => positiveInteger('0'), { instanceOf: InvalidArgumentError });
  t.throws(() => positiveInteger('1.5'), { instanceOf: InvalidArgumentError });
  t.throws(() => positiveInteger('ten'), { instanceOf: InvalidArgumentError });
  t.is(nonNegativeInteger('0'), 0);
  t.throws(() => nonNegativeInteger('-1'), { instanceOf: InvalidArgumentError });
  t.is(positiveNumber('2.5'), 2.5);
  t.throws(() => positiveNumber('0'), { instanceOf: InvalidArgumentError });
  t.throws(() => positiveNumber('Infinity'), { instanceOf: InvalidArgumentError });
  t.deepEqual(collect('b', collect('a', undefined)), ['a', 'b']);
});

test('--deflate modes: shared, dedicated, dedicated:BITS', (t) => {
  t.deepEqual(deflateMode('shared'), { mode: 'shared' });
  t.deepEqual(deflateMode('dedicated'), { mode: 'dedicated' });
  t.deepEqual(deflateMode('dedicated:10'), { mode: 'dedicated', windowBits: 10 });
  for (const bad of ['', 'fast', 'dedicated:8', 'dedicated:16', 'shared:12', 'dedicated:']) t.throws(() => deflateMode(bad), { instanceOf: InvalidArgumentError }, bad);
});

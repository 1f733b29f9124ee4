import test from 'ava';
import { InvalidArgumentError } from '../../src/shared/engine/errors.ts';
import { parseStages, peakTarget, stagesDurationMs, targetAt } from '../../src/loadgen/stage-schedule.ts';

test('stages parse as k6 writes them, with the one duration rule (bare number: seconds)', (t) => {
  t.deepEqual(parseStages('10s:100,30s:1000,10s:0'), [
    { durationMs: 10_000, target: 100 },
    { durationMs: 30_000, target: 1000 },
    { durationMs: 10_000, target: 0 },
  ]);
  t.deepEqual(parseStages('500ms:5, 2:7'), [{ durationMs: 500, target: 5 }, { durationMs: 2000, target: 7 }]);
  for (const bad of ['', '10s', '10s:', 'x:3', '10s:-1', '10s:1.5', '0s:4']) {
    t.throws(() => parseStages(bad), { instanceOf: InvalidArgumentError }, bad);
  }
});

test('the target moves linearly from the last stage\'s (0 at first) to each stage\'s, then stays', (t) => {
  const stages = parseStages('10s:100,30s:1000,10s:0');
  t.is(stagesDurationMs(stages), 50_000);
  t.is(peakTarget(stages), 1000);
  t.is(targetAt(stages, 0), 0);
  t.is(targetAt(stages, 5000), 50);
  t.is(targetAt(stages, 10_000), 100);
  t.is(targetAt(stages, 25_000), 550);
  t.is(targetAt(stages, 40_000), 1000);
  t.is(targetAt(stages, 45_000), 500);
  t.is(targetAt(stages, 50_000), 0);
  t.is(targetAt(stages, 99_000), 0);
  // A flat stage holds its target.
  t.is(targetAt(parseStages('1s:20,1s:20'), 1500), 20);
});

import test from 'ava';
import { dueCount, intendedTime, latencyOrigin, messagesBefore, shareOf } from '../../src/loadgen/open-model-schedule.ts';
import { InFlightQueue } from '../../src/loadgen/in-flight-queue.ts';

test('at 1000 msgs/s, message k is due at start + k ms', (t) => {
  t.is(intendedTime(100, 1000, 0), 100);
  t.is(intendedTime(100, 1000, 250), 350);
  t.is(intendedTime(0, 3, 2), 2000 / 3);
});

test('dueCount counts the messages due by now, past those already sent', (t) => {
  t.is(dueCount(1000, 1000, 0, 999), 0);
  t.is(dueCount(1000, 1000, 0, 1000), 1);
  t.is(dueCount(1000, 1000, 0, 1009.5), 10);
  t.is(dueCount(1000, 1000, 10, 1009.5), 0);
  t.is(dueCount(1000, 1000, 4, 1009.5), 6);
  // A stall of 50 ms at 2000 msgs/s leaves 100 messages due at once (they keep their intended times).
  t.is(dueCount(0, 2000, 1, 50), 100);
  t.is(dueCount(0, 2000, 200, 50), 0);
});

test('messagesBefore is the quota of a run: 2 s at 2500 msgs/s is 5000 messages', (t) => {
  t.is(messagesBefore(0, 2500, 2000), 5000);
  t.is(messagesBefore(10, 3, 1010), 3);
  t.is(messagesBefore(10, 3, 10), 0);
  // Messages due strictly before the end: at 1000/s over 1.0005 s, message 1000 (due at 1000 ms) counts.
  t.is(messagesBefore(0, 1000, 1000.5), 1001);
});

test('shareOf splits a total into parts that sum to it and differ by at most one', (t) => {
  for (const [total, parts] of [[100, 3], [7, 7], [5, 8], [1_000_003, 4]] as const) {
    const shares = Array.from({ length: parts }, (_, i) => shareOf(total, parts, i));
    t.is(shares.reduce((a, b) => a + b, 0), total);
    t.true(Math.max(...shares) - Math.min(...shares) <= 1);
  }
  t.deepEqual([0, 1, 2].map((i) => shareOf(100, 3, i)), [34, 33, 33]);
});

test('the in-flight queue is first in, first out, grows past its capacity and tracks the head sequence', (t) => {
  const q = new InFlightQueue(2);
  t.is(q.length, 0);
  t.true(Number.isNaN(q.peek()));
  for (let i = 0; i < 5; i++) q.push(100 + i);
  t.is(q.length, 5);
  t.is(q.peek(), 100);
  t.is(q.shift(), 100);
  t.is(q.shift(), 101);
  t.is(q.headSeq, 2);
  q.push(105);
  q.push(106);
  t.deepEqual([q.shift(), q.shift(), q.shift(), q.shift(), q.shift()], [102, 103, 104, 105, 106]);
  t.is(q.headSeq, 7);
  q.push(1);
  q.push(2);
  t.is(q.clear(), 2);
  t.is(q.headSeq, 9);
  t.is(q.length, 0);
});

test('corrected latency counts from the intended time when late, from the send when early; uncorrected from the send', (t) => {
  // Due at 100 ms, sent at 150 ms (the server or generator stalled): charged the 50 ms wait.
  t.is(latencyOrigin(100, 150, true), 100);
  // Due at 100.6 ms, sent at 100 ms within the lookahead: measured from the send.
  t.is(latencyOrigin(100.6, 100, true), 100);
  t.is(latencyOrigin(100, 150, false), 150);
});

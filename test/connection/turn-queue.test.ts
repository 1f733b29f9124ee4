/** The end-of-turn queue the socket backends share: order, the next turn, and a throw. */
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TurnQueue } from '../../src/shared/connection/turn-queue.ts';
import { within } from '../client/support.ts';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('items run once each at the end of the turn, in the order added; those added meanwhile wait a turn', async (t) => {
  const seen: string[] = [];
  const queue: TurnQueue<string> = new TurnQueue((item) => {
    seen.push(item);
    if (item === 'b') queue.add('late');
  });
  queue.add('a');
  queue.add('b');
  queue.add('c');
  t.deepEqual(seen, [], 'nothing runs in the turn that added it');
  await nextTurn();
  t.deepEqual(seen, ['a', 'b', 'c']);
  await nextTurn();
  t.deepEqual(seen, ['a', 'b', 'c', 'late']);
});

// A throw from an immediate is an uncaught exception, which this test's own process must not
// have: a fresh process watches for it and reports what ran.
const script = `
const { TurnQueue } = await import(${JSON.stringify(new URL('../../src/shared/connection/turn-queue.ts', import.meta.url).href)});
const seen = [];
const errors = [];
process.on('uncaughtException', (error) => errors.push(error.message));
const queue = new TurnQueue((item) => { if (item === 2) throw new Error('item 2'); seen.push(item); });
for (const item of [1, 2, 3, 4]) queue.add(item);
// Two turns: the one the queue runs in, and the next, where what followed the throw runs.
setImmediate(() => setImmediate(() => console.log(JSON.stringify({ seen, errors }))));
`;

test('an item that throws is an uncaught exception for the caller, and the ones behind it still run', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 });
  t.deepEqual(JSON.parse(stdout), { seen: [1, 3, 4], errors: ['item 2'] });
});

test('with a delay, the items added within it run together once it has passed', async (t) => {
  const seen: Array<[item: number, at: number]> = [];
  let lastSeen: () => void = () => {};
  const last = new Promise<void>((resolve) => { lastSeen = resolve; });
  const queue = new TurnQueue<number>((item) => {
    seen.push([item, performance.now()]);
    if (item === 3) lastSeen();
  }, 50);
  const started = performance.now();
  queue.add(1);
  await nextTurn();
  t.deepEqual(seen, [], 'not at the end of the turn');
  queue.add(2);
  queue.add(3);
  await within(last, 5000, 'the delayed round');
  t.deepEqual(seen.map(([item]) => item), [1, 2, 3]);
  // One round, no sooner than the delay (timers may fire a millisecond early).
  t.true(seen.every(([, at]) => at - started >= 49), `ran after ${(seen[0]![1] - started).toFixed(1)} ms`);
});

import { availableParallelism } from 'node:os';
import test from 'ava';
import { WebSocketServer } from '../../src/main/websocket-server.ts';
import { canTransferSockets, chooseWorkerCount, defaultWorkerCount } from '../../src/main/pool-support.ts';
import { SecureMode } from '../../src/shared/engine/state.ts';
import { InvalidArgumentError } from '../../src/shared/engine/errors.ts';
import { threadConnectionId } from '../../src/shared/wire/connection-ids.ts';

test('socket transfer needs Node 26.6 or later', (t) => {
  t.false(canTransferSockets('20.19.0'));
  t.false(canTransferSockets('26.5.9'));
  t.true(canTransferSockets('26.6.0'));
  t.true(canTransferSockets('27.0.0'));
  t.true(canTransferSockets(process.versions.node), 'the test runtime (Node 26.10) transfers sockets');
});

test('workers > 0 on an older Node fall back to 0 with one warning naming the version needed', (t) => {
  const warnings: string[] = [];
  const warn = (message: string): void => { warnings.push(message); };
  t.deepEqual(chooseWorkerCount(4, '26.10.0', warn), { workers: 4, fallbackReason: undefined });
  const first = chooseWorkerCount(4, '22.3.0', warn);
  const second = chooseWorkerCount(2, '22.3.0', warn);
  t.is(first.workers, 0);
  t.is(second.workers, 0);
  t.regex(first.fallbackReason!, /Node >= 26\.6\.0/);
  t.is(warnings.length, 1, 'warned once per process');
  t.regex(warnings[0]!, /22\.3\.0/);
  t.deepEqual(chooseWorkerCount(0, '22.3.0', warn), { workers: 0, fallbackReason: undefined });
});

test('the default worker count is one per available core', (t) => {
  t.is(defaultWorkerCount(), availableParallelism());
  t.is(chooseWorkerCount(undefined, '26.10.0', () => {}).workers, availableParallelism());
  const server = new WebSocketServer('default', SecureMode.NonSecure);
  t.is(server.workerCount(), availableParallelism());
});

test('workers must be below 1024: each live thread numbers its connections in a slot of its own', (t) => {
  t.throws(() => new WebSocketServer('x', SecureMode.NonSecure, { workers: 1024 }), { instanceOf: InvalidArgumentError, message: /workers must be below 1024; got 1024/ });
  t.throws(() => new WebSocketServer('x', SecureMode.NonSecure, { workers: -1 }), { instanceOf: InvalidArgumentError, message: /workers must be an integer >= 0/ });
  t.is(new WebSocketServer('x', SecureMode.NonSecure, { workers: 1023 }).workerCount(), 1023);
  const [first, second, later] = [threadConnectionId(1, 1), threadConnectionId(1, 2), threadConnectionId(2_097_151, 1023)];
  t.true(first < 0 && second < 0 && first !== second);
  // Small integers for the first two million connections of each thread.
  t.true(later >= -(2 ** 31), String(later));
});

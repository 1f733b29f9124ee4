// Pool threads start as connections need them: `minWorkers` (2 by default) with listen(), another each time a
// connection arrives and finds every running thread holding one, never more than `workers`, and
// a started thread stays. Counted from the server's census (threads linked, threads starting).
import test from 'ava';
import { ServerDefaults, type WebSocketServer } from '../../src/main/websocket-server.ts';
import { InvalidArgumentError } from '../../src/shared/engine/errors.ts';
import { EchoHandlerUrl, closeOf, connect, inBatches, nextMessage, startServer, until, within } from './support.ts';

interface Threads {
  links: number;
  starting: number;
}

async function threadsOf(server: WebSocketServer): Promise<Threads> {
  const census = await server.census();
  return { links: census.links, starting: census.threadsStarting };
}

/** Resolves once the server's threads are `expected` (polled, for 10 s at most); the error says what they were. */
async function threadsBecome(server: WebSocketServer, expected: Threads, label: string): Promise<void> {
  const reached = async (): Promise<boolean> => {
    const now = await threadsOf(server);
    return now.links === expected.links && now.starting === expected.starting;
  };
  await until(reached, 10_000, label).catch(async (error: Error) => {
    throw new Error(`${error.message}: ${JSON.stringify(await threadsOf(server))}`);
  });
}

async function echoes(client: Awaited<ReturnType<typeof connect>>, text: string): Promise<string> {
  const reply = nextMessage(client);
  client.send(text);
  return (await reply)[0].toString();
}

for (const accept of ['threads', 'owner'] as const) {
  test.serial(`a server of 4 threads starts two with listen() and the others as connections arrive, never more than 4, and keeps them when the connections end [accept: ${accept}]`, async (t) => {
    const server = await startServer(t, 4, { handler: EchoHandlerUrl, accept });
    t.is(server.minWorkers(), ServerDefaults.minWorkers);
    t.is(server.workerCount(), 4);
    t.deepEqual(await threadsOf(server), { links: 2, starting: 0 }, 'two threads at listen()');

    const clients = [await connect(t, server.serverUrl())];
    await until(() => server.connectionCount() === 1, 5000, 'the first connection counted');
    t.deepEqual(await threadsOf(server), { links: 2, starting: 0 }, 'one connection starts no thread');

    // One at a time, each counted before the next. With accept: threads the kernel may give a
    // connection to a thread that holds none yet, which starts nothing: how many connections it
    // takes to start all four is not fixed, only that it is a few.
    while (clients.length < 60) {
      const { links, starting } = await threadsOf(server);
      if (links + starting === 4) break;
      clients.push(await connect(t, server.serverUrl()));
      await until(() => server.connectionCount() === clients.length, 5000, `connection ${clients.length} counted`);
    }
    await threadsBecome(server, { links: 4, starting: 0 }, 'four threads run');
    t.log(`${clients.length} connections started all four threads`);

    // A burst on four busy threads starts no fifth.
    clients.push(...await inBatches(40, 40, () => connect(t, server.serverUrl())));
    await until(() => server.connectionCount() === clients.length, 10_000, 'the burst counted');
    t.deepEqual(await threadsOf(server), { links: 4, starting: 0 });
    t.is(server.workerConnectionCounts().size, 4);
    const replies = await Promise.all(clients.map((client, i) => echoes(client, `m${i}`)));
    t.deepEqual(replies, clients.map((_, i) => `m${i}`));

    await Promise.all(clients.map((client) => {
      const closed = closeOf(client);
      client.close(1000);
      return closed;
    }));
    await until(() => server.connectionCount() === 0, 10_000, 'every connection ended');
    t.deepEqual(await threadsOf(server), { links: 4, starting: 0 }, 'started threads stay');
  });
}

test.serial('a burst on a fresh server starts the threads it needs at once, and every connection that arrived meanwhile is served [workers: 3, accept: owner]', async (t) => {
  const server = await startServer(t, 3, { handler: EchoHandlerUrl, accept: 'owner' });
  const clients = await within(inBatches(30, 30, () => connect(t, server.serverUrl())), 20_000, '30 connections at once');
  await threadsBecome(server, { links: 3, starting: 0 }, 'three threads run');
  await until(() => server.connectionCount() === 30, 10_000, 'the burst counted');
  const afterBurst = [...server.workerConnectionCounts().values()];
  t.log(`the burst, per thread: ${afterBurst.join(', ')}`);
  // Then the owner sends each new connection to the thread with the fewest: the threads the
  // burst started fill up first.
  const expected = [...afterBurst];
  for (let i = 0; i < 30; i++) expected[expected.indexOf(Math.min(...expected))]! += 1;
  clients.push(...await inBatches(30, 1, () => connect(t, server.serverUrl())));
  await until(() => server.connectionCount() === 60, 10_000, 'every connection counted');
  const sorted = (counts: number[]): number[] => [...counts].sort((a, b) => a - b);
  t.deepEqual(sorted([...server.workerConnectionCounts().values()]), sorted(expected));
  const replies = await Promise.all(clients.map((client, i) => echoes(client, `m${i}`)));
  t.deepEqual(replies, clients.map((_, i) => `m${i}`));
});

test.serial('minWorkers starts that many threads with listen(), at most workers; setMinWorkers starts more at once and stops none', async (t) => {
  const all = await startServer(t, 3, { handler: EchoHandlerUrl, minWorkers: 3 });
  t.is(ServerDefaults.minWorkers, 2);
  t.is(all.minWorkers(), 3);
  t.deepEqual(await threadsOf(all), { links: 3, starting: 0 }, 'listen() resolved with every thread up');

  const capped = await startServer(t, 2, { handler: EchoHandlerUrl, minWorkers: 8 });
  t.is(capped.minWorkers(), 2, 'never more than workers');
  t.deepEqual(await threadsOf(capped), { links: 2, starting: 0 });

  const one = await startServer(t, 3, { handler: EchoHandlerUrl, minWorkers: 1 });
  t.deepEqual(await threadsOf(one), { links: 1, starting: 0 });

  const grown = await startServer(t, 3, { handler: EchoHandlerUrl });
  t.deepEqual(await threadsOf(grown), { links: 2, starting: 0 });
  grown.setMinWorkers(3);
  t.is(grown.minWorkers(), 3);
  await threadsBecome(grown, { links: 3, starting: 0 }, 'setMinWorkers(3) to start two threads');
  grown.setMinWorkers(1);
  t.is(grown.minWorkers(), 1);
  t.deepEqual(await threadsOf(grown), { links: 3, starting: 0 }, 'a lower minimum stops no thread');
  const client = await connect(t, grown.serverUrl());
  t.is(await echoes(client, 'served'), 'served');

  const inline = await startServer(t, 0, { minWorkers: 4 });
  t.is(inline.minWorkers(), 0, 'no pool, no threads');
});

test('minWorkers must be an integer >= 1, in the options and in the setter', async (t) => {
  const { WebSocketServer } = await import('../../src/main/websocket-server.ts');
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    t.throws(() => new WebSocketServer('x', undefined, { minWorkers: bad }), { instanceOf: InvalidArgumentError, message: /minWorkers must be an integer >= 1/ });
  }
  const server = new WebSocketServer('x', undefined, { workers: 2 });
  t.throws(() => server.setMinWorkers(0), { instanceOf: InvalidArgumentError });
  t.is(server.minWorkers(), 2);
  await server.destroy();
});

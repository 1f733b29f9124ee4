/**
 * Hostile or merely bursty clients over real sockets, bounded in count and time, each beside an
 * innocent client that must be served throughout.
 */
import WS from 'ws';
import { bothTransports, connect, echoEveryConnection, inBatches, nextMessage, refusalStatus, startServer, until, within } from './support.ts';

/** The status a `ws` client's upgrade gets: 101 when it opens, the HTTP status otherwise. */
function upgradeStatus(url: string): Promise<{ status: number; client: WS | undefined }> {
  const client = new WS(url);
  return within(new Promise((resolve) => {
    client.once('open', () => resolve({ status: 101, client }));
    client.once('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0, client: undefined });
      response.resume();
      client.terminate();
    });
    client.once('error', () => resolve({ status: 0, client: undefined }));
  }), 15_000, 'an upgrade');
}

async function innocentEcho(client: WS, text: string): Promise<string> {
  const reply = nextMessage(client);
  client.send(text);
  return (await reply)[0].toString();
}

bothTransports('100 concurrent handshakes all get 101 when the application takes every connection (no 503 from handshakes in flight)', async (t, workers) => {
  const server = await startServer(t, workers);
  echoEveryConnection(server);
  const innocent = await connect(t, server.serverUrl());
  const results = await Promise.all(Array.from({ length: 100 }, () => upgradeStatus(server.serverUrl())));
  for (const { client } of results) client?.terminate();
  t.deepEqual(results.filter(({ status }) => status !== 101).map(({ status }) => status), []);
  t.is(await innocentEcho(innocent, 'served throughout'), 'served throughout');
  t.false(server.hasPendingConnections());
});

bothTransports('concurrent upgrades at maxPendingConnections: exactly the room is accepted, the rest get 503, none hangs', async (t, workers) => {
  const server = await startServer(t, workers, { maxPendingConnections: 3 });
  const results = await Promise.all(Array.from({ length: 8 }, () => upgradeStatus(server.serverUrl())));
  t.teardown(() => { for (const { client } of results) client?.terminate(); });
  t.is(results.filter(({ status }) => status === 101).length, 3);
  t.is(results.filter(({ status }) => status === 503).length, 5);
  await until(() => server.hasPendingConnections(), 5000, 'the accepted ones to wait in the queue');
  // Taking one makes room for exactly one more.
  const taken = server.nextPendingConnection()!;
  t.truthy(taken);
  const again = await inBatches(2, 2, () => upgradeStatus(server.serverUrl()));
  t.teardown(() => { for (const { client } of again) client?.terminate(); });
  t.deepEqual(again.map(({ status }) => status).sort(), [101, 503]);
  t.is(await refusalStatus(server.serverUrl()), 503);
});

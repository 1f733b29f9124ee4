/**
 * Handler mode with nobody on the owner to decide (no originAuthenticationRequired listener, no
 * upgrade handler): the connection side accepts alone, on the owner's standing terms. These tests
 * hold it to the owner's answer: the subprotocol and Server header it would have chosen, and every
 * change made at run time (setters, a listener, an upgrade handler) reaching new connections,
 * on the owner thread and in the pool threads alike. A change reaches a pool thread a message
 * later, so those checks open connections until the new terms show (a bounded number).
 */
import type { IncomingMessage } from 'node:http';
import WS from 'ws';
import type { WebSocket } from '../../src/shared/connection/websocket.ts';
import { WebSocketServer } from '../../src/main/websocket-server.ts';
import { SecureMode } from '../../src/shared/engine/state.ts';
import { bothTransports, connect, EchoHandlerUrl, next, nextMessage, startServer, within } from './support.ts';

/** At most this many connections to see a run-time change. */
const Attempts = 50;

interface Outcome {
  status: number;
  subprotocol: string;
  server: string | undefined;
}

function serverHeader(response: IncomingMessage): string | undefined {
  const value = response.headers.server as string | string[] | undefined;
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Opens one connection offering `protocols` and closes it: the status, the subprotocol and the Server header. */
function attempt(server: WebSocketServer, protocols: string[]): Promise<Outcome> {
  const client = new WS(server.serverUrl(), protocols);
  return within(new Promise<Outcome>((resolve, reject) => {
    client.once('upgrade', (response: IncomingMessage) => {
      client.once('open', () => {
        resolve({ status: 101, subprotocol: client.protocol, server: serverHeader(response) });
        client.close();
      });
    });
    client.once('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0, subprotocol: '', server: serverHeader(response) });
      response.resume();
      client.terminate();
    });
    client.once('error', reject);
  }), 10_000, 'the handshake');
}

/** Opens connections until one has the outcome `wanted` accepts; fails after `Attempts`. */
async function eventually(server: WebSocketServer, protocols: string[], wanted: (outcome: Outcome) => boolean, label: string): Promise<Outcome> {
  let last: Outcome | undefined;
  for (let i = 0; i < Attempts; i++) {
    last = await attempt(server, protocols);
    if (wanted(last)) return last;
  }
  throw new Error(`${label}: still ${JSON.stringify(last)} after ${Attempts} connections`);
}

bothTransports('the subprotocol and Server header are the owner\'s, and setters at run time reach new connections', async (t, workers) => {
  const server = await startServer(t, workers, { handler: EchoHandlerUrl, supportedSubprotocols: ['chat.v2', 'chat.v1'] });
  const first = await attempt(server, ['chat.v0', 'chat.v1', 'chat.v2']);
  t.deepEqual(first, { status: 101, subprotocol: 'chat.v1', server: 'wsthreads-test' }, 'the first offer the server supports, in the client\'s order');

  const held = await connect(t, server.serverUrl(), ['chat.v1']);
  server.setSupportedSubprotocols(['chat.v9']);
  server.setServerName('renamed');
  const changed = await eventually(server, ['chat.v1', 'chat.v9'], (outcome) => outcome.subprotocol === 'chat.v9' && outcome.server === 'renamed', 'the new subprotocols and name');
  t.is(changed.status, 101);
  server.setServerName('');
  const unnamed = await eventually(server, [], (outcome) => outcome.server === undefined, 'no Server header');
  t.is(unnamed.status, 101);

  // The connection opened before the changes keeps what it agreed, and still works.
  t.is(held.protocol, 'chat.v1');
  const answer = nextMessage(held);
  held.send('still here');
  t.is((await answer)[0].toString(), 'still here');
});

bothTransports('an origin listener added at run time decides new connections; removed, the standing acceptance is back', async (t, workers) => {
  const server = await startServer(t, workers, { handler: EchoHandlerUrl });
  t.is((await attempt(server, [])).status, 101);
  const origins: string[] = [];
  const deny = (authenticator: { origin(): string; setAllowed(allowed: boolean): void }): void => {
    origins.push(authenticator.origin());
    authenticator.setAllowed(false);
  };
  server.on('originAuthenticationRequired', deny);
  await eventually(server, [], (outcome) => outcome.status === 403, 'refused by the listener');
  t.true(origins.length > 0, 'the listener was asked');
  server.off('originAuthenticationRequired', deny);
  await eventually(server, [], (outcome) => outcome.status === 101, 'accepted again');
  const asked = origins.length;
  t.is((await attempt(server, [])).status, 101);
  t.is(origins.length, asked, 'a removed listener is not asked');

  // removeAllListeners() takes the server's own watch on its listeners too: a listener added
  // after it must still be asked.
  server.removeAllListeners();
  server.on('originAuthenticationRequired', deny);
  await eventually(server, [], (outcome) => outcome.status === 403, 'refused by a listener added after removeAllListeners()');
  server.removeAllListeners('originAuthenticationRequired');
  await eventually(server, [], (outcome) => outcome.status === 101, 'accepted again after removeAllListeners(event)');
});

bothTransports('an upgrade handler set at run time decides new connections, and the idle timeout set at run time reaches them', async (t, workers) => {
  const server = await startServer(t, workers, { handler: EchoHandlerUrl });
  server.setUpgradeHandler(() => ({ accept: false, status: 401, body: 'who are you' }));
  await eventually(server, [], (outcome) => outcome.status === 401, 'refused by the upgrade handler');
  server.setUpgradeHandler(null);
  await eventually(server, [], (outcome) => outcome.status === 101, 'accepted again');

  server.setIdleTimeout(12_345);
  let seen: number | undefined;
  for (let i = 0; i < Attempts && seen !== 12_345; i++) {
    const client = await connect(t, server.serverUrl());
    const answer = nextMessage(client);
    client.send('whoami');
    seen = (JSON.parse((await answer)[0].toString()) as { idleTimeout: number }).idleTimeout;
    client.close();
  }
  t.is(seen, 12_345, 'the handler\'s socket has the idle timeout set at run time');
});

bothTransports('a newConnection listener gets each connection\'s lifecycle view with its request', async (t, workers) => {
  // Listening after the listener is added: every thread knows of it from its first connection.
  const server = new WebSocketServer('wsthreads-test', SecureMode.NonSecure, { workers, handler: EchoHandlerUrl });
  t.teardown(() => within(server.destroy(), 15_000, 'server.destroy()'));
  const views: WebSocket[] = [];
  server.on('newConnection', (socket) => views.push(socket!));
  t.true(await server.listen('127.0.0.1', 0), server.errorString());
  for (let i = 0; i < 4; i++) {
    const view = next<[WebSocket]>(server, 'newConnection', 10_000);
    const client = await connect(t, `${server.serverUrl()}/room/${i}?q=${i}`, undefined, { headers: { 'X-Trace': `trace-${i}` } });
    const request = (await view)[0].request();
    t.is(request.url, `${server.serverUrl()}/room/${i}?q=${i}`);
    t.is(request.headers.find(([name]) => name.toLowerCase() === 'x-trace')?.[1], `trace-${i}`);
    const answer = nextMessage(client);
    client.send('still echoed');
    t.is((await answer)[0].toString(), 'still echoed');
  }
  t.is(views.length, 4);
});

/**
 * Handshakes that fail on the server's side or the client's, over real sockets in every
 * transport: a handler module that cannot serve (on sockets handed over; listen() refuses it), an origin listener that throws, a client that
 * hangs up half way. Each ends cleanly (a status or a drop, a serverError that says why) and the
 * server keeps serving.
 */
import net from 'node:net';
import { CloseCode } from '../../src/shared/engine/close-code.ts';
import { SecureMode } from '../../src/shared/engine/state.ts';
import { WebSocketServer } from '../../src/main/websocket-server.ts';
import type { WebSocketError } from '../../src/shared/engine/errors.ts';
import {
  bothTransports,
  closeOf,
  connect,
  echoEveryConnection,
  nextMessage,
  refusalStatus,
  startServer,
  until,
  upgradeRequest,
  within,
} from './support.ts';

function nextServerError(server: Awaited<ReturnType<typeof startServer>>, code: number): Promise<WebSocketError> {
  return within(new Promise((resolve) => {
    server.on('serverError', (errorCode, error) => { if (errorCode === code) resolve(error); });
  }), 10_000, `serverError(${code})`);
}

for (const [fixture, cause] of [['no-function-handler.ts', /must export a function/], ['throwing-import-handler.ts', /fails to load on purpose/]] as const) {
  for (const listening of [true, false]) {
  bothTransports(`a handler module that ${fixture.startsWith('no') ? 'exports no function' : 'fails to load'}${listening ? '' : ', and nobody listens to newConnection'}: sockets handed over are dropped with 1006, serverError says why`, async (t, workers) => {
    // listen() refuses such a module (handler-load.test.ts); sockets handed to the server from
    // elsewhere (handleConnection) have no listen() to fail, so each connection fails instead.
    const server = new WebSocketServer('wsthreads-test', SecureMode.NonSecure, { workers, handler: new URL(`./fixtures/${fixture}`, import.meta.url) });
    t.teardown(() => within(server.destroy(), 15_000, 'server.destroy()'));
    const acceptor = net.createServer({ pauseOnConnect: true }, (socket) => server.handleConnection(socket));
    await within(new Promise<void>((resolve) => acceptor.listen(0, '127.0.0.1', () => resolve())), 5000, 'the acceptor');
    t.teardown(() => acceptor.close());
    // With pool threads the failure reaches the owner with the connection's lifecycle, whether
    // or not the server made an owner-side socket for it.
    const lifecycle: unknown[] = [];
    if (listening) server.on('newConnection', (socket) => lifecycle.push(socket));
    const reported = nextServerError(server, CloseCode.AbnormalDisconnection);
    const client = await connect(t, `ws://127.0.0.1:${(acceptor.address() as net.AddressInfo).port}`);
    const [code] = await closeOf(client);
    t.is(code, CloseCode.AbnormalDisconnection);
    const error = await reported;
    t.regex(error.message, cause);
    await until(() => server.connectionCount() === 0, 5000, 'the dropped connection to be gone');
  });
  }
}

bothTransports('an originAuthenticationRequired listener that throws: the client gets 500, the server serverError(1011), and it keeps serving', async (t, workers) => {
  const server = await startServer(t, workers);
  echoEveryConnection(server);
  let calls = 0;
  server.on('originAuthenticationRequired', (authenticator) => {
    if (calls++ === 0) throw new Error('listener bug on purpose');
    authenticator.setAllowed(true);
  });
  const reported = nextServerError(server, CloseCode.BadOperation);
  t.is(await refusalStatus(server.serverUrl(), undefined, { origin: 'https://any.example' }), 500);
  t.regex((await reported).message, /originAuthenticationRequired listener failed: listener bug on purpose/);
  const client = await connect(t, server.serverUrl());
  const echo = nextMessage(client);
  client.send('still deciding');
  t.is((await echo)[0].toString(), 'still deciding');
});

bothTransports('a client that closes in the middle of its request leaves nothing behind, and the next one is served', async (t, workers) => {
  const server = await startServer(t, workers);
  echoEveryConnection(server);
  const request = upgradeRequest(server.serverPort());
  for (const cut of [1, 20, request.length - 2]) {
    const half = net.connect(server.serverPort(), '127.0.0.1');
    half.on('error', () => {});
    await within(new Promise<void>((resolve) => half.once('connect', () => resolve())), 5000, 'the TCP connection');
    const closed = within(new Promise<void>((resolve) => half.once('close', () => resolve())), 5000, 'the hang-up');
    half.end(request.slice(0, cut));
    await closed;
  }
  const client = await connect(t, server.serverUrl());
  const echo = nextMessage(client);
  client.send('after the hang-ups');
  t.is((await echo)[0].toString(), 'after the hang-ups');
  await until(() => server.connectionCount() === 1, 5000, 'only the served connection to count');
  t.false(server.hasPendingConnections());
});

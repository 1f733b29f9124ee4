/**
 * Our client against our own WebSocketServer, over both transports (`workers: 0`, the engine on
 * the owner thread, and `workers: 2`, connections in a pool with an owner-side mirror).
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { SecureMode, SocketError, State, WebSocket, type WebSocketError } from '../../src/index.ts';
import { WebSocketServer } from '../../src/main/websocket-server.ts';
import { hasOpenssl, makeTestPki, next, rejection, within } from './support.ts';

const Transports = [0, 2] as const;

function bothTransports(title: string, body: (t: ExecutionContext, workers: number) => Promise<void>): void {
  for (const workers of Transports) test(`${title} [workers: ${workers}]`, (t) => body(t, workers));
}

async function startServer(t: ExecutionContext, workers: number, options: ConstructorParameters<typeof WebSocketServer>[2] = {}, secure: SecureMode = SecureMode.NonSecure): Promise<WebSocketServer> {
  const server = new WebSocketServer('wsthreads-client-test', secure, { workers, ...options });
  t.teardown(() => within(server.destroy(), 15_000, 'server.destroy()'));
  t.true(await server.listen('127.0.0.1', 0), server.errorString());
  return server;
}

/** The server-side socket of the next connection. */
function nextServerSocket(server: WebSocketServer): Promise<WebSocket> {
  return within(new Promise<WebSocket>((resolve) => {
    server.once('newConnection', () => resolve(server.nextPendingConnection()!));
  }), 10_000, 'newConnection');
}

async function openClient(t: ExecutionContext, url: string, options: Parameters<WebSocket['open']>[1] = {}, socket = new WebSocket({ maxAllowedIncomingMessageSize: 32 * 1024 * 1024 })): Promise<WebSocket> {
  t.teardown(() => socket.abort());
  await within(socket.open(url, options), 10_000, `opening ${url}`);
  return socket;
}

bothTransports('messages of 0 B to 16 MiB go both ways', async (t, workers) => {
  t.timeout(60_000);
  const server = await startServer(t, workers, { maxAllowedIncomingMessageSize: 32 * 1024 * 1024 });
  const accepted = nextServerSocket(server);
  const client = await openClient(t, `${server.serverUrl()}/`);
  const peer = await accepted;
  for (const size of [0, 125, 65_536, 1024 * 1024, 16 * 1024 * 1024]) {
    const binary = randomBytes(size);
    const atServer = next<[Buffer]>(peer, 'binaryMessageReceived', 30_000);
    client.sendBinaryMessage(binary);
    t.true((await atServer)[0].equals(binary), `binary ${size} to the server`);
    const atClient = next<[Buffer]>(client, 'binaryMessageReceived', 30_000);
    peer.sendBinaryMessage(binary);
    t.true((await atClient)[0].equals(binary), `binary ${size} to the client`);
    const text = 'é'.repeat(size / 2);
    const textAtClient = next<[string]>(client, 'textMessageReceived', 30_000);
    const textAtServer = next<[string]>(peer, 'textMessageReceived', 30_000);
    client.sendTextMessage(text);
    peer.sendTextMessage(text);
    t.is((await textAtServer)[0], text);
    t.is((await textAtClient)[0], text);
  }
});

bothTransports('subprotocol negotiation and the request as the server sees it', async (t, workers) => {
  const server = await startServer(t, workers, { supportedSubprotocols: ['v2', 'v1'] });
  const accepted = nextServerSocket(server);
  const client = await openClient(t, `${server.serverUrl()}/path?q=1`, { subprotocols: ['v1', 'v2'], headers: { 'X-Client': 'yes' }, origin: 'https://origin.example' });
  const peer = await accepted;
  t.is(client.subprotocol(), 'v1');
  t.is(peer.subprotocol(), 'v1');
  t.is(peer.resourceName(), '/path?q=1');
  t.is(peer.origin(), 'https://origin.example');
  t.true(peer.request().headers.some(([name, value]) => name.toLowerCase() === 'x-client' && value === 'yes'));
  t.is(peer.peerPort(), client.localPort());
});

bothTransports('server-initiated and client-initiated close carry code and reason', async (t, workers) => {
  const server = await startServer(t, workers);
  let accepted = nextServerSocket(server);
  const first = await openClient(t, server.serverUrl());
  let peer = await accepted;
  peer.close(4100, 'server closing');
  await next(first, 'disconnected');
  t.is(first.closeCode(), 4100);
  t.is(first.closeReason(), 'server closing');

  accepted = nextServerSocket(server);
  const second = await openClient(t, server.serverUrl());
  peer = await accepted;
  const peerGone = next(peer, 'disconnected');
  second.close(4200, 'client closing');
  await next(second, 'disconnected');
  await peerGone;
  t.is(peer.closeCode(), 4200);
  t.is(peer.closeReason(), 'client closing');
  t.is(second.closeCode(), 4200);
});

bothTransports('the server side vanishing gives the client 1006', async (t, workers) => {
  const server = await startServer(t, workers);
  const accepted = nextServerSocket(server);
  const client = await openClient(t, server.serverUrl());
  const peer = await accepted;
  const error = next<[WebSocketError]>(client, 'errorOccurred');
  peer.abort();
  await next(client, 'disconnected');
  t.is((await error)[0].kind, SocketError.RemoteHostClosed);
  t.is(client.closeCode(), 1006);
  t.is(client.state(), State.Unconnected);
});

bothTransports('an origin the server refuses fails the opening with 403', async (t, workers) => {
  const server = await startServer(t, workers);
  server.on('originAuthenticationRequired', (authenticator) => authenticator.setAllowed(authenticator.origin() === 'https://good.example'));
  const socket = new WebSocket({ origin: 'https://evil.example' });
  const error = await rejection<WebSocketError>(socket.open(server.serverUrl()));
  t.is(error.kind, SocketError.HandshakeFailed);
  t.regex(error.message, /403/);
  t.is(socket.handshakeResponse()?.status, 403);
  t.is(socket.state(), State.Unconnected);
});

if (hasOpenssl()) {
  bothTransports('wss against our secure server, trusted through the test CA', async (t, workers) => {
    const pki = makeTestPki();
    const server = await startServer(t, workers, { tls: { cert: pki.serverCert, key: pki.serverKey } }, SecureMode.Secure);
    const accepted = nextServerSocket(server);
    const url = `wss://localhost:${server.serverPort()}/secure`;
    const rejected = new WebSocket();
    t.is((await rejection<WebSocketError>(rejected.open(url))).kind, SocketError.SslHandshakeFailed);
    const client = await openClient(t, url, { ca: pki.caCert });
    const peer = await accepted;
    const reply = next<[string]>(client, 'textMessageReceived');
    const atServer = next<[string]>(peer, 'textMessageReceived');
    client.sendTextMessage('over TLS');
    t.is((await atServer)[0], 'over TLS');
    peer.sendTextMessage('back over TLS');
    t.is((await reply)[0], 'back over TLS');
  });
} else {
  test.skip('wss against our secure server, trusted through the test CA (skipped: openssl missing)', () => {});
}

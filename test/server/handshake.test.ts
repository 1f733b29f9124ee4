import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import test from 'ava';
import { WebSocketCorsAuthenticator } from '../../src/main/cors-authenticator.ts';
import { WebSocketServer } from '../../src/main/websocket-server.ts';
import { CloseCode } from '../../src/shared/engine/close-code.ts';
import { SocketError, type WebSocketError } from '../../src/shared/engine/errors.ts';
import { SecureMode } from '../../src/shared/engine/state.ts';
import {
  bothTransports,
  closeOf,
  connect,
  echoEveryConnection,
  hasOpenssl,
  makeTestPki,
  next,
  nextMessage,
  rawUpgrade,
  refusalStatus,
  socketClosed,
  startServer,
  upgradeRequest,
  within,
} from './support.ts';

bothTransports('a denied origin gets 403 and serverError(1008); an allowed one connects', async (t, workers) => {
  const server = await startServer(t, workers);
  echoEveryConnection(server);
  const origins: string[] = [];
  server.on('originAuthenticationRequired', (authenticator) => {
    origins.push(authenticator.origin());
    t.true(authenticator.allowed(), 'allowed by default');
    authenticator.setAllowed(authenticator.origin() === 'https://good.example');
  });
  const errors: Array<[number, WebSocketError]> = [];
  server.on('serverError', (code, error) => errors.push([code, error]));

  t.is(await refusalStatus(server.serverUrl(), undefined, { origin: 'https://evil.example' }), 403);
  t.deepEqual(errors.map(([code]) => code), [CloseCode.PolicyViolated]);
  t.is(server.error(), CloseCode.PolicyViolated);
  t.is(server.errorString(), 'Access forbidden.');

  const client = await connect(t, server.serverUrl(), undefined, { origin: 'https://good.example' });
  const echo = nextMessage(client);
  client.send('welcome');
  t.is((await echo)[0].toString(), 'welcome');
  t.deepEqual(origins, ['https://evil.example', 'https://good.example']);
});

bothTransports('the authenticator may decide later; the handshake waits for it', async (t, workers) => {
  const server = await startServer(t, workers);
  echoEveryConnection(server);
  const waiting: WebSocketCorsAuthenticator[] = [];
  server.on('originAuthenticationRequired', (authenticator) => {
    authenticator.defer();
    waiting.push(authenticator);
  });
  const refused = refusalStatus(server.serverUrl(), undefined, { origin: 'https://later-denied.example' });
  await within((async () => { while (waiting.length === 0) await new Promise((resolve) => setTimeout(resolve, 5)); })(), 5000, 'the authenticator');
  setTimeout(() => waiting[0]!.setAllowed(false), 20);
  t.is(await refused, 403);

  const accepted = connect(t, server.serverUrl(), undefined, { origin: 'https://later-allowed.example' });
  await within((async () => { while (waiting.length < 2) await new Promise((resolve) => setTimeout(resolve, 5)); })(), 5000, 'the second authenticator');
  t.true(waiting[1]!.isDeferred());
  setTimeout(() => waiting[1]!.setAllowed(true), 20);
  await accepted;
  t.pass();
});

test('WebSocketCorsAuthenticator copies are independent (Qt copy constructor)', (t) => {
  const original = new WebSocketCorsAuthenticator('https://a.example');
  original.setAllowed(false);
  const copy = WebSocketCorsAuthenticator.from(original);
  copy.setAllowed(true);
  t.is(copy.origin(), 'https://a.example');
  t.false(original.allowed());
  t.true(copy.allowed());
});

bothTransports('version 8 gets 426 with Sec-WebSocket-Version: 13 and serverError(1002)', async (t, workers) => {
  const server = await startServer(t, workers);
  const serverError = next<[number, WebSocketError]>(server, 'serverError');
  const answer = await rawUpgrade(t, server.serverPort(), upgradeRequest(server.serverPort(), { 'Sec-WebSocket-Version': '8' }));
  t.is(answer.status, 426);
  t.is(answer.headers.get('sec-websocket-version'), '13');
  const [code, error] = await serverError;
  t.is(code, CloseCode.ProtocolError);
  t.is(error.kind, SocketError.HandshakeFailed);
  await socketClosed(answer.socket);
});

bothTransports('a bad Sec-WebSocket-Key gets 400, and other malformed requests get their status', async (t, workers) => {
  const server = await startServer(t, workers);
  const port = server.serverPort();
  const badKey = await rawUpgrade(t, port, upgradeRequest(port, { 'Sec-WebSocket-Key': 'short' }));
  t.is(badKey.status, 400);
  await socketClosed(badKey.socket);
  // URL-safe base64 ('-', '_') is not the base64 RFC 6455 4.1 asks for.
  for (const key of ['dGhlIHNhbXBsZ-1ub25jZQ==', 'dGhlIHNhbXBsZ_Bub25jZQ==']) {
    t.is((await rawUpgrade(t, port, upgradeRequest(port, { 'Sec-WebSocket-Key': key }))).status, 400, key);
  }
  const noKey = await rawUpgrade(t, port, upgradeRequest(port, { 'Sec-WebSocket-Key': null }));
  t.is(noKey.status, 400);
  const post = await rawUpgrade(t, port, upgradeRequest(port).replace('GET', 'POST'));
  t.is(post.status, 405);
  // The owner hears of a failure in a pool thread after the client has its answer: await it.
  const serverError = next<[number, WebSocketError]>(server, 'serverError');
  const huge = await rawUpgrade(t, port, upgradeRequest(port, { 'X-Padding': 'x'.repeat(20_000) }));
  t.is(huge.status, 431);
  const [code] = await serverError;
  t.is(code, CloseCode.TooMuchData, '431 is Qt\'s "Header is too large." (1009)');
  t.is(server.error(), CloseCode.TooMuchData);
  // The server keeps serving after all of that.
  echoEveryConnection(server);
  const client = await connect(t, server.serverUrl());
  const echo = nextMessage(client);
  client.send('still fine');
  t.is((await echo)[0].toString(), 'still fine');
});

bothTransports('the 101 carries Server: and the chosen subprotocol; none when nothing matches', async (t, workers) => {
  const server = await startServer(t, workers, { supportedSubprotocols: ['beta', 'gamma'] });
  echoEveryConnection(server);
  server.setServerName('Echo/1.0');
  const port = server.serverPort();
  const chosen = await rawUpgrade(t, port, upgradeRequest(port, { 'Sec-WebSocket-Protocol': 'alpha, gamma, beta' }));
  t.is(chosen.status, 101);
  t.is(chosen.headers.get('sec-websocket-protocol'), 'gamma', 'the first in the client\'s order that the server supports');
  t.is(chosen.headers.get('server'), 'Echo/1.0');
  const none = await rawUpgrade(t, port, upgradeRequest(port, { 'Sec-WebSocket-Protocol': 'alpha' }));
  t.is(none.status, 101);
  t.false(none.headers.has('sec-websocket-protocol'));

  const client = await connect(t, server.serverUrl(), ['delta', 'beta']);
  t.is(client.protocol, 'beta');
  t.deepEqual(server.supportedSubprotocols(), ['beta', 'gamma']);
  t.deepEqual(server.supportedVersions(), [13]);
});

bothTransports('a client that sends half a request is dropped at the handshake timeout', async (t, workers) => {
  const server = await startServer(t, workers, { handshakeTimeout: 300 });
  t.is(server.handshakeTimeout(), 300);
  const slow = net.connect(server.serverPort(), '127.0.0.1');
  t.teardown(() => slow.destroy());
  slow.on('error', () => {});
  const started = Date.now();
  slow.write(upgradeRequest(server.serverPort()).slice(0, 40));
  await socketClosed(slow, 5000);
  t.true(Date.now() - started >= 250, 'not before the timeout');
  t.is(server.connectionCount(), 0);
  t.false(server.hasPendingConnections());
  // A client that completes in time is unaffected (given time enough on a busy machine).
  server.setHandshakeTimeout(10_000);
  echoEveryConnection(server);
  await connect(t, server.serverUrl());
  t.pass();
});

bothTransports('beyond maxPendingConnections upgrades get 503 and serverError(1006); taking one makes room', async (t, workers) => {
  const server = await startServer(t, workers, { maxPendingConnections: 2 });
  t.is(server.maxPendingConnections(), 2);
  await connect(t, server.serverUrl());
  await connect(t, server.serverUrl());
  const serverError = next<[number, WebSocketError]>(server, 'serverError');
  t.is(await refusalStatus(server.serverUrl()), 503);
  t.is((await serverError)[0], CloseCode.AbnormalDisconnection);
  t.is(server.errorString(), 'Too many pending connections.');
  t.true(server.hasPendingConnections());
  t.not(server.nextPendingConnection(), null);
  await connect(t, server.serverUrl());
  t.is(await refusalStatus(server.serverUrl()), 503);
});

bothTransports('pauseAccepting holds new connections until resumeAccepting', async (t, workers) => {
  const server = await startServer(t, workers);
  echoEveryConnection(server);
  server.pauseAccepting();
  let opened = false;
  const client = connect(t, server.serverUrl()).then((c) => {
    opened = true;
    return c;
  });
  // An absence can only be checked over a window: the upgrade must not complete in it.
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.false(opened, 'no upgrade while accepting is paused');
  server.resumeAccepting();
  const open = await client;
  const echo = nextMessage(open);
  open.send('resumed');
  t.is((await echo)[0].toString(), 'resumed');
});

bothTransports('listen on a port in use resolves false with AddressInUse and serverError(1006)', async (t, workers) => {
  const first = await startServer(t, workers);
  const second = new WebSocketServer('second', SecureMode.NonSecure, { workers });
  t.teardown(() => second.destroy());
  const serverError = next<[number, WebSocketError]>(second, 'serverError');
  t.false(await second.listen('127.0.0.1', first.serverPort()));
  t.is(second.socketError(), SocketError.AddressInUse);
  t.is(second.error(), CloseCode.AbnormalDisconnection);
  t.regex(second.errorString(), /EADDRINUSE/);
  const [code, error] = await serverError;
  t.is(code, CloseCode.AbnormalDisconnection);
  t.is(error.kind, SocketError.AddressInUse);
  t.false(second.isListening());
  t.is(second.serverUrl(), '');
  t.is(second.serverPort(), 0);
});

bothTransports('close() stops listening and emits closed; the server reports its address while listening', async (t, workers) => {
  const server = await startServer(t, workers);
  t.true(server.isListening());
  t.is(server.serverAddress(), '127.0.0.1');
  t.is(server.serverUrl(), `ws://127.0.0.1:${server.serverPort()}`);
  t.is(server.secureMode(), SecureMode.NonSecure);
  const port = server.serverPort();
  const closed = next(server, 'closed');
  server.close();
  await closed;
  t.false(server.isListening());
  const refused = await within(new Promise<string>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? ''));
    socket.once('connect', () => { socket.destroy(); resolve('connected'); });
  }), 5000, 'the connection attempt');
  t.is(refused, 'ECONNREFUSED');
});

bothTransports('handleConnection serves a socket accepted by another TCP server', async (t, workers) => {
  const server = new WebSocketServer('hand-over', SecureMode.NonSecure, { workers });
  t.teardown(() => server.destroy());
  echoEveryConnection(server);
  const tcp = net.createServer({ pauseOnConnect: true }, (socket) => server.handleConnection(socket));
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  t.teardown(() => tcp.close());
  const client = await connect(t, `ws://127.0.0.1:${(tcp.address() as net.AddressInfo).port}/`);
  const echo = nextMessage(client);
  client.send('handed over');
  t.is((await echo)[0].toString(), 'handed over');
  const counts = server.workerConnectionCounts();
  if (workers > 0) {
    t.false(counts.has(0), 'a fresh socket moves to a pool thread');
    t.is([...counts.values()].reduce((a, b) => a + b, 0), 1);
  } else {
    t.deepEqual([...counts], [[0, 1]]);
  }
});

bothTransports('an http.Server upgrade is handed over with handleUpgrade', async (t, workers) => {
  const server = new WebSocketServer('upgrade', SecureMode.NonSecure, { workers });
  t.teardown(() => server.destroy());
  echoEveryConnection(server);
  const httpServer = http.createServer((_request, response) => response.end('plain http'));
  httpServer.on('upgrade', (request, socket, head) => server.handleUpgrade(request, socket, head));
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { httpServer.closeAllConnections(); httpServer.close(); });
  const url = `ws://127.0.0.1:${(httpServer.address() as net.AddressInfo).port}/via-http`;
  const client = await connect(t, url);
  const echo = nextMessage(client);
  client.send('upgraded');
  t.is((await echo)[0].toString(), 'upgraded');
  // Node cannot move a socket it has read from: it is served on the owner thread.
  t.is(server.workerConnectionCounts().get(0), 1);
  // The request is checked the same way: a bad version is refused.
  t.is(await refusalStatus(url, undefined, { protocolVersion: 8 }), 426);
});

const tlsTest = hasOpenssl() ? bothTransports : (title: string) => test.skip(`${title} (skipped: openssl missing)`, () => {});

tlsTest('SecureMode.Secure serves wss:// with TLS done where the connection lives', async (t, workers) => {
  const pki = makeTestPki();
  const server = await startServer(t, workers, { tls: { key: pki.serverKey, cert: pki.serverCert } }, SecureMode.Secure);
  echoEveryConnection(server);
  t.is(server.serverUrl(), `wss://127.0.0.1:${server.serverPort()}`);
  const client = await connect(t, `${server.serverUrl()}/secure`, undefined, { ca: pki.caCert });
  const echo = nextMessage(client);
  client.send('over tls');
  t.is((await echo)[0].toString(), 'over tls');
  t.is((client as unknown as { _socket: { getProtocol(): string } })._socket.getProtocol(), 'TLSv1.3');
  const closed = closeOf(client);
  client.close(1000);
  t.is((await closed)[0], 1000);
});

tlsTest('an https.Server upgrade keeps its TLS: handleUpgrade serves it as wss://', async (t, workers) => {
  const pki = makeTestPki();
  const server = new WebSocketServer('https upgrade', SecureMode.NonSecure, { workers });
  t.teardown(() => server.destroy());
  const urls: string[] = [];
  echoEveryConnection(server, (socket) => urls.push(socket.requestUrl()));
  const httpsServer = https.createServer({ key: pki.serverKey, cert: pki.serverCert });
  httpsServer.on('upgrade', (request, socket, head) => server.handleUpgrade(request, socket, head));
  await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { httpsServer.closeAllConnections(); httpsServer.close(); });
  const port = (httpsServer.address() as net.AddressInfo).port;
  const client = await connect(t, `wss://127.0.0.1:${port}/tls-upgrade`, undefined, { ca: pki.caCert });
  const echo = nextMessage(client);
  client.send('through https');
  t.is((await echo)[0].toString(), 'through https');
  t.deepEqual(urls, [`wss://127.0.0.1:${port}/tls-upgrade`]);
});

test('bad arguments throw InvalidArgumentError; a fresh server reports no error', (t) => {
  t.throws(() => new WebSocketServer('x', SecureMode.Secure, { workers: 0 }), { name: 'InvalidArgumentError' });
  t.throws(() => new WebSocketServer('x', SecureMode.NonSecure, { workers: -1 }), { name: 'InvalidArgumentError' });
  t.throws(() => new WebSocketServer('x', SecureMode.NonSecure, { workers: 0, supportedSubprotocols: ['bad name'] }), { name: 'InvalidArgumentError' });
  t.throws(() => new WebSocketServer('bad\r\nname', SecureMode.NonSecure, { workers: 0 }), { name: 'InvalidArgumentError' });
  const server = new WebSocketServer('ok', SecureMode.NonSecure, { workers: 0 });
  t.throws(() => server.setServerName('x\ny'), { name: 'InvalidArgumentError' });
  t.throws(() => server.setMaxPendingConnections(-1), { name: 'InvalidArgumentError' });
  t.throws(() => new WebSocketServer('x', SecureMode.NonSecure, { workers: 0, maxAllowedIncomingFrameSize: 0 }), { name: 'InvalidArgumentError' });
  t.is(server.serverName(), 'ok');
  t.is(server.error(), 1000, 'Qt: CloseCodeNormal before any error');
  t.is(server.errorString(), '');
  t.is(server.socketError(), SocketError.UnknownSocket);
});

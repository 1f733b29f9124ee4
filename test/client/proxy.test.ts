import https from 'node:https';
import type net from 'node:net';
import test from 'ava';
import type { WebSocket as WsSocket } from 'ws';
import { SocketError, State, WebSocket, type WebSocketError } from '../../src/index.ts';
import { closedPort, hasOpenssl, makeTestPki, next, rejection, startConnectProxy, startWsServer, within } from './support.ts';

test('ws:// through an HTTP CONNECT proxy', async (t) => {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  peer.wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  const proxy = await startConnectProxy();
  t.teardown(() => proxy.close());

  const socket = new WebSocket();
  socket.setProxy({ host: '127.0.0.1', port: proxy.port });
  t.deepEqual(socket.proxy(), { host: '127.0.0.1', port: proxy.port });
  const arrived = next<[WsSocket, import('node:http').IncomingMessage]>(peer.wss, 'connection');
  await within(socket.open(`${peer.url}/via-proxy?q=1`), 5000, 'the opening');
  const [, request] = await arrived;
  t.is(request.url, '/via-proxy?q=1');
  t.is(proxy.requests.length, 1);
  t.regex(proxy.requests[0]!, new RegExp(`^CONNECT 127\\.0\\.0\\.1:${peer.port} HTTP/1\\.1\\r\\nHost: 127\\.0\\.0\\.1:${peer.port}`));
  // The peer the socket sees is the proxy.
  t.is(socket.peerPort(), proxy.port);
  t.is(socket.peerName(), '127.0.0.1');

  const reply = next<[string]>(socket, 'textMessageReceived');
  socket.sendTextMessage('tunnelled');
  t.is((await reply)[0], 'tunnelled');
  socket.close();
  await next(socket, 'disconnected');
  t.is(socket.closeCode(), 1000);
});

test('proxy credentials are sent as Proxy-Authorization; without them the proxy refuses', async (t) => {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  const proxy = await startConnectProxy({ auth: 'alice:s3cret' });
  t.teardown(() => proxy.close());

  const refused = new WebSocket();
  refused.setProxy({ host: '127.0.0.1', port: proxy.port });
  const error = await rejection<WebSocketError>(refused.open(peer.url));
  t.is(error.kind, SocketError.ProxyAuthenticationRequired);
  t.regex(error.message, /407 Proxy Authentication Required/);
  t.is(refused.state(), State.Unconnected);

  const socket = new WebSocket({ proxy: { host: '127.0.0.1', port: proxy.port, auth: { username: 'alice', password: 's3cret' } } });
  await within(socket.open(peer.url), 5000, 'the opening');
  t.is(socket.state(), State.Connected);
  t.regex(proxy.requests.at(-1)!, /\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0/);
  socket.abort();
});

test('a proxy that is not listening fails with ProxyConnectionRefused', async (t) => {
  const socket = new WebSocket();
  socket.setProxy({ host: '127.0.0.1', port: await closedPort() });
  const error = await rejection<WebSocketError>(socket.open('ws://127.0.0.1:9/'));
  t.is(error.kind, SocketError.ProxyConnectionRefused);
  t.is(socket.state(), State.Unconnected);
});

test('a proxy that never answers CONNECT runs into the connect timeout', async (t) => {
  const proxy = await startConnectProxy({ hang: true });
  t.teardown(() => proxy.close());
  const socket = new WebSocket();
  socket.setProxy({ host: '127.0.0.1', port: proxy.port });
  socket.setConnectTimeout(300);
  t.is(socket.connectTimeout(), 300);
  const error = await rejection<WebSocketError>(socket.open('ws://127.0.0.1:9/'));
  t.is(error.kind, SocketError.SocketTimeout);
  t.regex(error.message, /timed out after 300 ms/);
  t.is(socket.state(), State.Unconnected);
});

test('setProxy checks its argument', (t) => {
  const socket = new WebSocket();
  t.throws(() => socket.setProxy({ host: '', port: 80 }), { name: 'InvalidArgumentError' });
  t.throws(() => socket.setProxy({ host: 'h', port: 70000 }), { name: 'InvalidArgumentError' });
  socket.setProxy(null);
  t.is(socket.proxy(), null);
});

(hasOpenssl() ? test : test.skip)('wss:// through a CONNECT proxy: TLS runs end to end inside the tunnel', async (t) => {
  const pki = makeTestPki();
  const server = https.createServer({ cert: pki.serverCert, key: pki.serverKey });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const peer = await startWsServer({ server });
  peer.wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  t.teardown(async () => {
    await peer.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const proxy = await startConnectProxy();
  t.teardown(() => proxy.close());
  const socket = new WebSocket();
  socket.setProxy({ host: '127.0.0.1', port: proxy.port });
  await within(socket.open(`wss://localhost:${(server.address() as net.AddressInfo).port}/`, { ca: pki.caCert }), 5000, 'the opening');
  t.regex(proxy.requests[0]!, /^CONNECT localhost:\d+ HTTP\/1\.1/);
  const reply = next<[string]>(socket, 'textMessageReceived');
  socket.sendTextMessage('secret');
  t.is((await reply)[0], 'secret');
  socket.abort();
});

import https from 'node:https';
import net from 'node:net';
import test from 'ava';
import { SocketError, State, WebSocket, type SslError, type WebSocketError } from '../../src/index.ts';
import { hasOpenssl, makeTestPki, next, rejection, startWsServer, within, type TestPki, type WsPeer } from './support.ts';

const openssl = hasOpenssl();
const tlsTest = openssl ? test : test.skip;
let pki: TestPki;

test.before(() => {
  if (openssl) pki = makeTestPki();
});

/** A `ws` server over HTTPS with the given certificate, echoing every message. */
async function startWssServer(t: import('ava').ExecutionContext, cert: string, key: string): Promise<WsPeer & { wssUrl: string; connections: number }> {
  const server = https.createServer({ cert, key });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const peer = await startWsServer({ server });
  let connections = 0;
  peer.wss.on('connection', (ws) => {
    connections++;
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  const port = (server.address() as net.AddressInfo).port;
  t.teardown(async () => {
    await peer.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return Object.assign(peer, { wssUrl: `wss://localhost:${port}`, get connections() { return connections; } });
}

async function echoOnce(socket: WebSocket, text: string): Promise<string> {
  const reply = next<[string]>(socket, 'textMessageReceived');
  socket.sendTextMessage(text);
  return (await reply)[0];
}

tlsTest('a certificate from an unknown CA is rejected by default, with sslErrors', async (t) => {
  const server = await startWssServer(t, pki.serverCert, pki.serverKey);
  const socket = new WebSocket();
  const reported: SslError[][] = [];
  socket.on('sslErrors', (errors) => reported.push(errors));
  const error = await rejection<WebSocketError>(socket.open(`${server.wssUrl}/`));
  t.is(error.kind, SocketError.SslHandshakeFailed);
  t.is(reported.length, 1);
  t.is(reported[0]!.length, 1);
  t.regex(reported[0]![0]!.code, /UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT_LOCALLY)/);
  t.is(reported[0]![0]!.certificate?.subject.CN, 'localhost');
  t.is(socket.state(), State.Unconnected);
  t.is(server.connections, 0);
});

tlsTest('the test CA given as `ca` makes the certificate trusted, by name and by IP', async (t) => {
  const server = await startWssServer(t, pki.serverCert, pki.serverKey);
  for (const url of [`${server.wssUrl}/`, server.wssUrl.replace('localhost', '127.0.0.1')]) {
    const socket = new WebSocket();
    let sslErrors = 0;
    socket.on('sslErrors', () => sslErrors++);
    await within(socket.open(url, { ca: pki.caCert }), 5000, `opening ${url}`);
    t.is(await echoOnce(socket, 'über TLS'), 'über TLS');
    t.is(sslErrors, 0);
    socket.close();
    await next(socket, 'disconnected');
    t.is(socket.closeCode(), 1000);
  }
});

tlsTest('setSslConfiguration supplies the CA for later openings', async (t) => {
  const server = await startWssServer(t, pki.serverCert, pki.serverKey);
  const socket = new WebSocket();
  socket.setSslConfiguration({ ca: pki.caCert });
  await within(socket.open(server.wssUrl), 5000, 'the opening');
  t.is(socket.state(), State.Connected);
  socket.abort();
});

tlsTest('a self-signed certificate is rejected by default', async (t) => {
  const server = await startWssServer(t, pki.selfSignedCert, pki.selfSignedKey);
  const socket = new WebSocket();
  const errors = next<[SslError[]]>(socket, 'sslErrors');
  const error = await rejection<WebSocketError>(socket.open(server.wssUrl));
  t.is(error.kind, SocketError.SslHandshakeFailed);
  t.regex(error.message, /self-signed/);
  t.is((await errors)[0][0]!.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  t.is(server.connections, 0);
});

tlsTest('ignoreSslErrors() called from an sslErrors listener lets the connection proceed', async (t) => {
  const server = await startWssServer(t, pki.selfSignedCert, pki.selfSignedKey);
  const socket = new WebSocket();
  socket.on('sslErrors', (errors) => {
    if (errors.every((error) => error.code === 'DEPTH_ZERO_SELF_SIGNED_CERT')) socket.ignoreSslErrors();
  });
  await within(socket.open(server.wssUrl), 5000, 'the opening');
  t.is(await echoOnce(socket, 'deliberately insecure'), 'deliberately insecure');
  socket.abort();
});

tlsTest('ignoreSslErrors(codes) ignores only the listed errors', async (t) => {
  const server = await startWssServer(t, pki.selfSignedCert, pki.selfSignedKey);
  const wrong = new WebSocket();
  wrong.ignoreSslErrors(['CERT_HAS_EXPIRED']);
  t.is((await rejection<WebSocketError>(wrong.open(server.wssUrl))).kind, SocketError.SslHandshakeFailed);

  const listed = new WebSocket();
  listed.ignoreSslErrors(['DEPTH_ZERO_SELF_SIGNED_CERT']);
  await within(listed.open(server.wssUrl), 5000, 'the opening');
  t.is(listed.state(), State.Connected);
  listed.abort();
});

tlsTest('a certificate for another name is rejected even from a trusted CA', async (t) => {
  const server = await startWssServer(t, pki.serverCert, pki.serverKey);
  const socket = new WebSocket();
  const errors = next<[SslError[]]>(socket, 'sslErrors');
  const error = await rejection<WebSocketError>(socket.open(server.wssUrl, { ca: pki.caCert, servername: 'example.com' }));
  t.is(error.kind, SocketError.SslHandshakeFailed);
  t.is((await errors)[0][0]!.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
});

test('wss to a server that does not speak TLS fails with SslHandshakeFailed', async (t) => {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    // Read (and drop) what the client sends, or its end of the connection is never seen.
    socket.resume();
    socket.end('this is not TLS\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // close() calls back only once the server side of the connection is gone: the client let go of its TCP socket.
  t.teardown(() => within(new Promise<void>((resolve) => server.close(() => resolve())), 5000, 'the server to close'));
  const socket = new WebSocket();
  const error = await rejection<WebSocketError>(socket.open(`wss://127.0.0.1:${(server.address() as net.AddressInfo).port}/`));
  t.is(error.kind, SocketError.SslHandshakeFailed);
  t.regex(error.message, /TLS handshake with 127\.0\.0\.1:\d+ failed: wrong version number/);
  t.is(socket.state(), State.Unconnected);
});

/**
 * The client's Qt members that issue 16 added, each against Qt's documented behaviour, over real
 * sockets: version(), handshakeOptions(), readChannelFinished, disposal with 1001, and the TLS
 * pause (PauseOnSslErrors + resume()), handshakeInterruptedOnError, peerVerifyError and
 * alertReceived.
 */
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';
import test, { type ExecutionContext } from 'ava';
import {
  AlertLevel, AlertType, CloseCode, InvalidArgumentError, PauseMode, PreSharedKeyAuthenticator, SocketError, State, Version,
  WebSocket, type SslError, type WebSocketError,
} from '../../src/index.ts';
import {
  closePayload, hasOpenssl, makeTestPki, next, parseFrames, rejection, serverFrame, startRawServer, startWsServer,
  switchingProtocols, until, within, type TestPki,
} from './support.ts';

const openssl = hasOpenssl();
const tlsTest = openssl ? test : test.skip;
let pki: TestPki;

test.before(() => {
  if (openssl) pki = makeTestPki();
});

test('version() is the constructor argument (Qt: Version13 by default), and the request still says 13', async (t) => {
  t.is(new WebSocket().version(), Version.V13);
  t.is(Version.Latest, Version.V13);
  const requests: string[] = [];
  const server = await startRawServer((raw, request) => {
    requests.push(request.text);
    raw.write(switchingProtocols(request));
  });
  t.teardown(() => server.close());
  const socket = new WebSocket({ version: Version.V7 });
  t.is(socket.version(), Version.V7);
  await socket.open(server.url);
  t.regex(requests[0]!, /\r\nSec-WebSocket-Version: 13(\r\n|$)/);
  socket.abort();
  t.throws(() => new WebSocket({ version: 9 as Version }), { instanceOf: InvalidArgumentError });
});

test('handshakeOptions() returns the subprotocols given to open(), and open() accepts it back', async (t) => {
  const peer = await startWsServer({ handleProtocols: (offered) => [...offered].at(-1) ?? false });
  t.teardown(() => peer.close());
  const socket = new WebSocket();
  t.deepEqual(socket.handshakeOptions(), { subprotocols: [] });
  await socket.open(peer.url, { subprotocols: ['chat', 'superchat'] });
  t.deepEqual(socket.handshakeOptions(), { subprotocols: ['chat', 'superchat'] });
  t.is(socket.subprotocol(), 'superchat');
  const again = new WebSocket();
  await again.open(peer.url, socket.handshakeOptions());
  t.is(again.subprotocol(), 'superchat');
  socket.abort();
  again.abort();
});

test('readChannelFinished fires when the server ends TCP (its FIN), before disconnected', async (t) => {
  const server = await startRawServer((raw, request) => {
    raw.write(switchingProtocols(request));
    // A FIN with no Close frame first.
    raw.end();
  });
  t.teardown(() => server.close());
  const socket = new WebSocket();
  const order: string[] = [];
  socket.on('readChannelFinished', () => order.push('readChannelFinished'));
  socket.on('disconnected', () => order.push('disconnected'));
  const disconnected = next(socket, 'disconnected', 20_000);
  await socket.open(server.url);
  await disconnected;
  t.deepEqual(order, ['readChannelFinished', 'disconnected']);
  t.is(socket.closeCode(), CloseCode.AbnormalDisconnection);
});

test('`await using` closes a connected socket with 1001 "Connection closed", as Qt\'s destructor', async (t) => {
  let wire = Buffer.alloc(0);
  const server = await startRawServer((raw, request) => {
    raw.write(switchingProtocols(request));
    raw.on('data', (chunk: Buffer) => {
      wire = Buffer.concat([wire, chunk]);
      // Answer the Close, then end TCP, as a server does.
      if (parseFrames(wire).some((frame) => frame.opcode === 8)) raw.end(serverFrame(8, closePayload(1001)));
    });
  });
  t.teardown(() => server.close());
  let disposed: WebSocket;
  {
    await using socket = new WebSocket();
    disposed = socket;
    await socket.open(server.url);
  }
  t.is(disposed.state(), State.Unconnected);
  const close = parseFrames(wire).find((frame) => frame.opcode === 8)!;
  t.is(close.payload.readUInt16BE(0), CloseCode.GoingAway);
  t.is(close.payload.subarray(2).toString(), 'Connection closed');
  t.is(disposed.closeCode(), CloseCode.GoingAway);
});

test('disposing an opening cancels it; disposing an unconnected socket does nothing', async (t) => {
  // A server that accepts TCP and never answers the upgrade.
  const server = await startRawServer(() => {});
  t.teardown(() => server.close());
  const socket = new WebSocket();
  await socket[Symbol.asyncDispose]();
  const opened = socket.open(server.url);
  await until(() => server.sockets.size === 1, 20_000, 'the TCP connection');
  await within(socket[Symbol.asyncDispose](), 20_000, 'disposal');
  t.is(socket.state(), State.Unconnected);
  t.is((await rejection<WebSocketError>(opened)).kind, SocketError.Operation);
});

/** A `ws` server over HTTPS with these TLS options, echoing text, gone when the test ends; resolves with its port. */
async function startWssEcho(t: ExecutionContext, options: https.ServerOptions): Promise<number> {
  const server = https.createServer(options);
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const peer = await startWsServer({ server });
  peer.wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data.toString())));
  t.teardown(async () => {
    await peer.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as net.AddressInfo).port;
}

/** A `ws` echo server with a self-signed certificate. */
async function startSelfSignedServer(t: ExecutionContext): Promise<string> {
  return `wss://localhost:${await startWssEcho(t, { cert: pki.selfSignedCert, key: pki.selfSignedKey })}/`;
}

test('pauseMode() is PauseNever by default; setPauseMode() checks its argument', (t) => {
  const socket = new WebSocket();
  t.is(socket.pauseMode(), PauseMode.PauseNever);
  socket.setPauseMode(PauseMode.PauseOnSslErrors);
  t.is(socket.pauseMode(), PauseMode.PauseOnSslErrors);
  t.throws(() => socket.setPauseMode(7 as PauseMode), { instanceOf: InvalidArgumentError });
  // Qt's resume() outside a pause does nothing.
  t.notThrows(() => socket.resume());
});

tlsTest('PauseOnSslErrors: the opening waits after sslErrors, and resume() after ignoreSslErrors() goes on', async (t) => {
  const url = await startSelfSignedServer(t);
  const socket = new WebSocket({ pauseMode: PauseMode.PauseOnSslErrors });
  const reported = next<[SslError[]]>(socket, 'sslErrors', 20_000);
  const opened = socket.open(url);
  const [errors] = await reported;
  t.is(errors[0]!.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  // The application decides later, not inside the signal: the socket waits.
  await new Promise((resolve) => setImmediate(resolve));
  t.true(socket.isPausedOnSslErrors());
  t.is(socket.state(), State.Connecting);
  socket.ignoreSslErrors([errors[0]!.code]);
  socket.resume();
  await within(opened, 20_000, 'the opening');
  t.false(socket.isPausedOnSslErrors());
  const reply = next<[string]>(socket, 'textMessageReceived', 20_000);
  socket.sendTextMessage('after the pause');
  t.is((await reply)[0], 'after the pause');
  socket.abort();
});

tlsTest('PauseOnSslErrors: resume() without ignoring the errors fails the opening; abort() while paused cancels it', async (t) => {
  const url = await startSelfSignedServer(t);
  const socket = new WebSocket({ pauseMode: PauseMode.PauseOnSslErrors });
  let reported = next(socket, 'sslErrors', 20_000);
  let opened = socket.open(url);
  await reported;
  socket.resume();
  t.is((await rejection<WebSocketError>(opened)).kind, SocketError.SslHandshakeFailed);
  t.is(socket.state(), State.Unconnected);

  reported = next(socket, 'sslErrors', 20_000);
  opened = socket.open(url);
  await reported;
  socket.abort();
  t.is((await rejection<WebSocketError>(opened)).kind, SocketError.Operation);
  t.false(socket.isPausedOnSslErrors());
  t.is(socket.state(), State.Unconnected);
});

tlsTest('peerVerifyError comes for each failure before sslErrors', async (t) => {
  const url = await startSelfSignedServer(t);
  const socket = new WebSocket();
  const order: string[] = [];
  socket.on('peerVerifyError', (error) => order.push(`peerVerifyError ${error.code}`));
  socket.on('sslErrors', () => order.push('sslErrors'));
  await rejection(socket.open(url));
  t.deepEqual(order, ['peerVerifyError DEPTH_ZERO_SELF_SIGNED_CERT', 'sslErrors']);
});

tlsTest('handshakeMustInterruptOnError: the opening goes on only if the listener calls continueInterruptedHandshake()', async (t) => {
  const url = await startSelfSignedServer(t);
  const refused = new WebSocket({ sslConfiguration: { handshakeMustInterruptOnError: true } });
  let sslErrors = 0;
  refused.on('sslErrors', () => sslErrors++);
  const interrupted = next<[SslError]>(refused, 'handshakeInterruptedOnError', 20_000);
  const failure = rejection<WebSocketError>(refused.open(url));
  t.is((await interrupted)[0].code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  t.is((await failure).kind, SocketError.SslHandshakeFailed);
  t.is(sslErrors, 0);

  const continued = new WebSocket({ sslConfiguration: { handshakeMustInterruptOnError: true } });
  continued.on('handshakeInterruptedOnError', () => continued.continueInterruptedHandshake());
  // Continuing does not ignore the error: sslErrors still lists it, as Qt's.
  continued.on('sslErrors', () => continued.ignoreSslErrors());
  await within(continued.open(url), 20_000, 'the continued opening');
  t.is(continued.state(), State.Connected);
  continued.abort();
});

tlsTest('alertReceived reports the fatal alert a TLS server ends the handshake with', async (t) => {
  const server = tls.createServer({ cert: pki.serverCert, key: pki.serverKey, maxVersion: 'TLSv1.2' });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const socket = new WebSocket({ sslConfiguration: { minVersion: 'TLSv1.3', ca: pki.caCert } });
  const alert = next<[AlertLevel, AlertType, string]>(socket, 'alertReceived', 20_000);
  const failure = rejection<WebSocketError>(socket.open(`wss://localhost:${(server.address() as net.AddressInfo).port}/`));
  const [level, type, description] = await alert;
  t.is(level, AlertLevel.Fatal);
  t.is(type, AlertType.ProtocolVersion);
  t.regex(description, /protocol version/);
  t.is((await failure).kind, SocketError.SslHandshakeFailed);
});

tlsTest('a pause on TLS errors that nobody resumes ends with the connect timeout', async (t) => {
  const url = await startSelfSignedServer(t);
  const socket = new WebSocket({ pauseMode: PauseMode.PauseOnSslErrors, connectTimeoutMs: 2000 });
  const reported = next(socket, 'sslErrors', 20_000);
  const failure = rejection<WebSocketError>(socket.open(url), 20_000);
  await reported;
  t.is((await failure).kind, SocketError.SocketTimeout);
  t.false(socket.isPausedOnSslErrors());
  t.is(socket.state(), State.Unconnected);
});

const Psk = Buffer.from('a3f1c2d4e5f60718293a4b5c6d7e8f90', 'hex');

/** A `ws` echo server over TLS with pre-shared keys only (no certificate): identity "alice" and `Psk`. */
async function startPskServer(t: ExecutionContext, maxVersion: tls.SecureVersion): Promise<{ url: string; identities: string[] }> {
  const identities: string[] = [];
  const port = await startWssEcho(t, {
    ciphers: 'PSK-AES128-GCM-SHA256:TLS_AES_128_GCM_SHA256',
    maxVersion,
    pskIdentityHint: 'wsthreads-hint',
    pskCallback: (_socket, identity) => {
      identities.push(identity);
      return identity === 'alice' ? Psk : null;
    },
  });
  return { url: `wss://127.0.0.1:${port}/`, identities };
}

for (const [version, hint] of [['TLSv1.2', 'wsthreads-hint'], ['TLSv1.3', '']] as const) {
  test(`preSharedKeyAuthenticationRequired: the listener's identity and key open a PSK connection (${version})`, async (t) => {
    const server = await startPskServer(t, version);
    const socket = new WebSocket({ sslConfiguration: { ciphers: 'PSK-AES128-GCM-SHA256:TLS_AES_128_GCM_SHA256' } });
    const hints: string[] = [];
    socket.on('preSharedKeyAuthenticationRequired', (authenticator: PreSharedKeyAuthenticator) => {
      hints.push(authenticator.identityHint());
      authenticator.setIdentity('alice');
      authenticator.setPreSharedKey(Psk);
    });
    await within(socket.open(server.url), 20_000, 'the PSK opening');
    // A client offering TLS 1.3 is asked once for its ClientHello (no hint), and again once a
    // TLS 1.2 server has sent its hint.
    t.is(hints.at(-1), hint);
    t.deepEqual([...new Set(server.identities)], ['alice']);
    const reply = next<[string]>(socket, 'textMessageReceived', 20_000);
    socket.sendTextMessage('pre-shared');
    t.is((await reply)[0], 'pre-shared');
    socket.abort();

    const wrong = new WebSocket({ sslConfiguration: { ciphers: 'PSK-AES128-GCM-SHA256:TLS_AES_128_GCM_SHA256' } });
    wrong.on('preSharedKeyAuthenticationRequired', (authenticator: PreSharedKeyAuthenticator) => {
      authenticator.setIdentity('mallory');
      authenticator.setPreSharedKey(Psk);
    });
    t.is((await rejection<WebSocketError>(wrong.open(server.url), 20_000)).kind, SocketError.SslHandshakeFailed);
  });
}

tlsTest('a preSharedKeyAuthenticationRequired listener that fills nothing in leaves a certificate handshake as it was', async (t) => {
  const port = await startWssEcho(t, { cert: pki.serverCert, key: pki.serverKey });
  const socket = new WebSocket({ sslConfiguration: { ca: pki.caCert } });
  let asked = 0;
  socket.on('preSharedKeyAuthenticationRequired', () => asked++);
  await within(socket.open(`wss://localhost:${port}/`), 20_000, 'the certificate opening');
  t.is(socket.state(), State.Connected);
  // TLS 1.3 asks before it knows whether the server takes a pre-shared key.
  t.true(asked <= 1);
  socket.abort();
});

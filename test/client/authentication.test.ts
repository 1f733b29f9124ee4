// The client's HTTP authentication: a 401 from the server asks `authenticationRequired`, a 407
// from the proxy `proxyAuthenticationRequired`; credentials set in the listener retry once.
// Against our server (its upgrade handler) and against `ws` with verifyClient.
import { Buffer } from 'node:buffer';
import test, { type ExecutionContext } from 'ava';
import { SocketError, State, WebSocket, type WebSocketError } from '../../src/index.ts';
import type { Authenticator } from '../../src/shared/connection/authenticator.ts';
import { ProxyFromEnvironment } from '../../src/shared/connection/websocket.ts';
import { proxyFromEnvironment } from '../../src/shared/connection/environment-proxy.ts';
import { WebSocketServer } from '../../src/main/websocket-server.ts';
import type { UpgradeHandler } from '../../src/main/upgrade-handler.ts';
import { SecureMode } from '../../src/shared/engine/state.ts';
import { next, rejection, startConnectProxy, startWsServer, within } from './support.ts';

const EchoHandlerUrl = new URL('../server/fixtures/echo-handler.ts', import.meta.url);
const Expected = `Basic ${Buffer.from('ada:lovelace').toString('base64')}`;

/** Lets in `ada:lovelace` (Basic), with the user attached; everyone else gets 401. */
const basicGate: UpgradeHandler = (request) => {
  const authorization = request.headers.find(([name]) => name.toLowerCase() === 'authorization')?.[1];
  if (authorization !== Expected) {
    return { accept: false, status: 401, headers: { 'WWW-Authenticate': 'Basic realm="chat", charset="UTF-8"' }, body: 'who are you?' };
  }
  return { accept: true, attachment: { user: 'ada' } };
};

async function ourServer(t: ExecutionContext, workers: number): Promise<WebSocketServer> {
  const server = new WebSocketServer('auth', SecureMode.NonSecure, { workers, handler: EchoHandlerUrl, upgradeHandler: basicGate });
  t.teardown(() => within(server.destroy(), 15_000, 'server.destroy()'));
  t.true(await server.listen('127.0.0.1', 0));
  return server;
}

function answerWith(user: string, password: string, seen: Authenticator[]): (authenticator: Authenticator) => void {
  return (authenticator) => {
    seen.push(authenticator);
    authenticator.setUser(user);
    authenticator.setPassword(password);
  };
}

for (const workers of [0, 2]) {
  test(`401 from our server: credentials set in authenticationRequired retry once and reach the handler [workers: ${workers}]`, async (t) => {
    const server = await ourServer(t, workers);
    const url = `${server.serverUrl()}/chat`;

    // No listener: today's failure.
    const plain = new WebSocket();
    const error = await rejection<WebSocketError>(plain.open(url));
    t.is(error.kind, SocketError.HandshakeFailed);
    t.regex(error.message, /401/);
    t.is(plain.handshakeResponse()?.status, 401);
    t.is(plain.handshakeResponse()?.body, 'who are you?');
    t.regex(error.message, /401 Unauthorized: who are you\?$/);

    // A listener that sets nothing: the same failure, asked once.
    const silent = new WebSocket();
    let asked = 0;
    silent.on('authenticationRequired', () => asked++);
    t.is((await rejection<WebSocketError>(silent.open(url))).kind, SocketError.HandshakeFailed);
    t.is(asked, 1);

    // Wrong credentials: one retry, then the failure.
    const wrong = new WebSocket();
    const wrongSeen: Authenticator[] = [];
    wrong.on('authenticationRequired', answerWith('ada', 'babbage', wrongSeen));
    t.is((await rejection<WebSocketError>(wrong.open(url))).kind, SocketError.HandshakeFailed);
    t.is(wrongSeen.length, 1);
    t.is(wrong.state(), State.Unconnected);

    const socket = new WebSocket();
    t.teardown(() => socket.abort());
    const seen: Authenticator[] = [];
    socket.on('authenticationRequired', answerWith('ada', 'lovelace', seen));
    await within(socket.open(url), 10_000, 'the authenticated opening');
    t.is(seen.length, 1);
    t.is(seen[0]!.scheme(), 'Basic');
    t.is(seen[0]!.realm(), 'chat');
    t.is(seen[0]!.option('charset'), 'UTF-8');
    t.is(socket.handshakeResponse()?.status, 101);
    const reply = next<[string]>(socket, 'textMessageReceived', 10_000);
    socket.sendTextMessage('whoami');
    t.deepEqual((JSON.parse((await reply)[0]) as { attachment: unknown }).attachment, { user: 'ada' });
  });
}

test('401 from a ws server using verifyClient: the retry carries Basic credentials', async (t) => {
  const authorizations: Array<string | undefined> = [];
  const peer = await startWsServer({
    verifyClient: (info, callback) => {
      const authorization = info.req.headers.authorization;
      authorizations.push(authorization);
      if (authorization === Expected) callback(true);
      else callback(false, 401, 'Unauthorized', { 'WWW-Authenticate': 'Basic realm="ws"' });
    },
  });
  t.teardown(() => peer.close());
  peer.wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data.toString())));
  const socket = new WebSocket();
  t.teardown(() => socket.abort());
  const seen: Authenticator[] = [];
  socket.on('authenticationRequired', answerWith('ada', 'lovelace', seen));
  await within(socket.open(`${peer.url}/`), 10_000, 'the opening');
  t.is(seen[0]!.realm(), 'ws');
  t.deepEqual(authorizations, [undefined, Expected]);
  const reply = next<[string]>(socket, 'textMessageReceived');
  socket.sendTextMessage('hello');
  t.is((await reply)[0], 'hello');
});

test('407 from the proxy: proxyAuthenticationRequired names the proxy; its credentials retry once', async (t) => {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  const proxy = await startConnectProxy({ auth: 'alice:s3cret' });
  t.teardown(() => proxy.close());

  const socket = new WebSocket({ proxy: { host: '127.0.0.1', port: proxy.port } });
  t.teardown(() => socket.abort());
  const asked: Array<[number, string]> = [];
  socket.on('proxyAuthenticationRequired', (where, authenticator) => {
    asked.push([where.port, authenticator.realm()]);
    authenticator.setUser('alice');
    authenticator.setPassword('s3cret');
  });
  // The 401 listener is not asked for a proxy's 407.
  socket.on('authenticationRequired', () => t.fail('authenticationRequired for a 407'));
  await within(socket.open(peer.url), 10_000, 'the opening through the proxy');
  t.deepEqual(asked, [[proxy.port, 'test']]);
  t.regex(proxy.requests.at(-1)!, /\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0/);

  const wrong = new WebSocket({ proxy: { host: '127.0.0.1', port: proxy.port } });
  let wrongAsked = 0;
  wrong.on('proxyAuthenticationRequired', (_where, authenticator) => {
    wrongAsked++;
    authenticator.setUser('mallory');
  });
  t.is((await rejection<WebSocketError>(wrong.open(peer.url))).kind, SocketError.ProxyAuthenticationRequired);
  t.is(wrongAsked, 1);
});

test('the proxy from the environment, as curl reads it', (t) => {
  const ws = { host: 'chat.example', port: 80, secure: false };
  const wss = { host: 'chat.example', port: 443, secure: true };
  t.deepEqual(proxyFromEnvironment(ws, { http_proxy: 'http://p.example:3128' }), { host: 'p.example', port: 3128 });
  t.is(proxyFromEnvironment(ws, { HTTP_PROXY: 'http://p.example:3128' }), null, 'upper-case HTTP_PROXY is ignored (httpoxy), as curl does');
  t.deepEqual(proxyFromEnvironment(wss, { HTTPS_PROXY: 'p.example' }), { host: 'p.example', port: 1080 });
  t.is(proxyFromEnvironment(wss, { http_proxy: 'p.example:1' }), null, 'http_proxy is for ws:// only');
  t.deepEqual(proxyFromEnvironment(wss, { ALL_PROXY: 'http://u%40x:p%3Aw@[::1]:8' }), { host: '::1', port: 8, auth: { username: 'u@x', password: 'p:w' } });
  const proxied = { https_proxy: 'http://p.example:1' };
  for (const [noProxy, bypass] of [
    ['*', true], ['example', true], ['.example', true], ['chat.example', true], ['hat.example', false],
    ['chat.example:443', true], ['chat.example:8443', false], ['other.test, chat.example', true],
  ] as const) {
    t.is(proxyFromEnvironment(wss, { ...proxied, no_proxy: noProxy }) === null, bypass, `no_proxy=${noProxy}`);
  }
  const ip = { host: '10.1.2.3', port: 443, secure: true };
  t.is(proxyFromEnvironment(ip, { ...proxied, NO_PROXY: '10.0.0.0/8' }), null);
  t.not(proxyFromEnvironment(ip, { ...proxied, NO_PROXY: '10.1.2.4,192.168.0.0/16' }), null);
  t.is(proxyFromEnvironment({ host: '::1', port: 443, secure: true }, { ...proxied, NO_PROXY: '[::1]' }), null);
  t.throws(() => proxyFromEnvironment(wss, { https_proxy: 'socks5://p.example:1080' }), { name: 'InvalidArgumentError', message: /only HTTP proxies/ });
});

test('setProxy(ProxyFromEnvironment) tunnels through the proxy http_proxy names, unless no_proxy names the host', async (t) => {
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  const proxy = await startConnectProxy();
  t.teardown(() => proxy.close());
  const saved = { http_proxy: process.env.http_proxy, no_proxy: process.env.no_proxy };
  t.teardown(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  process.env.http_proxy = `http://127.0.0.1:${proxy.port}`;
  delete process.env.no_proxy;
  const socket = new WebSocket({ proxy: ProxyFromEnvironment });
  t.is(socket.proxy(), ProxyFromEnvironment);
  await within(socket.open(peer.url), 10_000, 'the opening through the proxy');
  t.is(proxy.requests.length, 1);
  socket.abort();

  process.env.no_proxy = '127.0.0.1';
  const direct = new WebSocket({ proxy: ProxyFromEnvironment });
  await within(direct.open(peer.url), 10_000, 'the direct opening');
  t.is(proxy.requests.length, 1, 'no_proxy bypassed the proxy');
  direct.abort();
});

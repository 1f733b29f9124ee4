// The upgrade handler: the owner decides from the whole request (cookies, query, peer address),
// answers with extra headers or a refusal with status, headers and body, and what it attaches
// reaches every socket of the connection, the owner's and a handler module's.
import { Buffer } from 'node:buffer';
import net from 'node:net';
import type { ExecutionContext } from 'ava';
import WS from 'ws';
import { CloseCode } from '../../src/shared/engine/close-code.ts';
import type { UpgradeHandler, UpgradeRequest } from '../../src/main/upgrade-handler.ts';
import type { WebSocket } from '../../src/shared/connection/websocket.ts';
import { bothTransports, connect, EchoHandlerUrl, nextMessage, next, startServer, upgradeRequest, within } from './support.ts';

/** Sends `request` over raw TCP and reads everything until the server closes. */
async function refusal(t: ExecutionContext, port: number, request: string): Promise<{ status: number; headers: Map<string, string>; body: string }> {
  const socket = net.connect(port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  socket.on('error', () => {});
  socket.write(request);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await within(new Promise((resolve) => socket.once('close', resolve)), 10_000, 'the server to close');
  const text = Buffer.concat(chunks).toString('utf8');
  const end = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4) };
}

function headerOf(request: UpgradeRequest, name: string): string | undefined {
  return request.headers.find(([field]) => field.toLowerCase() === name)?.[1];
}

const Sessions: Record<string, { user: string; roles: string[] }> = { s3cr3t: { user: 'ada', roles: ['admin'] } };

/** Lets in a request whose `session` cookie is known, with the user as the attachment. */
const cookieGate: UpgradeHandler = async (request) => {
  const session = /(?:^|;\s*)session=([^;]*)/.exec(headerOf(request, 'cookie') ?? '')?.[1];
  const user = session === undefined ? undefined : Sessions[session];
  if (user === undefined) {
    return { accept: false, status: 401, headers: { 'WWW-Authenticate': 'Cookie realm="chat"' }, body: 'Log in first' };
  }
  return { accept: true, headers: [['Set-Cookie', 'seen=1; HttpOnly']], attachment: user };
};

/** The owner-side socket of the next connection (mirror mode). */
function nextSocket(server: Awaited<ReturnType<typeof startServer>>): Promise<WebSocket> {
  return within(next(server, 'newConnection').then(() => server.nextPendingConnection()!), 10_000, 'newConnection');
}

bothTransports('a cookie-gated server: no cookie gets 401 with WWW-Authenticate and the body; the right cookie gets the user on the socket', async (t, workers) => {
  const server = await startServer(t, workers, { upgradeHandler: cookieGate });
  const refused = await refusal(t, server.serverPort(), upgradeRequest(server.serverPort()));
  t.is(refused.status, 401);
  t.is(refused.headers.get('www-authenticate'), 'Cookie realm="chat"');
  t.is(refused.body, 'Log in first');
  t.is((await refusal(t, server.serverPort(), upgradeRequest(server.serverPort(), { Cookie: 'session=wrong' }))).status, 401);

  const socket = nextSocket(server);
  const client = new WS(`${server.serverUrl()}/room?x=1`, { headers: { Cookie: 'theme=dark; session=s3cr3t' } });
  t.teardown(() => client.terminate());
  const response = await within(new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    client.once('upgrade', resolve);
    client.once('error', reject);
  }), 10_000, 'the 101');
  t.deepEqual(response.headers['set-cookie'], ['seen=1; HttpOnly']);
  const owner = await socket;
  t.deepEqual(owner.attachment(), { user: 'ada', roles: ['admin'] });
  t.is(owner.request().url, `ws://127.0.0.1:${server.serverPort()}/room?x=1`);
  t.truthy(owner.request().headers.find(([name, value]) => name.toLowerCase() === 'cookie' && value.includes('session=s3cr3t')));
});

bothTransports('handler mode: the handler module in the thread sees the user the upgrade handler attached', async (t, workers) => {
  const server = await startServer(t, workers, { handler: EchoHandlerUrl, upgradeHandler: cookieGate });
  t.is((await refusal(t, server.serverPort(), upgradeRequest(server.serverPort()))).status, 401);
  // The owner's view comes with the connection's lifecycle news, which may follow the first echo.
  const owner = next<[WebSocket]>(server, 'newConnection', 10_000);
  const client = await connect(t, `${server.serverUrl()}/chat`, undefined, { headers: { Cookie: 'session=s3cr3t' } });
  const answer = nextMessage(client);
  client.send('whoami');
  const seen = JSON.parse((await answer)[0].toString()) as { attachment: unknown; url: string; cookie: string; threadId: number };
  t.deepEqual(seen.attachment, { user: 'ada', roles: ['admin'] });
  t.is(seen.cookie, 'session=s3cr3t');
  t.is(seen.url, `ws://127.0.0.1:${server.serverPort()}/chat`);
  t.is(seen.threadId !== 0, workers > 0, 'the handler ran in a pool thread exactly when there is a pool');
  // The owner's lifecycle view carries the same attachment.
  t.deepEqual((await owner)[0].attachment(), { user: 'ada', roles: ['admin'] });
});

bothTransports('a token in the query string, and the request as the handler gets it', async (t, workers) => {
  const requests: UpgradeRequest[] = [];
  const server = await startServer(t, workers, {
    handler: EchoHandlerUrl,
    supportedSubprotocols: ['chat.v1'],
    upgradeHandler: (request) => {
      requests.push(request);
      const token = new URL(request.url).searchParams.get('token');
      if (token !== 'T0K3N') return { accept: false, status: 403, body: 'bad token' };
      return { accept: true, attachment: { token }, subprotocol: 'chat.v2' };
    },
  });
  t.is((await refusal(t, server.serverPort(), upgradeRequest(server.serverPort(), {}, '/feed?token=nope'))).status, 403);
  const client = await connect(t, `${server.serverUrl()}/feed?token=T0K3N`, ['chat.v1', 'chat.v2']);
  t.is(client.protocol, 'chat.v2', 'the handler chose among the offers, over supportedSubprotocols');
  const answer = nextMessage(client);
  client.send('whoami');
  const seen = JSON.parse((await answer)[0].toString()) as { attachment: unknown; url: string };
  t.deepEqual(seen.attachment, { token: 'T0K3N' });
  t.true(seen.url.endsWith('/feed?token=T0K3N'));
  const request = requests[1]!;
  t.is(request.method, 'GET');
  t.is(request.resourceName, '/feed?token=T0K3N');
  t.is(request.peerAddress, '127.0.0.1');
  t.true(request.peerPort > 0);
  t.is(request.localPort, server.serverPort());
  t.false(request.secure);
  t.deepEqual(request.subprotocols, ['chat.v1', 'chat.v2']);
  t.is(request.peerCertificate, null);
});

bothTransports('a handler that throws, answers nonsense or attaches something unclonable: 500 and serverError(1011)', async (t, workers) => {
  const answers: Array<() => unknown> = [
    () => { throw new Error('database down'); },
    () => ({ accept: 'yes' }),
    () => ({ accept: true, attachment: { reply: () => 1 } }),
    () => ({ accept: true, subprotocol: 'never-offered' }),
  ];
  let index = 0;
  const server = await startServer(t, workers, { upgradeHandler: () => answers[index++]!() as never });
  const errors: Array<[number, string]> = [];
  server.on('serverError', (code, error) => errors.push([code, error.message]));
  for (let i = 0; i < answers.length; i++) {
    t.is((await refusal(t, server.serverPort(), upgradeRequest(server.serverPort()))).status, 500);
  }
  t.deepEqual(errors.map(([code]) => code), [CloseCode.BadOperation, CloseCode.BadOperation, CloseCode.BadOperation, CloseCode.BadOperation]);
  t.regex(errors[0]![1], /database down/);
  t.regex(errors[2]![1], /structured-clonable/);
  t.regex(errors[3]![1], /never-offered/);
});

bothTransports('a refusal header that cannot be sent: 500 and serverError, no crash', async (t, workers) => {
  const server = await startServer(t, workers, { upgradeHandler: () => ({ accept: false, status: 401, headers: { 'Content-Length': '3' } }) });
  const error = next(server, 'serverError');
  t.is((await refusal(t, server.serverPort(), upgradeRequest(server.serverPort()))).status, 500);
  const [code, reason] = await within(error, 10_000, 'serverError') as [number, Error];
  t.is(code, CloseCode.AbnormalDisconnection);
  t.regex(reason.message, /Content-Length/);
  // The next request is served as usual.
  server.setUpgradeHandler(() => ({ accept: true, headers: { 'X-Served-By': 'test' } }));
  await connect(t, server.serverUrl());
  t.pass();
});

bothTransports('a handler slower than the handshake timeout: 503 with Retry-After and serverError(1013)', async (t, workers) => {
  const server = await startServer(t, workers, {
    handshakeTimeout: 300,
    upgradeHandler: () => new Promise(() => {}),
  });
  const error = next(server, 'serverError');
  const refused = await refusal(t, server.serverPort(), upgradeRequest(server.serverPort()));
  t.is(refused.status, 503);
  t.is(refused.headers.get('retry-after'), '1');
  const [code] = await within(error, 10_000, 'serverError') as [number, Error];
  t.is(code, CloseCode.TryAgainLater);
  t.is(server.connectionCount(), 0);
});

bothTransports('originAuthenticationRequired still decides first: a denied origin never reaches the upgrade handler', async (t, workers) => {
  const seen: string[] = [];
  const server = await startServer(t, workers, { upgradeHandler: (request) => { seen.push(request.origin); return { accept: true }; } });
  server.on('originAuthenticationRequired', (authenticator) => authenticator.setAllowed(authenticator.origin() !== 'https://evil.example'));
  t.is((await refusal(t, server.serverPort(), upgradeRequest(server.serverPort(), { Origin: 'https://evil.example' }))).status, 403);
  await connect(t, server.serverUrl(), undefined, { origin: 'https://good.example' });
  t.deepEqual(seen, ['https://good.example']);
});

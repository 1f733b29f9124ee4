/**
 * `httpRequestHandler`: plain HTTP on the WebSocketServer's own port, answered by a function on
 * the owner thread and written by whichever thread holds the connection, which then closes.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import test from 'ava';
import type { HttpRequest, HttpResponse } from '../../src/shared/connection/http-response.ts';
import { WebSocketServer } from '../../src/main/websocket-server.ts';
import { CloseCode } from '../../src/shared/engine/close-code.ts';
import type { WebSocketError } from '../../src/shared/engine/errors.ts';
import { SecureMode } from '../../src/shared/engine/state.ts';
import {
  bothTransports,
  connect,
  echoEveryConnection,
  hasOpenssl,
  inBatches,
  makeTestPki,
  next,
  nextMessage,
  rawUpgrade,
  socketClosed,
  startServer,
  upgradeRequest,
  within,
} from './support.ts';

interface RawAnswer {
  status: number;
  /** Lowercase names. */
  headers: Map<string, string>;
  body: Buffer;
  /** The server ended its side (FIN) rather than resetting the connection. */
  ended: boolean;
  /** The local port of the client's socket. */
  clientPort: number;
}

/** Sends `text` over raw TCP and reads everything until the server closes. */
async function rawHttp(port: number, text: string): Promise<RawAnswer> {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  let ended = false;
  let clientPort = 0;
  socket.on('connect', () => { clientPort = socket.localPort ?? 0; });
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('end', () => { ended = true; });
  socket.on('error', () => {});
  socket.write(text);
  await within(new Promise<void>((resolve) => socket.once('close', () => resolve())), 10_000, 'the server to close the connection');
  const all = Buffer.concat(chunks);
  const end = all.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`no response head: ${JSON.stringify(all.toString('latin1'))}`);
  const [statusLine = '', ...lines] = all.subarray(0, end).toString('latin1').split('\r\n');
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: all.subarray(end + 4), ended, clientPort };
}

function get(port: number, target = '/', extra: string[] = [], method = 'GET'): string {
  return `${[`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...extra].join('\r\n')}\r\n\r\n`;
}

/** A GET with Node's own HTTP client: status, headers and the whole body. */
function nodeGet(url: string, options: https.RequestOptions = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const client = url.startsWith('https:') ? https : http;
  return within(new Promise((resolve, reject) => {
    const request = client.get(url, { agent: false, ...options }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
  }), 10_000, `GET ${url}`);
}

bothTransports('a GET gets the handler\'s status, headers and body, then the server ends the connection', async (t, workers) => {
  const seen: HttpRequest[] = [];
  const server = await startServer(t, workers, {
    httpRequestHandler: (request) => {
      seen.push(request);
      return { status: 200, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Answer': '42' }, body: 'héllo ✓ from the page' };
    },
  });
  const port = server.serverPort();
  // A second, pipelined request is read and discarded: one request per connection.
  const answer = await rawHttp(port, get(port, '/page/x?y=1&z=%20', ['X-Test: one', 'x-test: two']) + get(port, '/second'));
  t.is(answer.status, 200);
  t.is(answer.body.toString('utf8'), 'héllo ✓ from the page');
  t.is(answer.headers.get('content-length'), String(Buffer.byteLength('héllo ✓ from the page')));
  t.is(answer.headers.get('connection'), 'close');
  t.is(answer.headers.get('content-type'), 'text/plain; charset=utf-8');
  t.is(answer.headers.get('x-answer'), '42');
  t.is(answer.headers.get('server'), 'wsthreads-test');
  t.false(Number.isNaN(Date.parse(answer.headers.get('date') ?? '')), 'a Date header');
  t.true(answer.ended, 'a graceful close (FIN), not a reset');

  t.is(seen.length, 1);
  const request = seen[0]!;
  t.is(request.method, 'GET');
  t.is(request.resourceName, '/page/x?y=1&z=%20');
  t.is(request.path, '/page/x');
  t.is(request.query, 'y=1&z=%20');
  t.is(request.httpVersion, '1.1');
  t.is(request.headers['x-test'], 'one, two');
  t.deepEqual(request.rawHeaders.slice(1), [['X-Test', 'one'], ['x-test', 'two']]);
  t.false(request.secure);
  t.is(request.peerAddress, '127.0.0.1');
  t.is(request.peerPort, answer.clientPort);
  t.is(request.localPort, port);
  t.is(server.connectionCount(), 0, 'a plain request is no connection');
});

bothTransports('Node\'s HTTP client gets a 16 MiB binary body intact from an async handler', async (t, workers) => {
  // Larger than the loopback socket buffers, so that the last bytes leave well after end() is called.
  const body = new Uint8Array(16 * 1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31 + (i >> 11)) & 0xff;
  const server = await startServer(t, workers, {
    httpRequestHandler: async (request) => {
      await new Promise((resolve) => setImmediate(resolve));
      return request.path === '/blob' ? { status: 200, headers: [['Content-Type', 'application/octet-stream']], body } : { status: 404, body: 'Not Found' };
    },
  });
  const port = server.serverPort();
  const blob = await nodeGet(`http://127.0.0.1:${port}/blob`);
  t.is(blob.status, 200);
  t.is(blob.headers['content-type'], 'application/octet-stream');
  t.is(blob.body.length, body.length);
  t.true(blob.body.equals(body), 'every byte');
  const missing = await nodeGet(`http://127.0.0.1:${port}/elsewhere`);
  t.is(missing.status, 404);
  t.is(missing.body.toString(), 'Not Found');
});

bothTransports('HEAD gets the Content-Length of the body without the body; 204 goes without either', async (t, workers) => {
  const server = await startServer(t, workers, {
    httpRequestHandler: (request) => (request.path === '/empty' ? { status: 204, body: 'ignored' } : { status: 200, body: 'twelve bytes' }),
  });
  const port = server.serverPort();
  const head = await rawHttp(port, get(port, '/', [], 'HEAD'));
  t.is(head.status, 200);
  t.is(head.headers.get('content-length'), '12');
  t.is(head.body.length, 0, 'nothing after the head');
  t.true(head.ended);
  const empty = await rawHttp(port, get(port, '/empty'));
  t.is(empty.status, 204);
  t.false(empty.headers.has('content-length'));
  t.is(empty.body.length, 0);
  // Any other method reaches the handler too.
  const options = await rawHttp(port, get(port, '/', [], 'OPTIONS'));
  t.is(options.status, 200);
  t.is(options.body.toString(), 'twelve bytes');
});

bothTransports('without a handler a plain request gets the answers of before; the setter switches it', async (t, workers) => {
  const server = await startServer(t, workers);
  t.is(server.httpRequestHandler(), null);
  const port = server.serverPort();
  const plain = await rawHttp(port, get(port));
  t.is(plain.status, 400);
  t.regex(plain.body.toString(), /Upgrade/);
  const post = await rawHttp(port, get(port, '/', [], 'POST'));
  t.is(post.status, 405);
  t.is(post.headers.get('allow'), 'GET');

  const handler = (): HttpResponse => ({ status: 200, body: 'now served' });
  server.setHttpRequestHandler(handler);
  t.is(server.httpRequestHandler(), handler);
  t.is((await rawHttp(port, get(port))).body.toString(), 'now served');
  server.setHttpRequestHandler(null);
  t.is((await rawHttp(port, get(port))).status, 400);
  t.throws(() => server.setHttpRequestHandler('page' as unknown as null), { name: 'InvalidArgumentError' });
});

bothTransports('a handler that throws, rejects or returns an invalid response gets the client 500 and the server serverError(1011)', async (t, workers) => {
  const server = await startServer(t, workers, {
    httpRequestHandler: (request) => {
      if (request.path === '/throw') throw new Error('page exploded');
      if (request.path === '/reject') return Promise.reject(new Error('async page exploded'));
      if (request.path === '/framing') return { status: 200, headers: { 'Content-Length': '1' }, body: 'xx' };
      return { status: 99 };
    },
  });
  const port = server.serverPort();
  const cases: Array<[string, RegExp]> = [
    ['/throw', /page exploded/],
    ['/reject', /async page exploded/],
    ['/framing', /Content-Length is set by the server/],
    ['/status', /status must be an integer from 200 to 599/],
  ];
  for (const [path, reason] of cases) {
    const serverError = next<[number, WebSocketError]>(server, 'serverError');
    const answer = await rawHttp(port, get(port, path));
    t.is(answer.status, 500, path);
    t.is(answer.headers.get('connection'), 'close');
    t.is(answer.body.toString(), 'The server failed to answer the request');
    const [code, error] = await serverError;
    t.is(code, CloseCode.BadOperation);
    t.regex(error.message, reason);
    t.regex(server.errorString(), /^The HTTP request handler failed: /);
  }
});

bothTransports('WebSocket upgrades and plain requests are served side by side on one port', async (t, workers) => {
  const server = await startServer(t, workers, { httpRequestHandler: (request) => ({ status: 200, body: `page ${request.query}` }) });
  echoEveryConnection(server);
  const url = server.serverUrl();
  const port = server.serverPort();
  const clients = await Promise.all(Array.from({ length: 4 }, () => connect(t, url)));
  const pages = inBatches(24, 8, (i) => nodeGet(`http://127.0.0.1:${port}/?${i}`));
  const echoes = Promise.all(clients.map(async (client, i) => {
    const echo = nextMessage(client);
    client.send(`echo ${i}`);
    return (await echo)[0].toString();
  }));
  const [answers, echoed] = await Promise.all([pages, echoes]);
  t.deepEqual(answers.map((a) => a.body.toString()), Array.from({ length: 24 }, (_, i) => `page ${i}`));
  t.deepEqual(echoed, ['echo 0', 'echo 1', 'echo 2', 'echo 3']);
  t.is(server.connectionCount(), 4);
  // Faulty upgrade attempts keep their answers; they are not plain requests.
  const version8 = await rawUpgrade(t, port, upgradeRequest(port, { 'Sec-WebSocket-Version': '8' }));
  t.is(version8.status, 426);
  const badKey = await rawUpgrade(t, port, upgradeRequest(port, { 'Sec-WebSocket-Key': 'short' }));
  t.is(badKey.status, 400);
  const postUpgrade = await rawUpgrade(t, port, upgradeRequest(port).replace('GET', 'POST'));
  t.is(postUpgrade.status, 405);
  const huge = await rawUpgrade(t, port, upgradeRequest(port, { 'X-Padding': 'x'.repeat(20_000) }));
  t.is(huge.status, 431);
});

bothTransports('the handshake timeout drops a half-sent plain request, and a handler that never answers', async (t, workers) => {
  let calls = 0;
  const server = await startServer(t, workers, {
    // Long enough for a busy machine to read a whole request in time, short enough for a test.
    handshakeTimeout: 1000,
    httpRequestHandler: () => {
      calls++;
      return new Promise<HttpResponse>(() => {});
    },
  });
  const port = server.serverPort();
  for (const text of [`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`, get(port)]) {
    const slow = net.connect(port, '127.0.0.1');
    t.teardown(() => slow.destroy());
    slow.on('error', () => {});
    const received: Buffer[] = [];
    slow.on('data', (chunk: Buffer) => received.push(chunk));
    const started = Date.now();
    slow.write(text);
    await socketClosed(slow, 5000);
    t.true(Date.now() - started >= 950, 'not before the timeout');
    t.is(Buffer.concat(received).length, 0, 'dropped without a response');
  }
  t.is(calls, 1, 'only the complete request reached the handler');
});

bothTransports('a request with content is refused with 413 and never reaches the handler', async (t, workers) => {
  let calls = 0;
  const server = await startServer(t, workers, { httpRequestHandler: () => { calls++; return { status: 200 }; } });
  const port = server.serverPort();
  const answer = await rawHttp(port, `${get(port, '/form', ['Content-Length: 5'], 'POST')}hello`);
  t.is(answer.status, 413);
  const chunked = await rawHttp(port, `${get(port, '/form', ['Transfer-Encoding: chunked'], 'POST')}5\r\nhello\r\n0\r\n\r\n`);
  t.is(chunked.status, 413);
  t.is(calls, 0);
});

bothTransports('a socket given to handleConnection gets plain HTTP answered too', async (t, workers) => {
  const server = new WebSocketServer('hand-over', SecureMode.NonSecure, { workers, httpRequestHandler: (request) => ({ status: 200, body: `handed ${request.path}` }) });
  t.teardown(() => server.destroy());
  const tcp = net.createServer({ pauseOnConnect: true }, (socket) => server.handleConnection(socket));
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  t.teardown(() => tcp.close());
  const port = (tcp.address() as net.AddressInfo).port;
  const answer = await nodeGet(`http://127.0.0.1:${port}/over`);
  t.is(answer.status, 200);
  t.is(answer.body.toString(), 'handed /over');
});

const tlsTest = hasOpenssl() ? bothTransports : (title: string) => test.skip(`${title} (skipped: openssl missing)`, () => {});

tlsTest('SecureMode.Secure answers https requests with the handler (secure: true)', async (t, workers) => {
  const pki = makeTestPki();
  const server = await startServer(t, workers, {
    tls: { key: pki.serverKey, cert: pki.serverCert },
    httpRequestHandler: (request) => ({ status: 200, body: `secure=${request.secure}` }),
  }, SecureMode.Secure);
  const answer = await nodeGet(`https://127.0.0.1:${server.serverPort()}/`, { ca: pki.caCert });
  t.is(answer.status, 200);
  t.is(answer.body.toString(), 'secure=true');
});

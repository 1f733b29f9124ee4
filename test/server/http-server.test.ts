// An http.Server on the WebSocketServer's port: plain requests (with content, with keep-alive)
// go to it, upgrades stay in the pool.
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import test from 'ava';
import { SecureMode } from '../../src/shared/engine/state.ts';
import { WebSocketServer } from '../../src/main/websocket-server.ts';
import { bothTransports, connect, EchoHandlerUrl, hasOpenssl, makeTestPki, nextMessage, startServer, until, within } from './support.ts';

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

function request(url: string, options: https.RequestOptions, body?: string | Buffer): Promise<Answer> {
  const get = url.startsWith('https:') ? https.request : http.request;
  return within(new Promise<Answer>((resolve, reject) => {
    const outgoing = get(url, options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: response.headers }));
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  }), 10_000, `${options.method ?? 'GET'} ${url}`);
}

/** A small application: a page, a POST that echoes its content, and what it knows of the socket. */
function application(): { server: http.Server; sockets: Set<unknown> } {
  const sockets = new Set<unknown>();
  const server = http.createServer((req, res) => {
    sockets.add(req.socket);
    if (req.method === 'GET' && req.url === '/') {
      res.setHeader('Content-Type', 'text/html');
      res.end('<!doctype html><title>chat</title><p>hello');
      return;
    }
    if (req.method === 'POST' && req.url === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => res.end(`${req.socket.remoteAddress} ${(req.socket as { encrypted?: boolean }).encrypted === true} ${Buffer.concat(chunks).toString()}`));
      return;
    }
    res.statusCode = 404;
    res.end('no such page');
  });
  return { server, sockets };
}

bothTransports('an http.Server serves the page on the same port as a pool-backed WebSocket endpoint, with keep-alive and content', async (t, workers) => {
  const app = application();
  const server = await startServer(t, workers, { handler: EchoHandlerUrl, httpServer: app.server });
  t.is(server.httpServer(), app.server);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const base = `http://127.0.0.1:${server.serverPort()}`;

  const page = await request(`${base}/`, { agent });
  t.is(page.status, 200);
  t.is(page.headers['content-type'], 'text/html');
  t.regex(page.body, /<title>chat<\/title>/);
  const big = 'x'.repeat(200_000);
  const echoed = await request(`${base}/echo`, { agent, method: 'POST' }, big);
  t.is(echoed.body, `127.0.0.1 false ${big}`);
  t.is((await request(`${base}/missing`, { agent })).status, 404);
  t.is(app.sockets.size, 1, 'the three requests shared one kept-alive connection');

  const client = await connect(t, `ws://127.0.0.1:${server.serverPort()}/chat`);
  const answer = nextMessage(client);
  client.send('thread');
  const thread = Number((await answer)[0].toString().split(':')[1]);
  t.is(thread !== 0, workers > 0, 'the WebSocket is served in a pool thread exactly when there is a pool');
  // A pool thread reports the opening with its next lifecycle batch (within milliseconds).
  await until(() => server.connectionCount() === 1, 5000, 'the connection counted');
  t.is(server.connectionCount(), 1);
});

bothTransports('24 MiB each way through the http.Server: a download and an upload arrive whole under flow control', async (t, workers) => {
  const size = 24 * 1024 * 1024;
  const app = http.createServer((req, res) => {
    if (req.method === 'POST') {
      let length = 0;
      const hash = createHash('sha256');
      req.on('data', (chunk: Buffer) => { length += chunk.length; hash.update(chunk); });
      req.on('end', () => res.end(`${length} ${hash.digest('hex')}`));
      return;
    }
    res.setHeader('Content-Length', String(size));
    const chunk = Buffer.alloc(64 * 1024, 7);
    let sent = 0;
    const more = (): void => {
      while (sent < size) {
        sent += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', more);
          return;
        }
      }
      res.end();
    };
    more();
  });
  const server = await startServer(t, workers, { httpServer: app });
  const base = `http://127.0.0.1:${server.serverPort()}`;
  const download = await within(new Promise<number>((resolve, reject) => {
    http.get(`${base}/big`, (response) => {
      let length = 0;
      response.on('data', (chunk: Buffer) => { length += chunk.length; });
      response.on('end', () => resolve(length));
    }).on('error', reject);
  }), 60_000, 'the download');
  t.is(download, size);
  const body = randomBytes(size);
  const upload = await within(request(`${base}/up`, { method: 'POST', agent: false }, body), 60_000, 'the upload');
  t.is(upload.body, `${size} ${createHash('sha256').update(body).digest('hex')}`);
});

bothTransports('the http.Server closing a connection, and the client closing one, end it on both sides', async (t, workers) => {
  const app = http.createServer((req, res) => {
    if (req.url === '/close') res.setHeader('Connection', 'close');
    res.end('bye');
  });
  const server = await startServer(t, workers, { httpServer: app });
  const held = async (): Promise<number> => {
    const census = await server.census();
    return census.connections + census.poolConnections + census.linkHeld + census.workerHeld;
  };
  const nothingHeld = (): Promise<void> => within((async () => {
    while (await held() > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  })(), 10_000, 'nothing held');
  const base = `http://127.0.0.1:${server.serverPort()}`;
  t.is((await request(`${base}/close`, { agent: false })).body, 'bye');
  await nothingHeld();

  const agent = new http.Agent({ keepAlive: true });
  t.is((await request(`${base}/keep`, { agent })).body, 'bye');
  // A pool thread relays the kept-alive connection until it closes; with workers: 0 the socket is
  // the http.Server's alone from the hand-over on.
  t.is(await held() > 0, workers > 0);
  agent.destroy();
  await nothingHeld();
});

const tlsTest = hasOpenssl() ? bothTransports : (title: string) => test.skip(title, () => {});

tlsTest('SecureMode.Secure: the http.Server gets the decrypted requests and sees them as encrypted', async (t, workers) => {
  const pki = makeTestPki();
  const app = application();
  const server = await startServer(t, workers, { httpServer: app.server, tls: { key: pki.serverKey, cert: pki.serverCert } }, SecureMode.Secure);
  const echoed = await request(`https://127.0.0.1:${server.serverPort()}/echo`, { method: 'POST', ca: pki.caCert, agent: false }, 'over tls');
  t.is(echoed.body, '127.0.0.1 true over tls');
});

test('httpServer must be a plain http.Server', (t) => {
  t.throws(() => new WebSocketServer('x', SecureMode.NonSecure, { workers: 0, httpServer: {} as http.Server }), { name: 'InvalidArgumentError' });
  t.throws(() => new WebSocketServer('x', SecureMode.NonSecure, { workers: 0, httpServer: https.createServer() as unknown as http.Server }), { name: 'InvalidArgumentError' });
  const server = new WebSocketServer('x', SecureMode.NonSecure, { workers: 0 });
  const app = http.createServer();
  server.setHttpServer(app);
  t.is(server.httpServer(), app);
  server.setHttpServer(null);
  t.is(server.httpServer(), null);
});

/**
 * Real Chromium as the client of our server, over both transports: what a browser sends arrives,
 * what we send (fragmented too) the browser reads, close codes and reasons cross both ways, and a
 * refused origin or a negotiated subprotocol look to the page as the WebSocket API says.
 */
import test from 'ava';
import type { Page } from 'playwright-core';
import type { WebSocket as ServerSideSocket } from '../../src/shared/connection/websocket.ts';
import { chromiumPages } from '../helpers/chromium.ts';
import { bothTransports, echoEveryConnection, next, startServer, within } from './support.ts';

const pages = chromiumPages(test);
const openPage = (): Promise<Page> => pages.open();

interface PageResult {
  protocol: string;
  received: Array<string | number[]>;
  close: { code: number; reason: string; wasClean: boolean };
  errored: boolean;
}

/**
 * Runs in the page: connects, sends `messages` (strings, or arrays of byte values for binary),
 * collects `expect` messages back, then closes with `closeWith` (or waits for the server to).
 */
function runInPage(page: Page, url: string, options: { protocols?: string[]; messages?: Array<string | number[]>; expect?: number; closeWith?: [number, string] }): Promise<PageResult> {
  return page.evaluate(
    ({ url, protocols, messages, expect, closeWith }) =>
      new Promise<PageResult>((resolve) => {
        const socket = new WebSocket(url, protocols);
        socket.binaryType = 'arraybuffer';
        const received: Array<string | number[]> = [];
        let errored = false;
        socket.onopen = () => {
          for (const message of messages) socket.send(typeof message === 'string' ? message : new Uint8Array(message));
          if (expect === 0 && closeWith) socket.close(closeWith[0], closeWith[1]);
        };
        socket.onmessage = (event) => {
          received.push(typeof event.data === 'string' ? event.data : Array.from(new Uint8Array(event.data as ArrayBuffer)));
          if (received.length === expect && closeWith) socket.close(closeWith[0], closeWith[1]);
        };
        socket.onerror = () => { errored = true; };
        socket.onclose = (event) => resolve({ protocol: socket.protocol, received, close: { code: event.code, reason: event.reason, wasClean: event.wasClean }, errored });
      }),
    { url, protocols: options.protocols ?? [], messages: options.messages ?? [], expect: options.expect ?? 0, closeWith: options.closeWith ?? null },
  );
}

const bytes = (length: number) => Array.from({ length }, (_, i) => (i * 7 + 3) & 0xff);

bothTransports('Chromium → our server: text and binary echo, then the browser closes with a code and reason', async (t, workers) => {
  const server = await startServer(t, workers);
  const sockets = echoEveryConnection(server);
  const page = await openPage();
  t.teardown(() => page.close());
  const messages: Array<string | number[]> = ['héllo wörld €𝄞', bytes(256), 'x'.repeat(100_000), bytes(300_000), ''];
  const result = await within(runInPage(page, `ws://127.0.0.1:${server.serverPort()}/room?x=1`, { messages, expect: messages.length, closeWith: [4001, 'bye from the page'] }), 20_000, 'page run');
  t.deepEqual(result.received, messages);
  t.deepEqual(result.close, { code: 4001, reason: 'bye from the page', wasClean: true });
  t.false(result.errored);
  const socket: ServerSideSocket = sockets[0]!;
  if (socket.state() !== 'Unconnected') await next(socket, 'disconnected', 10_000);
  t.is(socket.origin(), pages.origin());
  t.is(socket.resourceName(), '/room?x=1');
  t.is(socket.closeCode(), 4001);
  t.is(socket.closeReason(), 'bye from the page');
});

bothTransports('our server closes a Chromium client with a code and reason, after a fragmented message', async (t, workers) => {
  const server = await startServer(t, workers);
  const text = 'fragmented ✓ '.repeat(5000);
  server.on('newConnection', () => {
    const socket = server.nextPendingConnection()!;
    socket.setOutgoingFrameSize(1000);
    socket.sendTextMessage(text);
    socket.sendBinaryMessage(Uint8Array.from(bytes(5000)));
    socket.close(4002, 'server says bye');
  });
  const page = await openPage();
  t.teardown(() => page.close());
  const result = await within(runInPage(page, `ws://127.0.0.1:${server.serverPort()}/`, {}), 20_000, 'page run');
  t.deepEqual(result.received, [text, bytes(5000)]);
  t.deepEqual(result.close, { code: 4002, reason: 'server says bye', wasClean: true });
});

bothTransports('a refused origin fails the page WebSocket (1006, error event)', async (t, workers) => {
  const server = await startServer(t, workers);
  const origins: string[] = [];
  server.on('originAuthenticationRequired', (authenticator) => {
    origins.push(authenticator.origin());
    authenticator.setAllowed(false);
  });
  const page = await openPage();
  t.teardown(() => page.close());
  const result = await within(runInPage(page, `ws://127.0.0.1:${server.serverPort()}/`, {}), 20_000, 'page run');
  t.deepEqual(origins, [pages.origin()]);
  t.true(result.errored);
  t.is(result.close.code, 1006);
  t.false(server.hasPendingConnections());
});

bothTransports('Chromium gets the first subprotocol in its order that the server supports', async (t, workers) => {
  const server = await startServer(t, workers, { supportedSubprotocols: ['chat.v2', 'chat.v1'] });
  const sockets = echoEveryConnection(server);
  const page = await openPage();
  t.teardown(() => page.close());
  const result = await within(runInPage(page, `ws://127.0.0.1:${server.serverPort()}/`, { protocols: ['other', 'chat.v1', 'chat.v2'], messages: ['hi'], expect: 1, closeWith: [1000, ''] }), 20_000, 'page run');
  t.is(result.protocol, 'chat.v1');
  t.is(sockets[0]!.subprotocol(), 'chat.v1');
  t.deepEqual(result.close, { code: 1000, reason: '', wasClean: true });
});

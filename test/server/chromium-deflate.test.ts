/**
 * Real Chromium against our server with permessage-deflate, over both transports and both memory
 * modes: the page's `WebSocket.extensions` shows what was agreed, and text and binary from 0 B to
 * 16 MiB go both ways (the page builds the messages and checks the echoes itself, so that no
 * megabytes cross the DevTools protocol).
 */
import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { launchChromium, type ChromiumSession } from '../helpers/chromium.ts';
import { bothTransports, echoEveryConnection, startServer } from './support.ts';

let browser: ChromiumSession;
let pageServer: Server;
let pageOrigin: string;

test.before(async () => {
  browser = await launchChromium();
  pageServer = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end('<!doctype html><title>wsthreads deflate peer</title><p>peer');
  });
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
});

test.after.always(async () => {
  await browser?.close();
  pageServer?.close();
});

interface PageOutcome {
  extensions: string;
  /** One entry per message that did not come back identical. */
  mismatches: string[];
  close: number;
}

const Sizes = [0, 1, 125, 126, 65_535, 65_536, 1024 * 1024, 16 * 1024 * 1024];

for (const mode of ['shared', 'dedicated'] as const) {
  bothTransports(`Chromium ↔ our server (${mode}): the agreed extension, text and binary from 0 B to 16 MiB`, async (t, workers) => {
    const server = await startServer(t, workers, { perMessageDeflate: { mode, threshold: 0 }, maxAllowedIncomingMessageSize: 32 * 1024 * 1024 });
    const sockets = echoEveryConnection(server);
    const page = await browser.context.newPage();
    t.teardown(() => page.close());
    await page.goto(`${pageOrigin}/`);
    const outcome = await page.evaluate(({ url, sizes }) => new Promise<PageOutcome>((resolve) => {
      const socket = new WebSocket(url);
      socket.binaryType = 'arraybuffer';
      const mismatches: string[] = [];
      const queue: Array<{ label: string; expected: string | Uint8Array }> = [];
      const unit = 'aé€{"key":"value","n":1} ';
      for (const size of sizes) {
        const bytes = new Uint8Array(size);
        for (let i = 0; i < size; i++) bytes[i] = (i % 251) ^ ((i >> 10) & 0xff);
        queue.push({ label: `binary ${size}`, expected: bytes });
        queue.push({ label: `text ${size}`, expected: unit.repeat(Math.ceil(size / unit.length)).slice(0, size) });
      }
      const sendNext = (): void => {
        const next = queue[0];
        if (next === undefined) socket.close(1000, 'done');
        else socket.send(next.expected);
      };
      socket.onopen = sendNext;
      socket.onmessage = (event) => {
        const { label, expected } = queue.shift()!;
        let same: boolean;
        if (typeof expected === 'string') same = event.data === expected;
        else {
          const got = new Uint8Array(event.data as ArrayBuffer);
          same = got.length === expected.length && got.every((value, i) => value === expected[i]);
        }
        if (!same) mismatches.push(label);
        sendNext();
      };
      socket.onclose = (event) => resolve({ extensions: socket.extensions, mismatches, close: event.code });
    }), { url: server.serverUrl(), sizes: Sizes });
    const agreed = mode === 'shared'
      ? 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'
      : 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12';
    t.is(outcome.extensions, agreed);
    t.deepEqual(sockets[0]?.extensions(), [agreed]);
    t.deepEqual(outcome.mismatches, []);
    t.is(outcome.close, 1000);
  });
}

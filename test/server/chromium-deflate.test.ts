/**
 * Real Chromium against our server with permessage-deflate, over both transports and both memory
 * modes: the page's `WebSocket.extensions` shows what was agreed, and text and binary from 0 B to
 * 16 MiB go both ways (the page builds the messages and checks the echoes itself, so that no
 * megabytes cross the DevTools protocol).
 */
import test from 'ava';
import { chromiumPages } from '../helpers/chromium.ts';
import { bothTransports, echoEveryConnection, startServer } from './support.ts';

const pages = chromiumPages(test);

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
    const page = await pages.open();
    t.teardown(() => page.close());
    const outcome = await page.evaluate(({ url, sizes }) => new Promise<PageOutcome>((resolve) => {
      const socket = new WebSocket(url);
      socket.binaryType = 'arraybuffer';
      const mismatches: string[] = [];
      const queue: Array<{ label: string; expected: string | Uint8Array }> = [];
      const unit = 'aé€{"key":"value","n":1} ';
      // A 64 KiB pattern repeated: cheap to build and compare, and it compresses.
      const unitBytes = new Uint8Array(65_536);
      for (let i = 0; i < unitBytes.length; i++) unitBytes[i] = (i % 251) ^ ((i >> 10) & 0xff);
      for (const size of sizes) {
        const bytes = new Uint8Array(size);
        for (let at = 0; at < size; at += unitBytes.length) bytes.set(unitBytes.subarray(0, Math.min(unitBytes.length, size - at)), at);
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
          same = got.length === expected.length;
          for (let i = 0; same && i < got.length; i++) same = got[i] === expected[i];
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
  }, true);
}

/**
 * Real Chromium against our server with permessage-deflate, over both transports and both memory
 * modes: the page's `WebSocket.extensions` shows what was agreed, and text and binary from 0 B to
 * 16 MiB go both ways (the page builds the messages and checks the echoes itself, so that no
 * megabytes cross the DevTools protocol).
 */
import test from 'ava';
import { chromiumPages } from '../helpers/chromium.ts';
import { bothTransports, echoEveryConnection, startServer, until } from './support.ts';

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

const ChatHandler = new URL('../../src/handlers/chat.ts', import.meta.url);

interface RoomOutcome {
  extensions: string[];
  /** Per page socket: the messages it got, as `<sender>:<index>` (or `garbled` for one that did not read back). */
  seen: string[][];
  closes: number[];
}

bothTransports('Chromium in a chat room (dedicated): publishes compressed once, between each socket\'s own compressed echoes, read back whole', async (t, workers) => {
  const server = await startServer(t, workers, { handler: ChatHandler, perMessageDeflate: 'dedicated' });
  const page = await pages.open();
  t.teardown(() => page.close());
  // Both sockets open, and counted in the room on the server, before anyone speaks.
  await page.evaluate((url) => new Promise<void>((resolve) => {
    const sockets = [new WebSocket(url), new WebSocket(url)];
    (globalThis as unknown as { room: WebSocket[] }).room = sockets;
    let opened = 0;
    for (const socket of sockets) socket.onopen = () => { if (++opened === 2) resolve(); };
  }), `${server.serverUrl()}/room`);
  await until(() => server.numSubscribers('/room') === 2, 10_000, 'both page sockets in the room');
  const outcome = await page.evaluate((rounds) => new Promise<RoomOutcome>((resolve) => {
    // A message that compresses well and says who sent it; its body repeats the header, so any
    // byte out of place shows.
    const message = (from: number, index: number): string => `${from}:${index}|${`{"from":${from},"index":${index},"pad":"${'xyz'.repeat(200)}"}`.repeat(8)}`;
    const sockets = (globalThis as unknown as { room: WebSocket[] }).room;
    const seen: string[][] = [[], []];
    const closes: number[] = [];
    let closed = 0;
    sockets.forEach((socket, s) => {
      socket.onmessage = (event) => {
        const text = event.data as string;
        const [from, index] = text.slice(0, text.indexOf('|')).split(':').map(Number);
        seen[s]!.push(text === message(from!, index!) ? `${from}:${index}` : 'garbled');
        if (seen[s]!.length === rounds * 2) socket.close(1000, 'done');
      };
      socket.onclose = (event) => {
        closes[s] = event.code;
        if (++closed === 2) resolve({ extensions: sockets.map((each) => each.extensions), seen, closes });
      };
    });
    for (let i = 0; i < rounds; i++) sockets.forEach((sender, from) => sender.send(message(from, i)));
  }), 20);
  for (const extensions of outcome.extensions) t.true(extensions.startsWith('permessage-deflate'), extensions);
  for (const seen of outcome.seen) {
    t.false(seen.includes('garbled'));
    // Each sender's messages in its order, on both sockets (its own as the echo, the other's as a publish).
    for (const from of [0, 1]) t.deepEqual(seen.filter((entry) => entry.startsWith(`${from}:`)), Array.from({ length: 20 }, (_, i) => `${from}:${i}`));
  }
  t.deepEqual(outcome.closes, [1000, 1000]);
  t.is(server.pubsubStats().framesBuilt, 40 * 2, 'one plain and one compressed copy of each publish');
}, true);

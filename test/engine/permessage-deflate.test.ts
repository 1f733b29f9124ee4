import test from 'ava';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { InvalidArgumentError } from '../../src/shared/engine/errors.ts';
import type { Extension, ExtensionOffer } from '../../src/shared/engine/extension.ts';
import { formatExtensionHeader, parseExtensionHeader } from '../../src/shared/engine/extension-header.ts';
import { OpCode } from '../../src/shared/engine/opcode.ts';
import {
  clientPerMessageDeflate,
  negotiateServerDeflate,
  resolveDeflateSettings,
  type ClientDeflateOptions,
  type DeflateOption,
} from '../../src/shared/engine/permessage-deflate.ts';
import { ProtocolEngine } from '../../src/shared/engine/protocol-engine.ts';
import { Role } from '../../src/shared/engine/state.ts';
import { clientFrame, decodeFrames, output, rawFrame, recorder } from '../helpers/frames.ts';

function offers(header: string): ExtensionOffer[] {
  const parsed = parseExtensionHeader(header);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.offers;
}

/** The server's answer to `header` as it goes in the 101, or null when it declines every offer. */
function answerTo(header: string, option: DeflateOption = true): string | null {
  const negotiated = negotiateServerDeflate(offers(header), resolveDeflateSettings(option)!);
  return negotiated === null ? null : formatExtensionHeader([negotiated.answer]);
}

// ---- server negotiation, parameter by parameter ------------------------------------------------

const serverCases: Array<[title: string, offer: string, option: DeflateOption, answer: string | null]> = [
  ['shared mode always turns context takeover off both ways', 'permessage-deflate', 'shared', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
  ['shared mode leaves client_max_window_bits without a value unanswered', 'permessage-deflate; client_max_window_bits', 'shared', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
  ['shared mode answers a requested server window', 'permessage-deflate; server_max_window_bits=10', 'shared', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10'],
  ['dedicated mode keeps context takeover and announces its window', 'permessage-deflate', { mode: 'dedicated', windowBits: 12 }, 'permessage-deflate; server_max_window_bits=12'],
  ['dedicated mode caps the client window when it may', 'permessage-deflate; client_max_window_bits', { mode: 'dedicated', windowBits: 12 }, 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12'],
  ['a smaller client window is kept', 'permessage-deflate; client_max_window_bits=9', { mode: 'dedicated', windowBits: 12 }, 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=9'],
  ['a dedicated window of 15 is not announced', 'permessage-deflate; client_max_window_bits', { mode: 'dedicated', windowBits: 15 }, 'permessage-deflate'],
  ['a client-requested server window below ours wins', 'permessage-deflate; server_max_window_bits=10', { mode: 'dedicated', windowBits: 12 }, 'permessage-deflate; server_max_window_bits=10'],
  ['server_max_window_bits=8 is accepted (deflated with 9 bits, whose distances fit 8)', 'permessage-deflate; server_max_window_bits=8', { mode: 'dedicated', windowBits: 15 }, 'permessage-deflate; server_max_window_bits=8'],
  ['server_no_context_takeover is honoured', 'permessage-deflate; server_no_context_takeover', { mode: 'dedicated', windowBits: 15 }, 'permessage-deflate; server_no_context_takeover'],
  ['client_no_context_takeover is acknowledged', 'permessage-deflate; client_no_context_takeover', { mode: 'dedicated', windowBits: 15 }, 'permessage-deflate; client_no_context_takeover'],
  ['all four together', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=10', { mode: 'dedicated', windowBits: 15 }, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=10'],
  ['a quoted value is a value', 'permessage-deflate; server_max_window_bits="10"', { mode: 'dedicated', windowBits: 15 }, 'permessage-deflate; server_max_window_bits=10'],
  ['offers of other extensions are passed over', 'x-webkit-deflate-frame, permessage-deflate', { mode: 'dedicated', windowBits: 15 }, 'permessage-deflate'],
  ['no permessage-deflate offer: no answer', 'x-webkit-deflate-frame', 'shared', null],
  // Section 5: each invalid offer is declined, and the next one is tried.
  ['server_max_window_bits=7 is declined', 'permessage-deflate; server_max_window_bits=7', 'dedicated', null],
  ['server_max_window_bits=16 is declined', 'permessage-deflate; server_max_window_bits=16', 'dedicated', null],
  ['server_max_window_bits with a leading zero is declined', 'permessage-deflate; server_max_window_bits=010', 'dedicated', null],
  ['server_max_window_bits without a value is declined', 'permessage-deflate; server_max_window_bits', 'dedicated', null],
  ['client_max_window_bits=abc is declined', 'permessage-deflate; client_max_window_bits=abc', 'dedicated', null],
  ['client_max_window_bits=16 is declined', 'permessage-deflate; client_max_window_bits=16', 'dedicated', null],
  ['a no_context_takeover with a value is declined', 'permessage-deflate; server_no_context_takeover=1', 'dedicated', null],
  ['an unknown parameter is declined', 'permessage-deflate; x=1', 'dedicated', null],
  ['a repeated parameter is declined', 'permessage-deflate; client_no_context_takeover; client_no_context_takeover', 'dedicated', null],
  ['a repeated window is declined even with equal values', 'permessage-deflate; server_max_window_bits=10; server_max_window_bits=10', 'dedicated', null],
  ['the fallback after a declined offer is accepted', 'permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits', { mode: 'dedicated', windowBits: 10 }, 'permessage-deflate; server_max_window_bits=10; client_max_window_bits=10'],
  ['the first acceptable of several valid offers wins', 'permessage-deflate; server_max_window_bits=9, permessage-deflate', { mode: 'dedicated', windowBits: 15 }, 'permessage-deflate; server_max_window_bits=9'],
];

for (const [title, offer, option, answer] of serverCases) {
  test(`server: ${title}`, (t) => {
    t.is(answerTo(offer, option), answer);
  });
}

test('server settings: off by default, and invalid options are refused with InvalidArgumentError', (t) => {
  t.is(resolveDeflateSettings(undefined), null);
  t.is(resolveDeflateSettings(false), null);
  t.deepEqual(resolveDeflateSettings(true), { mode: 'shared', windowBits: 12, threshold: 256, level: 1 });
  t.is(resolveDeflateSettings('dedicated')!.mode, 'dedicated');
  t.throws(() => resolveDeflateSettings('huge' as DeflateOption), { instanceOf: InvalidArgumentError });
  t.throws(() => resolveDeflateSettings({ windowBits: 8 }), { instanceOf: InvalidArgumentError, message: /windowBits must be an integer from 9 to 15/ });
  t.throws(() => resolveDeflateSettings({ level: 10 }), { instanceOf: InvalidArgumentError });
  t.throws(() => resolveDeflateSettings({ threshold: -1 }), { instanceOf: InvalidArgumentError });
});

// ---- client negotiation -------------------------------------------------------------------------

function clientAccepts(answer: string, options: ClientDeflateOptions = {}): Extension {
  return clientPerMessageDeflate(options).acceptAnswer(offers(answer)[0]!);
}

test('client: the default offer is what browsers and ws send', (t) => {
  t.is(formatExtensionHeader(clientPerMessageDeflate().offers()), 'permessage-deflate; client_max_window_bits');
  t.is(formatExtensionHeader(clientPerMessageDeflate({ offers: [
    { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
    { clientMaxWindowBits: false },
  ] }).offers()), 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9, permessage-deflate');
  t.throws(() => clientPerMessageDeflate({ offers: [{ serverMaxWindowBits: 16 }] }), { instanceOf: InvalidArgumentError });
  t.throws(() => clientPerMessageDeflate({ offers: [] }), { instanceOf: InvalidArgumentError });
});

const clientValid: Array<[answer: string, options: ClientDeflateOptions, agreement: object]> = [
  ['permessage-deflate', {}, { ownContextTakeover: true, ownWindowBits: 15, peerContextTakeover: true, peerWindowBits: 15 }],
  ['permessage-deflate; server_no_context_takeover; client_no_context_takeover', {}, { ownContextTakeover: false, ownWindowBits: 15, peerContextTakeover: false, peerWindowBits: 15 }],
  ['permessage-deflate; server_max_window_bits=10; client_max_window_bits=8', {}, { ownContextTakeover: true, ownWindowBits: 8, peerContextTakeover: true, peerWindowBits: 10 }],
  ['permessage-deflate; server_max_window_bits=9', { offers: [{ serverMaxWindowBits: 10 }] }, { ownContextTakeover: true, ownWindowBits: 15, peerContextTakeover: true, peerWindowBits: 9 }],
  ['permessage-deflate', { offers: [{ clientMaxWindowBits: 11 }] }, { ownContextTakeover: true, ownWindowBits: 11, peerContextTakeover: true, peerWindowBits: 15 }],
  ['permessage-deflate', { offers: [{ clientNoContextTakeover: true }] }, { ownContextTakeover: false, ownWindowBits: 15, peerContextTakeover: true, peerWindowBits: 15 }],
  // The answer fits the second offer only.
  ['permessage-deflate', { offers: [{ serverMaxWindowBits: 10 }, {}] }, { ownContextTakeover: true, ownWindowBits: 15, peerContextTakeover: true, peerWindowBits: 15 }],
];

for (const [answer, options, agreement] of clientValid) {
  test(`client accepts ${JSON.stringify(answer)} to ${JSON.stringify(options.offers ?? 'the default offer')}`, (t) => {
    t.like((clientAccepts(answer, options) as unknown as { agreement: object }).agreement, agreement);
  });
}

const clientInvalid: Array<[answer: string, options: ClientDeflateOptions, reason: RegExp]> = [
  ['permessage-deflate; x=1', {}, /unknown parameter x/],
  ['permessage-deflate; client_no_context_takeover; client_no_context_takeover', {}, /appears more than once/],
  ['permessage-deflate; client_max_window_bits', {}, /needs a value/],
  ['permessage-deflate; client_max_window_bits=7', {}, /must be 8..15/],
  ['permessage-deflate; server_max_window_bits=16', {}, /must be 8..15/],
  ['permessage-deflate; server_no_context_takeover=yes', {}, /takes no value/],
  ['permessage-deflate; client_max_window_bits=10', { offers: [{ clientMaxWindowBits: false }] }, /client_max_window_bits was not offered/],
  ['permessage-deflate; client_max_window_bits=12', { offers: [{ clientMaxWindowBits: 10 }] }, /larger than the 10 offered/],
  ['permessage-deflate; server_max_window_bits=12', { offers: [{ serverMaxWindowBits: 10 }] }, /larger than the 10 offered/],
  ['permessage-deflate', { offers: [{ serverMaxWindowBits: 10 }] }, /offered and not answered/],
  ['permessage-deflate', { offers: [{ serverNoContextTakeover: true }] }, /server_no_context_takeover was offered and not answered/],
];

for (const [answer, options, reason] of clientInvalid) {
  test(`client fails on ${JSON.stringify(answer)} to ${JSON.stringify(options.offers ?? 'the default offer')}`, (t) => {
    t.throws(() => clientAccepts(answer, options), { message: reason });
  });
}

// ---- the data path -------------------------------------------------------------------------------

/** A server engine with the extension negotiated for `offer`, and one for the client from the answer. */
function pair(offer = 'permessage-deflate; client_max_window_bits', option: DeflateOption = 'dedicated', client: ClientDeflateOptions = {}) {
  const negotiated = negotiateServerDeflate(offers(offer), resolveDeflateSettings(option)!)!;
  const serverHandler = recorder({ frames: true });
  const clientHandler = recorder({ frames: true });
  const server = new ProtocolEngine({ role: Role.Server, extensions: [negotiated.extension] }, serverHandler);
  const clientExtension = clientPerMessageDeflate(client).acceptAnswer(negotiated.answer);
  const clientEngine = new ProtocolEngine({ role: Role.Client, extensions: [clientExtension] }, clientHandler);
  return { server, serverHandler, client: clientEngine, clientHandler };
}

test('RFC 7692 7.2.3: the examples decode (one block, shared window, stored block, BFINAL, fragments)', (t) => {
  const handler = recorder();
  const negotiated = clientPerMessageDeflate().acceptAnswer(offers('permessage-deflate')[0]!);
  const engine = new ProtocolEngine({ role: Role.Client, extensions: [negotiated] }, handler);
  engine.receive(Buffer.from([0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]));
  engine.receive(Buffer.from([0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00])); // refers back to the first message
  engine.receive(Buffer.from([0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00]));
  engine.receive(Buffer.from([0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00])); // BFINAL set
  engine.receive(Buffer.from([0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00]));
  t.deepEqual(handler.events, [['text', 'Hello'], ['text', 'Hello'], ['text', 'Hello'], ['text', 'Hello'], ['text', 'Hello']]);
});

test('outgoing: RSV1 on the first frame only, never on control frames, the 00 00 ff ff tail stripped', (t) => {
  const { server, client, clientHandler } = pair('permessage-deflate', { mode: 'dedicated', threshold: 0 });
  server.outgoingFrameSize = 16;
  const text = 'a compressible sentence, a compressible sentence, a compressible sentence. '.repeat(20);
  server.sendText(text);
  server.ping(Buffer.from('p'));
  const frames = decodeFrames(output(server));
  t.true(frames.length > 2);
  t.is(frames[0]!.rsv, 0x40);
  t.is(frames[0]!.opcode, OpCode.Text);
  t.true(frames.slice(1).every((frame) => frame.rsv === 0));
  t.is(frames.at(-1)!.opcode, OpCode.Ping);
  const payload = Buffer.concat(frames.filter((f) => f.opcode !== OpCode.Ping).map((f) => f.payload));
  t.false(payload.subarray(-4).equals(Buffer.from([0, 0, 0xff, 0xff])));
  // An independent inflater reads it once the tail is back.
  t.is(zlib.inflateRawSync(Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString(), text);
  t.true(payload.length < text.length / 4);
  client.receive(Buffer.concat(frames.map((f) => rawFrame({ fin: f.fin, rsv: f.rsv, opcode: f.opcode, payload: f.payload }))));
  t.deepEqual(clientHandler.events.filter((e) => e[0] === 'text'), [['text', text]]);
});

test('compressed and uncompressed messages interleave: the threshold and the per-send opt-out', (t) => {
  const { server, client, clientHandler } = pair('permessage-deflate', { mode: 'dedicated', threshold: 100 });
  const long = 'x'.repeat(500);
  server.sendText('short');
  server.sendText(long);
  server.sendText(long, false);
  server.sendBinary(Buffer.alloc(300, 7));
  server.sendBinary(Buffer.alloc(300, 7), false);
  const bytes = output(server);
  t.deepEqual(decodeFrames(bytes).map((f) => f.rsv), [0, 0x40, 0, 0x40, 0]);
  client.receive(bytes);
  t.deepEqual(clientHandler.events.filter((e) => e[0] === 'text' || e[0] === 'binary').map((e) => e[1].length), [5, 500, 500, 600, 600]);
});

test('the empty message, compressed, in both directions', (t) => {
  const { server, serverHandler, client, clientHandler } = pair('permessage-deflate', { mode: 'dedicated', threshold: 0 }, { threshold: 0 });
  for (let i = 0; i < 3; i++) {
    client.sendText('');
    client.sendBinary(Buffer.alloc(0));
    server.sendText('');
  }
  const fromClient = output(client);
  const frames = decodeFrames(fromClient);
  t.true(frames.every((f) => f.rsv === 0x40));
  // The first is zlib's own flush (00 with the tail stripped); the rest have nothing to flush.
  t.deepEqual(frames.map((f) => f.payload.toString('hex')), ['00', '00', '00', '00', '00', '00']);
  // A peer's empty compressed payload is the empty message too.
  server.receive(clientFrame({ opcode: OpCode.Text, rsv: 0x40, payload: Buffer.alloc(0) }));
  server.receive(fromClient);
  client.receive(output(server));
  t.is(serverHandler.events.filter((e) => e[0] === 'text' && e[1] === '').length, 4);
  t.is(serverHandler.events.filter((e) => e[0] === 'binary' && e[1] === '').length, 3);
  t.is(clientHandler.events.filter((e) => e[0] === 'text' && e[1] === '').length, 3);
});

test('a fragmented compressed message from the client is inflated whole; RSV1 on its continuation is 1002', (t) => {
  const { server, serverHandler } = pair('permessage-deflate', 'shared');
  const compressed = zlib.deflateRawSync(Buffer.from('fragmented hello'), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
  server.receive(Buffer.concat([
    clientFrame({ opcode: OpCode.Text, rsv: 0x40, fin: false, payload: compressed.subarray(0, 3) }),
    clientFrame({ opcode: OpCode.Ping, payload: 'in between' }),
    clientFrame({ opcode: OpCode.Continuation, fin: false, payload: compressed.subarray(3, 6) }),
    clientFrame({ opcode: OpCode.Continuation, payload: compressed.subarray(6) }),
  ]));
  t.deepEqual(serverHandler.events, [['ping', Buffer.from('in between').toString('hex')], ['textFrame', 'fragmented hello', true], ['text', 'fragmented hello']]);
  server.receive(Buffer.concat([
    clientFrame({ opcode: OpCode.Text, rsv: 0x40, fin: false, payload: compressed.subarray(0, 3) }),
    clientFrame({ opcode: OpCode.Continuation, rsv: 0x40, payload: compressed.subarray(3) }),
  ]));
  t.is(serverHandler.errors[0]?.closeCode, 1002);
});

test('RSV1 on a control frame is 1002 even with deflate negotiated', (t) => {
  const { server, serverHandler } = pair();
  server.receive(clientFrame({ opcode: OpCode.Ping, rsv: 0x40, payload: 'x' }));
  t.is(serverHandler.errors[0]?.closeCode, 1002);
});

test('RSV2 and RSV3 stay refused with deflate negotiated', (t) => {
  const { server, serverHandler } = pair();
  server.receive(clientFrame({ opcode: OpCode.Text, rsv: 0x60, payload: 'x' }));
  t.is(serverHandler.errors[0]?.closeCode, 1002);
});

test('data that is not DEFLATE closes with 1007', (t) => {
  const { server, serverHandler } = pair();
  server.receive(clientFrame({ opcode: OpCode.Binary, rsv: 0x40, payload: Buffer.from([0xff, 0xff, 0xff, 0x12]) }));
  t.is(serverHandler.errors[0]?.closeCode, 1007);
  t.regex(serverHandler.errors[0]!.message, /Invalid compressed data/);
});

test('compressed text that inflates to invalid UTF-8 closes with 1007', (t) => {
  const { server, serverHandler } = pair('permessage-deflate', 'shared');
  const compressed = zlib.deflateRawSync(Buffer.from([0xc3, 0x28, 0x41]), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
  server.receive(clientFrame({ opcode: OpCode.Text, rsv: 0x40, payload: compressed }));
  t.is(serverHandler.errors[0]?.closeCode, 1007);
});

test('context takeover as negotiated: dedicated reuses the window, shared and no_context_takeover do not', (t) => {
  const message = `{"user":"someone","items":[${Array.from({ length: 20 }, (_, i) => `{"id":${i},"name":"item"}`).join(',')}]}`;
  const sizes = (engine: ProtocolEngine): number[] => {
    engine.sendText(message);
    engine.sendText(message);
    return decodeFrames(output(engine)).map((f) => f.payload.length);
  };
  const dedicated = sizes(pair('permessage-deflate', { mode: 'dedicated', threshold: 0 }).server);
  const shared = sizes(pair('permessage-deflate', { mode: 'shared', threshold: 0 }).server);
  const askedNone = sizes(pair('permessage-deflate; server_no_context_takeover', { mode: 'dedicated', threshold: 0 }).server);
  t.true(dedicated[1]! < dedicated[0]! / 4, `dedicated ${dedicated}`);
  t.is(shared[1], shared[0]);
  t.is(askedNone[1], askedNone[0]);
  // And the peers still read every message, in every direction.
  for (const option of [{ mode: 'dedicated', threshold: 0 }, { mode: 'shared', threshold: 0 }] as const) {
    const { server, serverHandler, client, clientHandler } = pair('permessage-deflate; client_max_window_bits', option);
    for (let i = 0; i < 5; i++) {
      server.sendText(message + i);
      client.sendText(message + i);
    }
    client.receive(output(server));
    server.receive(output(client));
    const expected = Array.from({ length: 5 }, (_, i) => message + i);
    t.deepEqual(clientHandler.events.filter((e) => e[0] === 'text').map((e) => e[1]), expected);
    t.deepEqual(serverHandler.events.filter((e) => e[0] === 'text').map((e) => e[1]), expected);
  }
});

test('server_max_window_bits=8: what we send stays readable by a 256-byte-window inflater across messages', async (t) => {
  const { server } = pair('permessage-deflate; server_max_window_bits=8', { mode: 'dedicated', threshold: 0 });
  const inflater = zlib.createInflateRaw({ windowBits: 8 });
  const messages: Buffer[] = [];
  let previous = randomBytes(64);
  for (let i = 0; i < 200; i++) {
    // Each message repeats bytes from one to four messages back: references across the boundary.
    const fresh = randomBytes(40 + (i % 60));
    const message = Buffer.concat([fresh, previous.subarray(0, 30), fresh.subarray(0, 20)]);
    previous = Buffer.concat([message, previous]).subarray(0, 400);
    messages.push(message);
    server.sendBinary(message);
  }
  const frames = decodeFrames(output(server));
  const received: Buffer[] = [];
  let failure: Error | undefined;
  inflater.on('error', (error) => { failure = error; });
  for (const frame of frames) {
    inflater.write(Buffer.concat([frame.payload, Buffer.from([0, 0, 0xff, 0xff])]));
    received.push(await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const onData = (chunk: Buffer): void => { chunks.push(chunk); };
      inflater.on('data', onData);
      inflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        inflater.off('data', onData);
        if (failure !== undefined) reject(failure);
        else resolve(Buffer.concat(chunks));
      });
    }));
  }
  t.is(received.length, messages.length);
  t.true(received.every((data, i) => data.equals(messages[i]!)));
  inflater.close();
});

test('a decompression bomb stops at the limit with 1009, without inflating the rest', (t) => {
  const bomb = zlib.deflateRawSync(Buffer.alloc(64 * 1024 * 1024), { level: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
  t.true(bomb.length < 128 * 1024);
  for (const option of ['shared', 'dedicated'] as const) {
    const { server, serverHandler } = pair('permessage-deflate', option);
    server.maxAllowedIncomingMessageSize = 1024 * 1024;
    const before = process.memoryUsage().arrayBuffers;
    server.receive(clientFrame({ opcode: OpCode.Binary, rsv: 0x40, payload: bomb }));
    const grown = process.memoryUsage().arrayBuffers - before;
    t.is(serverHandler.errors[0]?.closeCode, 1009, option);
    t.regex(serverHandler.errors[0]!.message, /inflates to more than the limit of 1048576 bytes/);
    // Inflating it whole would take 64 MiB; stopping at the limit keeps to a few MiB.
    t.true(grown < 16 * 1024 * 1024, `${option}: grew by ${grown} bytes`);
  }
  // The shared context is usable again by the next connection.
  const { server, serverHandler } = pair('permessage-deflate', 'shared');
  server.receive(clientFrame({ opcode: OpCode.Text, rsv: 0x40, payload: zlib.deflateRawSync(Buffer.from('after'), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4) }));
  t.deepEqual(serverHandler.events.filter((e) => e[0] === 'text'), [['text', 'after']]);
});

test('a message that inflates to exactly the limit passes', (t) => {
  const { server, serverHandler } = pair('permessage-deflate', 'shared');
  server.maxAllowedIncomingMessageSize = 100_000;
  const deflated = (size: number) => zlib.deflateRawSync(Buffer.alloc(size, 0x61), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
  server.receive(clientFrame({ opcode: OpCode.Binary, rsv: 0x40, payload: deflated(100_000) }));
  t.is(serverHandler.events[0]?.[0], 'binaryFrame');
  server.receive(clientFrame({ opcode: OpCode.Binary, rsv: 0x40, payload: deflated(100_001) }));
  t.is(serverHandler.errors[0]?.closeCode, 1009);
});

import test from 'ava';
import { Buffer } from 'node:buffer';
import { CloseCode } from '../../src/shared/engine/close-code.ts';
import { EngineState, type EngineOptions } from '../../src/shared/engine/engine-types.ts';
import { InvalidArgumentError, SocketError } from '../../src/shared/engine/errors.ts';
import { OpCode } from '../../src/shared/engine/opcode.ts';
import { ProtocolEngine } from '../../src/shared/engine/protocol-engine.ts';
import { PayloadUse } from '../../src/shared/engine/frame-writer.ts';
import { FragmentChargeBytes } from '../../src/shared/engine/limits.ts';
import { Role } from '../../src/shared/engine/state.ts';
import { clientFrame, decodeFrames, output, rawFrame, recorder } from '../helpers/frames.ts';

function server(options: Partial<EngineOptions> = {}, frames = false) {
  const handler = recorder({ frames });
  const engine = new ProtocolEngine({ role: Role.Server, ...options }, handler);
  return { engine, handler, events: handler.events };
}

function client(options: Partial<EngineOptions> = {}, frames = false) {
  const handler = recorder({ frames });
  const engine = new ProtocolEngine({ role: Role.Client, ...options }, handler);
  return { engine, handler, events: handler.events };
}

function closeFrameSent(engine: ProtocolEngine) {
  const frames = decodeFrames(output(engine));
  const close = frames.find((frame) => frame.opcode === OpCode.Close);
  if (!close) return undefined;
  return { code: close.payload.length >= 2 ? close.payload.readUInt16BE(0) : undefined, reason: close.payload.subarray(2).toString() };
}

// ---- RFC 6455 section 5.7 examples ----------------------------------------------------------

test('5.7: a single-frame unmasked text message reaches a client', (t) => {
  const { engine, events } = client();
  engine.receive(Uint8Array.of(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f));
  t.deepEqual(events, [['text', 'Hello']]);
});

test('5.7: a single-frame masked text message reaches a server', (t) => {
  const { engine, events } = server();
  engine.receive(Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58));
  t.deepEqual(events, [['text', 'Hello']]);
});

test('5.7: a fragmented unmasked text message is reassembled, frames reported first', (t) => {
  const { engine, events } = client({}, true);
  engine.receive(Uint8Array.of(0x01, 0x03, 0x48, 0x65, 0x6c));
  engine.receive(Uint8Array.of(0x80, 0x02, 0x6c, 0x6f));
  t.deepEqual(events, [['textFrame', 'Hel', false], ['textFrame', 'lo', true], ['text', 'Hello']]);
});

test('5.7: an unmasked ping is answered with a pong carrying its payload', (t) => {
  const { engine, events } = client();
  engine.receive(Uint8Array.of(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f));
  t.deepEqual(events, [['ping', Buffer.from('Hello').toString('hex')]]);
  const [pong] = decodeFrames(output(engine));
  t.like(pong, { opcode: OpCode.Pong, fin: true, masked: true });
  t.is(pong!.payload.toString(), 'Hello');
});

test('5.7: a masked pong reaches the server with its payload', (t) => {
  const { engine, events } = server();
  engine.receive(Uint8Array.of(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58));
  t.deepEqual(events, [['pong', Buffer.from('Hello').toString('hex')]]);
});

test('5.7: 256 bytes of binary data in a single unmasked frame', (t) => {
  const { engine, events } = client();
  const payload = Buffer.alloc(256, 0xab);
  engine.receive(Buffer.concat([Uint8Array.of(0x82, 0x7e, 0x01, 0x00), payload]));
  t.deepEqual(events, [['binary', payload.toString('hex')]]);
});

test('5.7: 64 KiB of binary data in a single unmasked frame', (t) => {
  const { engine, events } = client();
  const payload = Buffer.alloc(65536, 0x5a);
  engine.receive(Buffer.concat([Uint8Array.of(0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0), payload]));
  t.deepEqual(events, [['binary', payload.toString('hex')]]);
});

// ---- payload sizes on both sides of every length encoding -----------------------------------

for (const size of [0, 1, 125, 126, 127, 65535, 65536, 200_000]) {
  test(`a ${size}-byte binary message round-trips client → server and server → client`, (t) => {
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i++) payload[i] = (i * 31) & 0xff;
    const a = client();
    const b = server();
    t.is(a.engine.sendBinary(payload), size);
    b.engine.receive(output(a.engine));
    t.deepEqual(b.events, [['binary', payload.toString('hex')]]);
    t.is(b.engine.sendBinary(payload), size);
    a.engine.receive(output(b.engine));
    t.deepEqual(a.events, [['binary', payload.toString('hex')]]);
  });
}

test('every data and control opcode the RFC defines is accepted', (t) => {
  const { engine, events } = server();
  engine.receive(Buffer.concat([
    clientFrame({ opcode: OpCode.Text, payload: 'a' }),
    clientFrame({ opcode: OpCode.Binary, payload: 'b' }),
    clientFrame({ opcode: OpCode.Text, fin: false, payload: 'c' }),
    clientFrame({ opcode: OpCode.Continuation, payload: 'd' }),
    clientFrame({ opcode: OpCode.Ping, payload: 'e' }),
    clientFrame({ opcode: OpCode.Pong, payload: 'f' }),
    clientFrame({ opcode: OpCode.Close, payload: Buffer.from([0x03, 0xe8]) }),
  ]));
  t.deepEqual(events, [
    ['text', 'a'], ['binary', '62'], ['text', 'cd'], ['ping', '65'], ['pong', '66'], ['closed', 1000, '', true],
  ]);
});

for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
  test(`reserved opcode 0x${opcode.toString(16)} fails the connection with 1002`, (t) => {
    const { engine, events } = server();
    engine.receive(clientFrame({ opcode, payload: 'x' }));
    t.deepEqual(events, [['error', SocketError.ProtocolViolation, 1002], ['closed', 1002, `Reserved opcode 0x${opcode.toString(16)}`, false]]);
    t.is(closeFrameSent(engine)?.code, 1002);
  });
}

// ---- each invalid input with its close code --------------------------------------------------

const violations: Array<[string, Buffer, CloseCode, SocketError]> = [
  ['an unmasked client frame', rawFrame({ opcode: OpCode.Text, payload: 'hi' }), 1002, SocketError.ProtocolViolation],
  ['a fragmented ping', clientFrame({ opcode: OpCode.Ping, fin: false }), 1002, SocketError.ProtocolViolation],
  ['a 126-byte ping', clientFrame({ opcode: OpCode.Ping, payload: Buffer.alloc(126) }), 1002, SocketError.ProtocolViolation],
  ['a close with a 1-byte payload', clientFrame({ opcode: OpCode.Close, payload: Buffer.of(3) }), 1002, SocketError.ProtocolViolation],
  ['RSV1 without an extension', clientFrame({ opcode: OpCode.Text, rsv: 0x40, payload: 'x' }), 1002, SocketError.ProtocolViolation],
  ['RSV2 without an extension', clientFrame({ opcode: OpCode.Binary, rsv: 0x20 }), 1002, SocketError.ProtocolViolation],
  ['RSV3 without an extension', clientFrame({ opcode: OpCode.Binary, rsv: 0x10 }), 1002, SocketError.ProtocolViolation],
  ['RSV bits on a ping', clientFrame({ opcode: OpCode.Ping, rsv: 0x40 }), 1002, SocketError.ProtocolViolation],
  ['a continuation with nothing to continue', clientFrame({ opcode: OpCode.Continuation, payload: 'x' }), 1002, SocketError.ProtocolViolation],
  ['a new text frame inside a fragmented message', Buffer.concat([clientFrame({ opcode: OpCode.Text, fin: false, payload: 'a' }), clientFrame({ opcode: OpCode.Text, payload: 'b' })]), 1002, SocketError.ProtocolViolation],
  ['a new binary frame inside a fragmented message', Buffer.concat([clientFrame({ opcode: OpCode.Binary, fin: false }), clientFrame({ opcode: OpCode.Binary })]), 1002, SocketError.ProtocolViolation],
  ['a 64-bit length with the top bit set', clientFrame({ opcode: OpCode.Binary, declaredLength: 1n << 63n }), 1002, SocketError.ProtocolViolation],
  ['invalid UTF-8 in a text frame', clientFrame({ opcode: OpCode.Text, payload: Buffer.of(0xce, 0xba, 0xff) }), 1007, SocketError.InvalidUtf8],
  ['a truncated character at the end of a text message', clientFrame({ opcode: OpCode.Text, payload: Buffer.of(0x61, 0xe2, 0x82) }), 1007, SocketError.InvalidUtf8],
  ['a surrogate encoded in a text message', clientFrame({ opcode: OpCode.Text, payload: Buffer.of(0xed, 0xa0, 0x80) }), 1007, SocketError.InvalidUtf8],
  ['invalid UTF-8 in a close reason', clientFrame({ opcode: OpCode.Close, payload: Buffer.of(0x03, 0xe8, 0xff) }), 1007, SocketError.InvalidUtf8],
  ['a frame far beyond the frame limit', clientFrame({ opcode: OpCode.Binary, declaredLength: 2n ** 40n }), 1009, SocketError.FrameTooBig],
];

for (const [name, bytes, code, kind] of violations) {
  test(`${name} → ${code}`, (t) => {
    const { engine, events, handler } = server();
    engine.receive(bytes);
    t.is(engine.state, EngineState.Closed);
    t.is(handler.errors.length, 1);
    t.is(handler.errors[0]!.kind, kind);
    t.is(handler.errors[0]!.closeCode, code);
    t.is(engine.closeCode, code);
    t.is(closeFrameSent(engine)?.code, code);
    t.deepEqual(events.at(-1)?.slice(0, 2), ['closed', code]);
  });
}

test('a masked server frame fails a client with 1002', (t) => {
  const { engine, handler } = client();
  engine.receive(clientFrame({ opcode: OpCode.Text, payload: 'hi' }));
  t.is(handler.errors[0]?.closeCode, 1002);
  t.regex(handler.errors[0]!.message, /masked/);
});

// ---- the close-code table --------------------------------------------------------------------

const validCodes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
const invalidCodes = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];

for (const code of validCodes) {
  test(`received close code ${code} is valid and echoed`, (t) => {
    const { engine, events } = server();
    engine.receive(clientFrame({ opcode: OpCode.Close, payload: Buffer.concat([Buffer.of(code >> 8, code & 0xff), Buffer.from('why')]) }));
    t.deepEqual(events, [['closed', code, 'why', true]]);
    t.is(engine.closeCode, code);
    t.is(engine.closeReason, 'why');
    t.is(closeFrameSent(engine)?.code, code);
  });
}

for (const code of invalidCodes) {
  test(`received close code ${code} is invalid → 1002`, (t) => {
    const { engine, handler } = server();
    engine.receive(clientFrame({ opcode: OpCode.Close, payload: Buffer.of(code >> 8, code & 0xff) }));
    t.is(handler.errors[0]?.closeCode, 1002);
    t.is(closeFrameSent(engine)?.code, 1002);
  });
}

for (const code of [1004, 1006, 1015, 999, 5000, 2500]) {
  test(`close(${code}) is refused with InvalidArgumentError`, (t) => {
    const { engine } = server();
    t.throws(() => engine.close(code), { instanceOf: InvalidArgumentError });
    t.is(engine.state, EngineState.Open);
  });
}

test('a Close with no payload reads as 1005 and is answered with an empty Close', (t) => {
  const { engine, events } = server();
  engine.receive(clientFrame({ opcode: OpCode.Close }));
  t.deepEqual(events, [['closed', 1005, '', true]]);
  const [reply] = decodeFrames(output(engine));
  t.is(reply!.opcode, OpCode.Close);
  t.is(reply!.payload.length, 0);
});

test('close(1005) sends a Close with no code', (t) => {
  const { engine } = client();
  engine.close(CloseCode.MissingStatusCode);
  const [frame] = decodeFrames(output(engine));
  t.is(frame!.payload.length, 0);
});

// ---- the closing handshake -------------------------------------------------------------------

test('we close first: CloseSent, data still delivered, the peer reply completes it', (t) => {
  const { engine, events } = server();
  engine.close(4000, 'bye');
  t.is(engine.state, EngineState.CloseSent);
  t.deepEqual(closeFrameSent(engine), { code: 4000, reason: 'bye' });
  t.is(engine.sendText('late'), 0);
  engine.receive(Buffer.concat([clientFrame({ opcode: OpCode.Text, payload: 'in flight' }), clientFrame({ opcode: OpCode.Close, payload: Buffer.of(0x0f, 0xa0) })]));
  t.deepEqual(events, [['text', 'in flight'], ['closed', 4000, '', true]]);
  t.is(engine.state, EngineState.Closed);
  t.deepEqual(decodeFrames(output(engine)), []);
});

test('the peer closes first: the reply echoes its code, then nothing is processed', (t) => {
  const { engine, events } = client();
  engine.receive(Buffer.concat([rawFrame({ opcode: OpCode.Close, payload: Buffer.concat([Buffer.of(0x03, 0xe9), Buffer.from('going')]) }), rawFrame({ opcode: OpCode.Text, payload: 'after close' })]));
  t.deepEqual(events, [['closed', 1001, 'going', true]]);
  const frames = decodeFrames(output(engine));
  t.is(frames.length, 1);
  t.is(frames[0]!.payload.readUInt16BE(0), 1001);
  t.is(frames[0]!.payload.subarray(2).toString(), 'going');
  t.true(frames[0]!.masked);
  engine.receive(rawFrame({ opcode: OpCode.Text, payload: 'later still' }));
  t.is(events.length, 1);
});

test('a close reason longer than 123 bytes is cut at a character boundary', (t) => {
  const { engine } = client();
  const reason = 'é'.repeat(100); // 200 bytes of two-byte characters
  engine.close(1000, reason);
  const sent = closeFrameSent(engine)!;
  t.is(Buffer.byteLength(sent.reason), 122);
  t.is(sent.reason, 'é'.repeat(61));
  t.is(engine.closeReason, 'é'.repeat(61));
});

test('close after close is a no-op', (t) => {
  const { engine } = server();
  engine.close(1000);
  output(engine);
  engine.close(1001);
  t.deepEqual(decodeFrames(output(engine)), []);
  t.is(engine.closeCode, 1000);
});

test('a lost connection without a Close reports 1006 once', (t) => {
  const { engine, events } = server();
  engine.receive(clientFrame({ opcode: OpCode.Text, fin: false, payload: 'partial' }));
  engine.connectionLost();
  engine.connectionLost();
  t.deepEqual(events, [['closed', 1006, '', false]]);
  t.is(engine.closeCode, 1006);
});

test('a lost connection after the handshake completed changes nothing', (t) => {
  const { engine, events } = server();
  engine.receive(clientFrame({ opcode: OpCode.Close, payload: Buffer.of(0x03, 0xe8) }));
  engine.connectionLost();
  t.deepEqual(events, [['closed', 1000, '', true]]);
  t.is(engine.closeCode, 1000);
});

test('a lost connection while waiting for the peer Close is 1006', (t) => {
  const { engine, events } = server();
  engine.close(1000, 'bye');
  engine.connectionLost();
  t.deepEqual(events, [['closed', 1006, '', false]]);
});

test('a failed connection sends one Close and reports error then closed', (t) => {
  const { engine, events } = server();
  engine.receive(Buffer.concat([clientFrame({ opcode: 3 }), clientFrame({ opcode: OpCode.Text, payload: 'ignored' })]));
  t.is(events.length, 2);
  t.is(decodeFrames(output(engine)).filter((frame) => frame.opcode === OpCode.Close).length, 1);
});

// ---- fragmentation, control frames between fragments, UTF-8 across fragments ----------------

test('control frames between fragments are handled at once', (t) => {
  const { engine, events } = server({}, true);
  engine.receive(Buffer.concat([
    clientFrame({ opcode: OpCode.Binary, fin: false, payload: Buffer.of(1) }),
    clientFrame({ opcode: OpCode.Ping, payload: 'p' }),
    clientFrame({ opcode: OpCode.Continuation, fin: false, payload: Buffer.of(2) }),
    clientFrame({ opcode: OpCode.Pong, payload: 'q' }),
    clientFrame({ opcode: OpCode.Continuation, payload: Buffer.of(3) }),
  ]));
  t.deepEqual(events, [
    ['binaryFrame', '01', false], ['ping', '70'], ['binaryFrame', '02', false], ['pong', '71'], ['binaryFrame', '03', true], ['binary', '010203'],
  ]);
});

test('a character split across fragments is valid (Qt 6.4 rejects it)', (t) => {
  const { engine, events } = server({}, true);
  const euro = Buffer.from('€'); // e2 82 ac
  engine.receive(Buffer.concat([
    clientFrame({ opcode: OpCode.Text, fin: false, payload: euro.subarray(0, 1) }),
    clientFrame({ opcode: OpCode.Continuation, fin: false, payload: euro.subarray(1, 2) }),
    clientFrame({ opcode: OpCode.Continuation, payload: euro.subarray(2) }),
  ]));
  t.deepEqual(events, [['textFrame', '', false], ['textFrame', '', false], ['textFrame', '€', true], ['text', '€']]);
});

test('invalid UTF-8 fails fast in the first fragment, before the message ends', (t) => {
  const { engine, events } = server();
  engine.receive(clientFrame({ opcode: OpCode.Text, fin: false, payload: Buffer.of(0x61, 0xf4, 0x90) }));
  t.deepEqual(events[0], ['error', SocketError.InvalidUtf8, 1007]);
});

test('invalid UTF-8 fails fast inside a frame whose payload is still arriving', (t) => {
  const { engine, events } = server();
  const frame = clientFrame({ opcode: OpCode.Text, payload: Buffer.concat([Buffer.from('ok'), Buffer.of(0xc0), Buffer.alloc(100_000, 0x61)]) });
  engine.receive(frame.subarray(0, 20)); // header + 12 payload bytes, the bad byte among them
  t.deepEqual(events[0], ['error', SocketError.InvalidUtf8, 1007]);
});

test('a text message whose last fragment leaves a character incomplete → 1007', (t) => {
  const { engine, handler } = server();
  engine.receive(Buffer.concat([
    clientFrame({ opcode: OpCode.Text, fin: false, payload: 'a' }),
    clientFrame({ opcode: OpCode.Continuation, payload: Buffer.of(0xe2, 0x82) }),
  ]));
  t.is(handler.errors[0]?.closeCode, 1007);
});

test('empty fragments are legal', (t) => {
  const { engine, events } = server();
  engine.receive(Buffer.concat([
    clientFrame({ opcode: OpCode.Text, fin: false }),
    clientFrame({ opcode: OpCode.Continuation, fin: false }),
    clientFrame({ opcode: OpCode.Continuation }),
  ]));
  t.deepEqual(events, [['text', '']]);
});

// ---- limits ----------------------------------------------------------------------------------

test('frame limit: a frame over it fails with 1009 from the header alone', (t) => {
  const { engine, handler } = server({ maxAllowedIncomingFrameSize: 100 });
  const frame = clientFrame({ opcode: OpCode.Binary, payload: Buffer.alloc(101) });
  engine.receive(frame.subarray(0, 8)); // only the header
  t.is(handler.errors[0]?.kind, SocketError.FrameTooBig);
  t.is(handler.errors[0]?.closeCode, 1009);
});

test('frame limit: a frame at it is accepted', (t) => {
  const { engine, events } = server({ maxAllowedIncomingFrameSize: 100 });
  engine.receive(clientFrame({ opcode: OpCode.Binary, payload: Buffer.alloc(100) }));
  t.is(events[0]![0], 'binary');
});

test('message limit: checked from each fragment header before its payload is buffered', (t) => {
  const { engine, handler } = server({ maxAllowedIncomingMessageSize: 10 });
  engine.receive(clientFrame({ opcode: OpCode.Binary, fin: false, payload: Buffer.alloc(6) }));
  const second = clientFrame({ opcode: OpCode.Continuation, payload: Buffer.alloc(5) });
  engine.receive(second.subarray(0, 6));
  t.is(handler.errors[0]?.kind, SocketError.MessageTooBig);
  t.is(handler.errors[0]?.closeCode, 1009);
});

test('message limit over fragments: the bytes plus 128 per frame after the first, exactly at the limit is accepted', (t) => {
  const message = Buffer.concat([clientFrame({ opcode: OpCode.Binary, fin: false, payload: Buffer.alloc(6) }), clientFrame({ opcode: OpCode.Continuation, payload: Buffer.alloc(4) })]);
  const atLimit = server({ maxAllowedIncomingMessageSize: 6 + 4 + FragmentChargeBytes });
  atLimit.engine.receive(message);
  t.deepEqual(atLimit.events, [['binary', '00'.repeat(10)]]);
  const below = server({ maxAllowedIncomingMessageSize: 6 + 4 + FragmentChargeBytes - 1 });
  below.engine.receive(message);
  t.is(below.handler.errors[0]?.closeCode, 1009);
  t.regex(below.handler.errors[0]!.message, /frame 2; each frame after the first counts 128 bytes more/);
});

test('a 4 MiB message in 64-byte fragments (65,536 frames) passes at the default limit (ws refuses it)', (t) => {
  const { engine, events, handler } = server();
  const fragment = Buffer.alloc(64, 0x5a);
  const frames = [clientFrame({ opcode: OpCode.Binary, fin: false, payload: fragment })];
  const middle = clientFrame({ opcode: OpCode.Continuation, fin: false, payload: fragment });
  for (let i = 1; i < 65_535; i++) frames.push(middle);
  frames.push(clientFrame({ opcode: OpCode.Continuation, payload: fragment }));
  const wire = Buffer.concat(frames);
  for (let at = 0; at < wire.length; at += 64 * 1024) engine.receive(Buffer.from(wire.subarray(at, at + 64 * 1024)));
  t.deepEqual(handler.errors, []);
  t.is(events.length, 1);
  t.is((events[0]![1] as string).length, 2 * 4 * 1024 * 1024);
});

test('a million empty fragments close with 1009, and hold no memory meanwhile', (t) => {
  const { engine, handler } = server();
  const empty = clientFrame({ opcode: OpCode.Continuation, fin: false });
  const read = Buffer.concat(Array.from({ length: 10_000 }, () => empty));
  engine.receive(clientFrame({ opcode: OpCode.Text, fin: false, payload: 'a' }));
  let reads = 0;
  while (handler.errors.length === 0 && reads < 100) {
    engine.receive(Buffer.from(read));
    reads++;
  }
  t.is(handler.errors[0]?.closeCode, 1009);
  t.is(handler.errors[0]?.kind, SocketError.MessageTooBig);
  // 64 MiB / 128 bytes per frame: closed within the first 524,288 frames.
  t.true(reads * 10_000 <= 530_000 && reads * 10_000 >= 520_000, `${reads} reads of 10,000 frames`);
  t.is(engine.state, EngineState.Closed);
});

test('Pongs are bounded by the bytes not yet handed to the kernel; over the budget the newest is kept (RFC 6455 5.5.3)', (t) => {
  const name = (i: number) => `ping ${String(i).padStart(2, '0')}`;
  const ping = (i: number) => clientFrame({ opcode: OpCode.Ping, payload: name(i) });
  const burst = (from: number, count: number) => Buffer.concat(Array.from({ length: count }, (_, i) => ping(from + i)));
  // 50 pings in one read: every one answered, in order.
  const all = server();
  all.engine.receive(burst(0, 50));
  const pongs = decodeFrames(output(all.engine));
  t.deepEqual(pongs.map((frame) => frame.payload.toString()), Array.from({ length: 50 }, (_, i) => name(i)));
  // A budget of four pongs ("ping NN" pongs are 9 wire bytes each).
  const { engine, events } = server({ maxQueuedPongBytes: 36 });
  engine.receive(burst(0, 10));
  t.is(events.length, 10);
  t.deepEqual(decodeFrames(output(engine)).map((frame) => frame.payload.toString()), ['ping 08', 'ping 09'], 'over the budget: the older dropped, the newest kept');
  // Not drained yet: 18 of the 36 bytes are still with the transport.
  engine.receive(burst(10, 3));
  t.deepEqual(decodeFrames(output(engine)).map((frame) => frame.payload.toString()), ['ping 12']);
  engine.outputDrained();
  engine.receive(burst(20, 4));
  t.deepEqual(decodeFrames(output(engine)).map((frame) => frame.payload.toString()), ['ping 20', 'ping 21', 'ping 22', 'ping 23']);
  // A Close goes after the Pongs queued before it.
  engine.outputDrained();
  engine.receive(Buffer.concat([ping(30), clientFrame({ opcode: OpCode.Close, payload: Buffer.of(0x03, 0xe8) })]));
  t.deepEqual(decodeFrames(output(engine)).map((frame) => frame.opcode), [OpCode.Pong, OpCode.Close]);
});

test('a frame that declares 60 MiB and sends 1 KiB holds kilobytes, not 60 MiB', (t) => {
  const { engine, events } = server();
  const frame = clientFrame({ opcode: OpCode.Binary, payload: Buffer.alloc(60 * 1024 * 1024, 1) });
  const before = process.memoryUsage().arrayBuffers;
  engine.receive(frame.subarray(0, 14 + 1024));
  const held = process.memoryUsage().arrayBuffers - before;
  t.true(held < 1024 * 1024, `${held} bytes held`);
  for (let at = 14 + 1024; at < frame.length; at += 1024 * 1024) engine.receive(frame.subarray(at, at + 1024 * 1024));
  t.is(events.length, 1);
  t.is(events[0]![0], 'binary');
  t.is((events[0]![1] as string).length, 2 * 60 * 1024 * 1024);
});

for (const [name, value] of [['zero', 0], ['negative', -5], ['fractional', 1.5], ['NaN', Number.NaN], ['beyond 2 GiB', 2 ** 31]] as const) {
  test(`outgoingFrameSize ${name} is refused (Qt crashes on 0)`, (t) => {
    const { engine } = server();
    t.throws(() => { engine.outgoingFrameSize = value; }, { instanceOf: InvalidArgumentError });
    t.throws(() => new ProtocolEngine({ role: Role.Server, maxAllowedIncomingMessageSize: value }, recorder()), { instanceOf: InvalidArgumentError });
    t.is(engine.outgoingFrameSize, 512 * 1024);
  });
}

test('outgoing messages are split into frames of outgoingFrameSize', (t) => {
  const { engine } = server({ outgoingFrameSize: 4 });
  t.is(engine.sendText('abcdefghij'), 10);
  const frames = decodeFrames(output(engine));
  t.deepEqual(frames.map((f) => [f.fin, f.opcode, f.payload.toString()]), [[false, 1, 'abcd'], [false, 0, 'efgh'], [true, 0, 'ij']]);
  t.true(frames.every((f) => !f.masked && f.rsv === 0));
});

test('outgoing text is split between UTF-8 characters, so every frame is valid UTF-8 on its own (Qt 6.4 refuses a cut character)', (t) => {
  const text = 'aé€😀'.repeat(40);
  for (const frameSize of [1, 2, 3, 4, 5, 7, 64]) {
    const { engine } = server({ outgoingFrameSize: frameSize });
    engine.sendText(text);
    const frames = decodeFrames(output(engine));
    t.true(frames.length > 1);
    for (const frame of frames) {
      t.true(frame.payload.length <= Math.max(frameSize, 4), `frame of ${frame.payload.length} bytes at size ${frameSize}`);
      t.is(new TextDecoder('utf-8', { fatal: true }).decode(frame.payload).length > 0, true);
    }
    t.is(Buffer.concat(frames.map((frame) => frame.payload)).toString('utf8'), text);
  }
  // Binary is cut exactly at the frame size.
  const { engine } = server({ outgoingFrameSize: 3 });
  engine.sendBinary(Buffer.from('€€'));
  t.deepEqual(decodeFrames(output(engine)).map((frame) => frame.payload.length), [3, 3]);
  const { engine: cut } = server({ outgoingFrameSize: 2 });
  cut.sendBinary(Buffer.from('€'));
  t.deepEqual(decodeFrames(output(cut)).map((frame) => frame.payload.length), [2, 1]);
});

test('an empty message is one frame', (t) => {
  const { engine } = client();
  engine.sendText('');
  engine.sendBinary(new Uint8Array(0));
  t.deepEqual(decodeFrames(output(engine)).map((f) => [f.fin, f.opcode, f.payload.length, f.masked]), [[true, 1, 0, true], [true, 2, 0, true]]);
});

test('limits have getters and setters that take effect', (t) => {
  const { engine, handler } = server();
  engine.maxAllowedIncomingFrameSize = 3;
  t.is(engine.maxAllowedIncomingFrameSize, 3);
  engine.maxAllowedIncomingMessageSize = 1000;
  t.is(engine.maxAllowedIncomingMessageSize, 1000);
  engine.receive(clientFrame({ opcode: OpCode.Binary, payload: Buffer.alloc(4) }));
  t.is(handler.errors[0]?.kind, SocketError.FrameTooBig);
});

test('engines made with the same limits keep their own: a setter on one changes no other', (t) => {
  const first = server({ maxAllowedIncomingFrameSize: 100, idleTimeout: 1000 });
  const second = server({ maxAllowedIncomingFrameSize: 100, idleTimeout: 1000 });
  first.engine.maxAllowedIncomingFrameSize = 3;
  first.engine.setTimeout('idleTimeout', 20);
  t.deepEqual([second.engine.maxAllowedIncomingFrameSize, second.engine.timeout('idleTimeout')], [100, 1000]);
  second.engine.receive(clientFrame({ opcode: OpCode.Binary, payload: Buffer.alloc(4) }));
  first.engine.receive(clientFrame({ opcode: OpCode.Binary, payload: Buffer.alloc(4) }));
  t.deepEqual(second.events, [['binary', '00000000']], 'the other engine still takes 4 bytes');
  t.is(first.handler.errors[0]?.kind, SocketError.FrameTooBig);
  t.throws(() => server({ maxAllowedIncomingFrameSize: 0, idleTimeout: 1000 }), { name: 'InvalidArgumentError' }, 'a value unlike the last engine\'s is checked');
});

// ---- sending and masking ---------------------------------------------------------------------

test('client frames are masked with fresh keys from the generator; server frames are not', (t) => {
  const keys = [0x01020304, 0x0a0b0c0d];
  const { engine } = client({ maskGenerator: { nextMask: () => keys.shift() ?? 0x11111111 } });
  engine.sendText('Hello');
  engine.sendBinary(Buffer.from('Hello'));
  const bytes = output(engine);
  t.deepEqual([...bytes.subarray(2, 6)], [1, 2, 3, 4]);
  t.deepEqual([...bytes.subarray(13, 17)], [0x0a, 0x0b, 0x0c, 0x0d]);
  t.deepEqual(decodeFrames(bytes).map((f) => [f.masked, f.payload.toString()]), [[true, 'Hello'], [true, 'Hello']]);
  const s = server();
  s.engine.sendText('Hello');
  t.deepEqual([...output(s.engine)], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
});

test('the mask generator can be replaced and restored', (t) => {
  const { engine } = client();
  const custom = { nextMask: () => 0xdeadbeef };
  engine.maskGenerator = custom;
  t.is(engine.maskGenerator, custom);
  engine.maskGenerator = null;
  t.not(engine.maskGenerator, custom);
});

test('sendText returns UTF-8 payload bytes, not characters', (t) => {
  const { engine } = server();
  t.is(engine.sendText('héllo €'), 10);
});

test('a large text message is framed and decoded intact', (t) => {
  const text = 'ü€𝄞a'.repeat(50_000);
  const a = client();
  const b = server();
  a.engine.sendText(text);
  b.engine.receive(output(a.engine));
  t.deepEqual(b.events, [['text', text]]);
});

/** Whether one of `chunks` is `bytes` itself (the same memory), not a copy. */
function sendsInPlace(chunks: Uint8Array[], bytes: Uint8Array): boolean {
  return chunks.some((chunk) => chunk.buffer === bytes.buffer && chunk.byteOffset === bytes.byteOffset && chunk.length === bytes.length);
}

test('a large binary message is copied by default: the caller may reuse its buffer as soon as the send returns', (t) => {
  const { engine } = server();
  const data = Buffer.alloc(64 * 1024, 7);
  engine.sendBinary(data);
  data.fill(0);
  const chunks = engine.takeOutput();
  t.false(sendsInPlace(chunks, data));
  const [frame] = decodeFrames(Buffer.concat(chunks));
  t.true(frame!.payload.equals(Buffer.alloc(64 * 1024, 7)));
});

test('PayloadUse.Share: a large server frame goes out from the caller\'s bytes themselves, split into frames too; a small one is still copied', (t) => {
  const { engine } = server({ outgoingFrameSize: 40 * 1024 });
  const large = Buffer.from(Array.from({ length: 100 * 1024 }, (_, i) => i % 251));
  engine.sendBinary(large, true, PayloadUse.Share);
  const chunks = engine.takeOutput();
  t.true(sendsInPlace(chunks, large.subarray(0, 40 * 1024)), 'the first frame\'s payload is the caller\'s memory');
  const frames = decodeFrames(Buffer.concat(chunks));
  t.deepEqual(frames.map((frame) => [frame.opcode, frame.fin, frame.payload.length]), [[OpCode.Binary, false, 40 * 1024], [OpCode.Continuation, false, 40 * 1024], [OpCode.Continuation, true, 20 * 1024]]);
  t.true(Buffer.concat(frames.map((frame) => frame.payload)).equals(large));
  const small = Buffer.alloc(100, 3);
  engine.sendBinary(small, true, PayloadUse.Share);
  small.fill(0);
  t.true(decodeFrames(output(engine))[0]!.payload.equals(Buffer.alloc(100, 3)));
});

test('PayloadUse.Share on a client: the frame is masked in a copy, and the caller\'s bytes are left as they were', (t) => {
  const a = client();
  const b = server();
  const data = Buffer.alloc(64 * 1024, 9);
  a.engine.sendBinary(data, true, PayloadUse.Share);
  t.true(data.equals(Buffer.alloc(64 * 1024, 9)));
  b.engine.receive(output(a.engine));
  t.deepEqual(b.events, [['binary', '09'.repeat(64 * 1024)]]);
});

test('ping payloads are cut to 125 bytes and pong reports elapsed time from our ping', (t) => {
  let now = 1000;
  const { engine, handler } = server({ now: () => now });
  const elapsed: number[] = [];
  handler.pong = (ms) => elapsed.push(ms);
  engine.ping(Buffer.alloc(200, 1));
  const [ping] = decodeFrames(output(engine));
  t.is(ping!.opcode, OpCode.Ping);
  t.is(ping!.payload.length, 125);
  now = 1042;
  engine.receive(clientFrame({ opcode: OpCode.Pong }));
  t.deepEqual(elapsed, [42]);
});

test('output is coalesced: many small messages leave as one chunk', (t) => {
  const { engine } = server();
  for (let i = 0; i < 100; i++) engine.sendText(`message ${i}`);
  t.true(engine.outputLength > 0);
  const chunks = engine.takeOutput();
  t.is(chunks.length, 1);
  t.is(engine.outputLength, 0);
  t.is(decodeFrames(Buffer.concat(chunks)).length, 100);
});

test('bytes after the header of a frame that spans reads are not lost', (t) => {
  const { engine, events } = server();
  const bytes = Buffer.concat([clientFrame({ opcode: OpCode.Binary, payload: Buffer.alloc(300, 7) }), clientFrame({ opcode: OpCode.Text, payload: 'next' })]);
  for (let at = 0; at < bytes.length; at += 7) engine.receive(bytes.subarray(at, at + 7));
  t.deepEqual(events, [['binary', '07'.repeat(300)], ['text', 'next']]);
});

test('a handler may close from inside a message callback; later frames of the chunk are still data', (t) => {
  const handler = recorder();
  const engine = new ProtocolEngine({ role: Role.Server }, { ...handler, textMessage: (text) => { handler.textMessage(text); engine.close(1000, 'enough'); } });
  engine.receive(Buffer.concat([clientFrame({ opcode: OpCode.Text, payload: 'one' }), clientFrame({ opcode: OpCode.Text, payload: 'two' })]));
  t.deepEqual(handler.events, [['text', 'one'], ['text', 'two']]);
  t.is(engine.state, EngineState.CloseSent);
});

for (const [role, size] of [[Role.Server, 100], [Role.Server, 100_000], [Role.Client, 100], [Role.Client, 100_000]] as const) {
  test(`a ${role} may reuse its buffer once send returns (${size} bytes)`, (t) => {
    const engine = new ProtocolEngine({ role }, recorder());
    const buffer = Buffer.alloc(size, 1);
    engine.sendBinary(buffer);
    buffer.fill(2);
    engine.sendBinary(buffer);
    buffer.fill(3);
    const frames = decodeFrames(output(engine));
    t.deepEqual(frames.map((frame) => [frame.payload.length, frame.payload.every((b) => b === frame.payload[0]) ? frame.payload[0] : -1]), [[size, 1], [size, 2]]);
  });
}

test('RFC 6455 7.1.1: the engine tells a server, and never a client, to end the transport once closed', (t) => {
  const ours = server();
  t.false(ours.engine.endsTransport);
  ours.engine.close(1000, '');
  // Our Close alone is not the end: the peer's answer is.
  t.false(ours.engine.endsTransport);
  ours.engine.receive(clientFrame({ opcode: OpCode.Close, payload: Buffer.of(0x03, 0xe8) }));
  t.true(ours.engine.endsTransport);

  const failed = server();
  failed.engine.receive(clientFrame({ opcode: 3, payload: '' }));
  t.is(failed.engine.state, EngineState.Closed);
  t.true(failed.engine.endsTransport);

  const peer = client();
  peer.engine.receive(rawFrame({ opcode: OpCode.Close, payload: Buffer.of(0x03, 0xe8) }));
  t.is(peer.engine.state, EngineState.Closed);
  t.false(peer.engine.endsTransport);
});

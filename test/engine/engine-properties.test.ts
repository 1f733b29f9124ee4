import test from 'ava';
import fc from 'fast-check';
import { Buffer } from 'node:buffer';
import { isValidWireCloseCode } from '../../src/shared/engine/close-code.ts';
import { EngineState } from '../../src/shared/engine/engine-types.ts';
import { OpCode } from '../../src/shared/engine/opcode.ts';
import { ProtocolEngine } from '../../src/shared/engine/protocol-engine.ts';
import { Role } from '../../src/shared/engine/state.ts';
import { splitAt } from '../helpers/chunks.ts';
import { clientFrame, recorder, type RawFrame } from '../helpers/frames.ts';

/** Arbitrary frames a client might send, valid or not. */
const frameArbitrary: fc.Arbitrary<Omit<RawFrame, 'mask'>> = fc.record({
  fin: fc.boolean(),
  rsv: fc.constantFrom(0, 0, 0, 0x40),
  opcode: fc.constantFrom(0, 1, 1, 2, 2, 8, 9, 10, 3),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 30 }).map((s) => Buffer.from(s)),
    fc.uint8Array({ minLength: 126, maxLength: 300 }),
  ),
});

/** Splits `bytes` at cut points taken modulo its length + 1, so any natural number is a cut. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  return splitAt(bytes, cuts.map((c) => c % (bytes.length + 1)));
}

function run(chunks: Buffer[], role: 'server' | 'client' = 'server') {
  const handler = recorder({ frames: true });
  const engine = new ProtocolEngine({ role: role === 'server' ? Role.Server : Role.Client, maxAllowedIncomingMessageSize: 2000 }, handler);
  // Each run gets its own copy: the engine unmasks in place.
  for (const chunk of chunks) engine.receive(Buffer.from(chunk));
  return { events: handler.events, output: Buffer.concat(engine.takeOutput().map((c) => Buffer.from(c))), state: engine.state };
}

test('any split of a frame stream gives exactly the events of the unsplit stream', (t) => {
  fc.assert(
    fc.property(fc.array(frameArbitrary, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (frames, cuts) => {
      const stream = Buffer.concat(frames.map((frame) => clientFrame(frame)));
      const whole = run([stream]);
      const pieces = run(split(stream, cuts));
      t.deepEqual(pieces.events, whole.events);
      return true;
    }),
    { numRuns: 400 },
  );
});

test('a stream fed one byte at a time gives the events of the unsplit stream', (t) => {
  fc.assert(
    fc.property(fc.array(frameArbitrary, { maxLength: 6 }), (frames) => {
      const stream = Buffer.concat(frames.map((frame) => clientFrame(frame)));
      const bytes = [...stream].map((b) => Buffer.of(b));
      t.deepEqual(run(bytes).events, run([stream]).events);
      return true;
    }),
    { numRuns: 100 },
  );
});

test('random bytes never throw out of the engine; a failure always ends in one close with a valid code', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 10 }), fc.constantFrom<'server' | 'client'>('server', 'client'), (bytes, cuts, role) => {
      const result = run(split(Buffer.from(bytes), cuts), role);
      const closes = result.events.filter((event) => event[0] === 'closed');
      t.true(closes.length <= 1);
      for (const event of result.events) {
        if (event[0] === 'error') t.true(event[2] !== undefined && isValidWireCloseCode(event[2]));
      }
      if (result.events.some((event) => event[0] === 'error')) t.is(result.state, EngineState.Closed);
      return true;
    }),
    { numRuns: 1000 },
  );
});

test('whatever text is sent arrives equal, for any outgoing frame size', (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.integer({ min: 1, max: 64 }), (text, frameSize) => {
      const receiver = recorder();
      const sender = new ProtocolEngine({ role: Role.Client, outgoingFrameSize: frameSize }, recorder());
      const engine = new ProtocolEngine({ role: Role.Server }, receiver);
      sender.sendText(text);
      for (const chunk of sender.takeOutput()) engine.receive(chunk);
      t.deepEqual(receiver.events, [['text', text]]);
      return true;
    }),
    { numRuns: 300 },
  );
});

test('a message of valid frames split anywhere never produces an error', (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 50 }), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (parts, cuts) => {
      const frames = parts.map((payload, index) =>
        clientFrame({ opcode: index === 0 ? OpCode.Binary : OpCode.Continuation, fin: index === parts.length - 1, payload }));
      const result = run(split(Buffer.concat(frames), cuts));
      t.deepEqual(result.events.filter((e) => e[0] === 'binary'), [['binary', Buffer.concat(parts).toString('hex')]]);
      return true;
    }),
    { numRuns: 200 },
  );
});

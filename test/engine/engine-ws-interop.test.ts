/**
 * The engine against ws's own frame code (an independent implementation of RFC 6455): what ws's
 * Sender writes, our engine reads; what our engine writes, ws's Receiver reads.
 */
import test from 'ava';
import fc from 'fast-check';
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import { OpCode } from '../../src/shared/engine/opcode.ts';
import { ProtocolEngine } from '../../src/shared/engine/protocol-engine.ts';
import { Role } from '../../src/shared/engine/state.ts';
import { recorder } from '../helpers/frames.ts';

const require = createRequire(import.meta.url);
interface WsReceiver {
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'conclude', listener: (code: number, reason: Buffer) => void): void;
  on(event: 'ping' | 'pong', listener: (data: Buffer) => void): void;
  on(event: 'error', listener: (error: Error & { code: string }) => void): void;
  write(chunk: Buffer): boolean;
}
const { Receiver, Sender } = require('ws') as {
  Receiver: new (options: { isServer: boolean; maxPayload?: number }) => WsReceiver;
  Sender: { frame(data: Buffer | string, options: { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean }): Buffer[] };
};

type Message = { text: string } | { binary: Uint8Array };
const messageArbitrary: fc.Arbitrary<Message> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 300 }).map((text) => ({ text })),
  fc.uint8Array({ maxLength: 70_000 }).map((binary) => ({ binary })),
);

test("ws's Sender (client, masked) → our server engine, any messages and frame sizes", (t) => {
  fc.assert(
    fc.property(fc.array(messageArbitrary, { maxLength: 8 }), fc.integer({ min: 1, max: 70_000 }), (messages, frameSize) => {
      const handler = recorder();
      const engine = new ProtocolEngine({ role: Role.Server }, handler);
      const expected: unknown[] = [];
      for (const message of messages) {
        const data = 'text' in message ? Buffer.from(message.text) : Buffer.from(message.binary);
        const opcode = 'text' in message ? OpCode.Text : OpCode.Binary;
        // ws frames one message at a time; fragment it ourselves with its frame() primitive.
        for (let at = 0; at === 0 || at < data.length; at += frameSize) {
          const end = Math.min(at + frameSize, data.length);
          for (const chunk of Sender.frame(data.subarray(at, end), { fin: end === data.length, rsv1: false, opcode: at === 0 ? opcode : 0, mask: true, readOnly: true })) engine.receive(Buffer.from(chunk));
        }
        expected.push('text' in message ? ['text', message.text] : ['binary', data.toString('hex')]);
      }
      t.deepEqual(handler.events, expected);
      return true;
    }),
    { numRuns: 60 },
  );
});

test("our client engine → ws's Receiver (server), any messages and frame sizes", async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(messageArbitrary, { maxLength: 8 }), fc.integer({ min: 1, max: 70_000 }), async (messages, frameSize) => {
      const engine = new ProtocolEngine({ role: Role.Client, outgoingFrameSize: frameSize }, recorder());
      const receiver = new Receiver({ isServer: true, maxPayload: 0 });
      const received: unknown[] = [];
      receiver.on('message', (data, isBinary) => received.push(isBinary ? ['binary', data.toString('hex')] : ['text', data.toString()]));
      receiver.on('error', (error) => received.push(['error', error.code]));
      for (const message of messages) {
        if ('text' in message) engine.sendText(message.text);
        else engine.sendBinary(message.binary);
      }
      for (const chunk of engine.takeOutput()) receiver.write(Buffer.from(chunk));
      t.deepEqual(received, messages.map((m) => ('text' in m ? ['text', m.text] : ['binary', Buffer.from(m.binary).toString('hex')])));
    }),
    { numRuns: 60 },
  );
});

test("ws's Receiver reads our pings, pongs and close with code and reason", (t) => {
  const engine = new ProtocolEngine({ role: Role.Client }, recorder());
  const receiver = new Receiver({ isServer: true });
  const seen: unknown[] = [];
  receiver.on('ping', (data) => seen.push(['ping', data.toString()]));
  receiver.on('conclude', (code, reason) => seen.push(['close', code, reason.toString()]));
  engine.ping(Buffer.from('are you there'));
  engine.close(4321, 'done here');
  for (const chunk of engine.takeOutput()) receiver.write(Buffer.from(chunk));
  t.deepEqual(seen, [['ping', 'are you there'], ['close', 4321, 'done here']]);
});

test("ws's server Close, ping and fragmented text reach our client engine", (t) => {
  const handler = recorder({ frames: true });
  const engine = new ProtocolEngine({ role: Role.Client }, handler);
  const frame = (data: Buffer | string, opcode: number, fin = true) => Buffer.concat(Sender.frame(data, { fin, rsv1: false, opcode, mask: false, readOnly: true }));
  engine.receive(Buffer.concat([
    frame('ré', OpCode.Text, false),
    frame('sumé', OpCode.Continuation),
    frame('beat', OpCode.Ping),
    frame(Buffer.concat([Buffer.of(0x03, 0xe8), Buffer.from('bye')]), OpCode.Close),
  ]));
  t.deepEqual(handler.events, [
    ['textFrame', 'ré', false], ['textFrame', 'sumé', true], ['text', 'résumé'], ['ping', Buffer.from('beat').toString('hex')], ['closed', 1000, 'bye', true],
  ]);
});

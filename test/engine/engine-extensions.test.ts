import test from 'ava';
import { Buffer } from 'node:buffer';
import { CloseCode } from '../../src/shared/engine/close-code.ts';
import { SocketError, WebSocketError } from '../../src/shared/engine/errors.ts';
import type { Extension } from '../../src/shared/engine/extension.ts';
import { OpCode } from '../../src/shared/engine/opcode.ts';
import { ProtocolEngine } from '../../src/shared/engine/protocol-engine.ts';
import { Role } from '../../src/shared/engine/state.ts';
import { clientFrame, decodeFrames, output, recorder } from '../helpers/frames.ts';

/** A toy extension that claims RSV1 and reverses payloads: enough to see the engine's plumbing. */
function reversing(): Extension & { decoded: number } {
  return {
    name: 'x-reverse',
    rsvBits: 0x40,
    decoded: 0,
    decodeMessage(payload) {
      this.decoded++;
      if (payload.length > 0 && payload[0] === 0xff) throw new WebSocketError(SocketError.MessageTooBig, 'expands too far', CloseCode.TooMuchData);
      return Buffer.from(payload).reverse();
    },
    encodeMessage(payload) {
      return { payload: Buffer.from(payload).reverse(), rsv: 0x40 };
    },
  };
}

test('RSV1 is legal once an extension claims it, and the message is decoded by it', (t) => {
  const extension = reversing();
  const handler = recorder();
  const engine = new ProtocolEngine({ role: Role.Server, extensions: [extension] }, handler);
  engine.receive(clientFrame({ opcode: OpCode.Text, rsv: 0x40, payload: 'olleh' }));
  engine.receive(clientFrame({ opcode: OpCode.Text, payload: 'plain' }));
  t.deepEqual(handler.events, [['text', 'hello'], ['text', 'plain']]);
  t.is(extension.decoded, 1);
});

test('RSV bits the extension does not claim are still refused', (t) => {
  const handler = recorder();
  const engine = new ProtocolEngine({ role: Role.Server, extensions: [reversing()] }, handler);
  engine.receive(clientFrame({ opcode: OpCode.Text, rsv: 0x20, payload: 'x' }));
  t.is(handler.errors[0]?.closeCode, 1002);
});

test('a compressed message split in fragments is decoded whole; RSV1 on a continuation is refused', (t) => {
  const handler = recorder({ frames: true });
  const engine = new ProtocolEngine({ role: Role.Server, extensions: [reversing()] }, handler);
  engine.receive(Buffer.concat([
    clientFrame({ opcode: OpCode.Binary, rsv: 0x40, fin: false, payload: Buffer.of(3, 2) }),
    clientFrame({ opcode: OpCode.Continuation, payload: Buffer.of(1) }),
  ]));
  t.deepEqual(handler.events, [['binaryFrame', '010203', true], ['binary', '010203']]);
  engine.receive(Buffer.concat([
    clientFrame({ opcode: OpCode.Binary, rsv: 0x40, fin: false, payload: Buffer.of(1) }),
    clientFrame({ opcode: OpCode.Continuation, rsv: 0x40, payload: Buffer.of(2) }),
  ]));
  t.is(handler.errors[0]?.closeCode, 1002);
});

test('an extension error closes with the code it carries', (t) => {
  const handler = recorder();
  const engine = new ProtocolEngine({ role: Role.Server, extensions: [reversing()] }, handler);
  engine.receive(clientFrame({ opcode: OpCode.Binary, rsv: 0x40, payload: Buffer.of(0xff, 1) }));
  t.is(handler.errors[0]?.kind, SocketError.MessageTooBig);
  t.is(handler.errors[0]?.closeCode, 1009);
});

test('decoded text is validated as UTF-8 after the extension', (t) => {
  const handler = recorder();
  const engine = new ProtocolEngine({ role: Role.Server, extensions: [reversing()] }, handler);
  engine.receive(clientFrame({ opcode: OpCode.Text, rsv: 0x40, payload: Buffer.of(0x82, 0xe2) }));
  t.is(handler.errors[0]?.closeCode, 1007);
});

test('outgoing messages go through the extension and carry its RSV bit on the first frame only', (t) => {
  const engine = new ProtocolEngine({ role: Role.Server, extensions: [reversing()], outgoingFrameSize: 2 }, recorder());
  t.is(engine.sendText('abc'), 3);
  const frames = decodeFrames(output(engine));
  t.deepEqual(frames.map((f) => [f.rsv, f.opcode, f.payload.toString()]), [[0x40, 1, 'cb'], [0, 0, 'a']]);
});

/**
 * The RFC corners where transports used to disagree, over real sockets: a valid message followed
 * in the same read by a protocol error is answered before the Close in every transport (owner-side
 * listeners included), frame signals attached in `newConnection` see the first frames in pool
 * mode too, and a burst of Pings in one read is answered to the last.
 */
import { Buffer } from 'node:buffer';
import type net from 'node:net';
import { OpCode } from '../../src/shared/engine/opcode.ts';
import { CloseCode } from '../../src/index.ts';
import { clientFrame, decodeFrames } from '../helpers/frames.ts';
import { bothTransports, connect, echoEveryConnection, framesUntilClosed, rawUpgrade, startServer, upgradeRequest, within } from './support.ts';

const violations = [
  ['a reserved opcode', clientFrame({ opcode: 0x3, payload: 'x' })],
  ['an RSV bit', clientFrame({ opcode: OpCode.Text, rsv: 0x40, payload: 'x' })],
  ['a stray continuation', clientFrame({ opcode: OpCode.Continuation, payload: 'x' })],
] as const;

for (const [name, violation] of violations) {
  bothTransports(`a message then ${name} in the same read: the echo goes out before the 1002 (owner-side listener)`, async (t, workers) => {
    const server = await startServer(t, workers);
    echoEveryConnection(server);
    const { socket } = await rawUpgrade(t, server.serverPort(), upgradeRequest(server.serverPort()));
    const frames = framesUntilClosed(socket);
    socket.write(Buffer.concat([clientFrame({ opcode: OpCode.Text, payload: 'answer me first' }), violation]));
    const received = await frames;
    t.deepEqual(received.map((frame) => [frame.opcode, frame.opcode === OpCode.Close ? frame.payload.readUInt16BE(0) : frame.payload.toString()]),
      [[OpCode.Text, 'answer me first'], [OpCode.Close, CloseCode.ProtocolError]]);
  });
}

bothTransports('frame signals attached in newConnection see every frame of a message sent right after the open (6 runs)', async (t, workers) => {
  const server = await startServer(t, workers);
  const frames: Array<Array<[string, boolean]>> = [];
  server.on('newConnection', () => {
    const socket = server.nextPendingConnection()!;
    const seen: Array<[string, boolean]> = [];
    frames.push(seen);
    socket.on('textFrameReceived', (frame, isLast) => {
      seen.push([frame, isLast]);
      if (isLast) socket.sendTextMessage('frames seen');
    });
  });
  for (let run = 0; run < 6; run++) {
    const { socket } = await rawUpgrade(t, server.serverPort(), upgradeRequest(server.serverPort()));
    const reply = within(new Promise<void>((resolve) => socket.on('data', () => resolve())), 5000, 'the reply');
    socket.write(Buffer.concat([
      clientFrame({ opcode: OpCode.Text, fin: false, payload: 'one ' }),
      clientFrame({ opcode: OpCode.Continuation, fin: false, payload: 'two ' }),
      clientFrame({ opcode: OpCode.Continuation, payload: 'three' }),
    ]));
    await reply.catch((e) => { throw new Error(`${e.message} ${JSON.stringify(frames)} run ${run}`); });
    t.deepEqual(frames[run], [['one ', false], ['two ', false], ['three', true]], `run ${run}`);
    socket.destroy();
  }
});

bothTransports('50 Pings in one write get 50 Pongs, the last one "ping 49"', async (t, workers) => {
  const server = await startServer(t, workers);
  echoEveryConnection(server);
  const { socket } = await rawUpgrade(t, server.serverPort(), upgradeRequest(server.serverPort()));
  const frames = framesUntilClosed(socket);
  socket.write(Buffer.concat([
    ...Array.from({ length: 50 }, (_, i) => clientFrame({ opcode: OpCode.Ping, payload: `ping ${i}` })),
    clientFrame({ opcode: OpCode.Close, payload: Buffer.of(0x03, 0xe8) }),
  ]));
  const pongs = (await frames).filter((frame) => frame.opcode === OpCode.Pong).map((frame) => frame.payload.toString());
  t.is(pongs.length, 50);
  t.is(pongs.at(-1), 'ping 49');
});

bothTransports('text over outgoingFrameSize reaches a peer split at character boundaries only', async (t, workers) => {
  const server = await startServer(t, workers, { outgoingFrameSize: 5 });
  echoEveryConnection(server);
  const client = await connect(t, server.serverUrl());
  const raw = (client as unknown as { _socket: net.Socket })._socket;
  const wire: Buffer[] = [];
  raw.prependListener('data', (chunk: Buffer) => wire.push(Buffer.from(chunk)));
  const text = '€😀é'.repeat(50);
  const echoed = within(new Promise<string>((resolve) => client.once('message', (data) => resolve(String(data)))), 5000, 'the echo');
  client.send(text);
  t.is(await echoed, text);
  const frames = decodeFrames(Buffer.concat(wire));
  t.true(frames.length > 10);
  for (const frame of frames) t.notThrows(() => new TextDecoder('utf-8', { fatal: true }).decode(frame.payload));
});

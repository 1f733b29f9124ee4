import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import test from 'ava';
import type { WebSocket as WsSocket } from 'ws';
import { InvalidArgumentError, State, WebSocket } from '../../src/index.ts';
import { next, parseFrames, serverFrame, startRawServer, startRecordingServer, startWsServer, switchingProtocols, until, within } from './support.ts';

const MiB = 1024 * 1024;
const Sizes = [0, 1, 125, 126, 65_535, 65_536, 1 * MiB, 16 * MiB];

/** A ws server and one client connected to it, with the server-side ws socket. */
async function connectedPair(t: import('ava').ExecutionContext, configure: (socket: WebSocket) => void = () => {}) {
  const peer = await startWsServer({ maxPayload: 64 * MiB });
  t.teardown(() => peer.close());
  const socket = new WebSocket({ maxAllowedIncomingMessageSize: 64 * MiB, maxAllowedIncomingFrameSize: 64 * MiB });
  configure(socket);
  const arrived = next<[WsSocket]>(peer.wss, 'connection');
  await within(socket.open(`${peer.url}/`), 5000, 'the opening');
  const [server] = await arrived;
  t.teardown(() => socket.abort());
  return { peer, socket, server };
}

/** Text whose UTF-8 form is exactly `bytes` long, with multi-byte characters in it. */
function textOfBytes(bytes: number): string {
  const unit = 'aé€😀'; // 1 + 2 + 3 + 4 bytes
  let text = unit.repeat(Math.floor(bytes / 10));
  text += 'x'.repeat(bytes - Buffer.byteLength(text));
  return text;
}

test('messages of 0 B to 16 MiB go both ways intact, text and binary', async (t) => {
  t.timeout(60_000);
  const { socket, server } = await connectedPair(t);
  for (const size of Sizes) {
    const binary = randomBytes(size);
    const text = textOfBytes(size);

    const atServer = next<[Buffer, boolean]>(server, 'message', 20_000);
    t.is(socket.sendBinaryMessage(binary), size);
    const [receivedBinary, isBinary] = await atServer;
    t.true(isBinary);
    t.true(Buffer.compare(receivedBinary, binary) === 0, `binary of ${size} bytes to the server`);

    const atServerText = next<[Buffer, boolean]>(server, 'message', 20_000);
    t.is(socket.sendTextMessage(text), Buffer.byteLength(text));
    const [receivedText, isBinaryText] = await atServerText;
    t.false(isBinaryText);
    t.is(receivedText.toString('utf8'), text, `text of ${size} bytes to the server`);

    const atClient = next<[Buffer]>(socket, 'binaryMessageReceived', 20_000);
    server.send(binary, { binary: true });
    const [clientBinary] = await atClient;
    t.true(Buffer.isBuffer(clientBinary));
    t.true(Buffer.compare(clientBinary, binary) === 0, `binary of ${size} bytes from the server`);

    const atClientText = next<[string]>(socket, 'textMessageReceived', 20_000);
    server.send(text, { binary: false });
    t.is((await atClientText)[0], text, `text of ${size} bytes from the server`);
  }
});

test('outgoingFrameSize splits messages into frames of that size', async (t) => {
  const server = await startRecordingServer();
  t.teardown(() => server.close());
  const socket = new WebSocket();
  socket.setOutgoingFrameSize(100);
  await within(socket.open(server.url), 5000, 'the opening');
  const text = textOfBytes(250);
  const binary = randomBytes(200);
  t.is(socket.sendTextMessage(text), 250);
  t.is(socket.sendBinaryMessage(binary), 200);
  t.is(socket.sendTextMessage(''), 0);
  await socket.flush();
  await until(() => parseFrames(server.wire()).length === 6, 5000, 'six frames have arrived');
  const frames = parseFrames(server.wire());
  t.deepEqual(frames.map((frame) => [frame.opcode, frame.fin, frame.payload.length, frame.masked]), [
    [1, false, 100, true], [0, false, 100, true], [0, true, 50, true],
    [2, false, 100, true], [0, true, 100, true],
    [1, true, 0, true],
  ]);
  t.is(Buffer.concat(frames.slice(0, 3).map((frame) => frame.payload)).toString('utf8'), text);
  t.true(Buffer.concat(frames.slice(3, 5).map((frame) => frame.payload)).equals(binary));
  socket.abort();
});

test('a ws server reassembles what a small outgoingFrameSize fragmented', async (t) => {
  const { socket, server } = await connectedPair(t, (s) => s.setOutgoingFrameSize(7));
  const payload = randomBytes(1000);
  const arrived = next<[Buffer, boolean]>(server, 'message');
  socket.sendBinaryMessage(payload);
  t.true((await arrived)[0].equals(payload));
});

test('frame signals report each fragment of a fragmented message, and only while listened to', async (t) => {
  const { socket, server } = await connectedPair(t);
  const frames: Array<[string, boolean]> = [];
  const onFrame = (frame: string, isLast: boolean): void => {
    frames.push([frame, isLast]);
  };
  socket.on('textFrameReceived', onFrame);
  const binaryFrames: Array<[string, boolean]> = [];
  socket.on('binaryFrameReceived', (frame, isLast) => binaryFrames.push([frame.toString('hex'), isLast]));
  const message = next<[string]>(socket, 'textMessageReceived');
  server.send('hé', { fin: false });
  server.send('llo', { fin: false });
  server.send('!', { fin: true });
  t.is((await message)[0], 'héllo!');
  t.deepEqual(frames, [['hé', false], ['llo', false], ['!', true]]);

  const binary = next<[Buffer]>(socket, 'binaryMessageReceived');
  server.send(Buffer.from([1, 2]), { binary: true, fin: false });
  server.send(Buffer.from([3]), { binary: true, fin: true });
  t.deepEqual([...(await binary)[0]], [1, 2, 3]);
  t.deepEqual(binaryFrames, [['0102', false], ['03', true]]);

  socket.off('textFrameReceived', onFrame);
  const again = next<[string]>(socket, 'textMessageReceived');
  server.send('a', { fin: false });
  server.send('b', { fin: true });
  t.is((await again)[0], 'ab');
  t.is(frames.length, 3);
});

test('ping is answered with pong carrying the payload; the server pinging gets a pong', async (t) => {
  const { socket, server } = await connectedPair(t);
  const pong = next<[number, Buffer]>(socket, 'pong');
  const pingedAt = performance.now();
  socket.ping(Buffer.from('are you there'));
  const [elapsed, payload] = await pong;
  const waited = performance.now() - pingedAt;
  t.is(payload.toString(), 'are you there');
  t.true(elapsed > 0 && elapsed <= waited + 1, `elapsed ${elapsed} ms, waited ${waited} ms`);

  const serverPong = next<[Buffer]>(server, 'pong');
  server.ping(Buffer.from('and you?'));
  t.is((await serverPong)[0].toString(), 'and you?');
});

test('ping payloads are cut to 125 bytes', async (t) => {
  const { socket } = await connectedPair(t);
  const pong = next<[number, Buffer]>(socket, 'pong');
  socket.ping(Buffer.alloc(300, 7));
  t.is((await pong)[1].length, 125);
});

test('bytesWritten counts wire bytes; bytesToWrite drops to 0 after flush()', async (t) => {
  const { socket, server } = await connectedPair(t);
  let written = 0;
  socket.on('bytesWritten', (bytes) => {
    written += bytes;
  });
  const received = next(server, 'message');
  t.is(socket.sendTextMessage('hello'), 5);
  // Queued, not yet written: payload + 2 header bytes + 4 mask bytes.
  t.is(socket.bytesToWrite(), 11);
  await socket.flush();
  await received;
  await until(() => written === 11, 5000, 'bytesWritten reports 11 bytes');
  t.is(socket.bytesToWrite(), 0);
});

test('sends return 0 unless Connected', async (t) => {
  const socket = new WebSocket();
  t.is(socket.sendTextMessage('x'), 0);
  t.is(socket.sendBinaryMessage(Buffer.from('x')), 0);
  const peer = await startWsServer();
  t.teardown(() => peer.close());
  const opening = socket.open(peer.url);
  t.is(socket.state(), State.Connecting);
  t.is(socket.sendTextMessage('x'), 0);
  await within(opening, 5000, 'the opening');
  t.is(socket.sendTextMessage('x'), 1);
  socket.close();
  t.is(socket.state(), State.Closing);
  t.is(socket.sendTextMessage('x'), 0);
  await next(socket, 'disconnected');
});

test('a message over maxAllowedIncomingMessageSize closes with 1009', async (t) => {
  const { socket, server } = await connectedPair(t, (s) => s.setMaxAllowedIncomingMessageSize(1000));
  const error = next<[import('../../src/index.ts').WebSocketError]>(socket, 'errorOccurred');
  const serverClosed = next<[number, Buffer]>(server, 'close');
  server.send(Buffer.alloc(1001));
  t.is((await error)[0].kind, 'MessageTooBig');
  await next(socket, 'disconnected');
  t.is(socket.closeCode(), 1009);
  t.is((await serverClosed)[0], 1009);
});

test('limit setters reject sizes out of range and apply to an open connection', async (t) => {
  const { socket, server } = await connectedPair(t);
  for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 31]) {
    t.throws(() => socket.setMaxAllowedIncomingFrameSize(bad), { instanceOf: InvalidArgumentError });
    t.throws(() => socket.setMaxAllowedIncomingMessageSize(bad), { instanceOf: InvalidArgumentError });
    t.throws(() => socket.setOutgoingFrameSize(bad), { instanceOf: InvalidArgumentError });
  }
  socket.setMaxAllowedIncomingFrameSize(10);
  t.is(socket.maxAllowedIncomingFrameSize(), 10);
  const error = next<[import('../../src/index.ts').WebSocketError]>(socket, 'errorOccurred');
  server.send(Buffer.alloc(11));
  t.is((await error)[0].kind, 'FrameTooBig');
});

test('frames that arrive with the 101 response are delivered', async (t) => {
  const server = await startRawServer((raw, request) => {
    raw.resume();
    raw.write(Buffer.concat([Buffer.from(switchingProtocols(request)), serverFrame(1, 'first'), serverFrame(2, Buffer.from([9]))]));
  });
  t.teardown(() => server.close());
  const socket = new WebSocket();
  const messages: unknown[] = [];
  socket.on('textMessageReceived', (text) => messages.push(text));
  const binary = next<[Buffer]>(socket, 'binaryMessageReceived');
  socket.on('binaryMessageReceived', (data) => messages.push([...data]));
  await within(socket.open(server.url), 5000, 'the opening');
  await binary;
  t.deepEqual(messages, ['first', [9]]);
  socket.abort();
});

test('setMaskGenerator decides the masking keys', async (t) => {
  const server = await startRecordingServer();
  t.teardown(() => server.close());
  const socket = new WebSocket();
  await within(socket.open(server.url), 5000, 'the opening');
  socket.setMaskGenerator({ nextMask: () => 0x01020304 });
  socket.sendTextMessage('abcd');
  await socket.flush();
  await until(() => server.wire().length >= 10, 5000, 'the frame to arrive');
  t.deepEqual([...server.wire().subarray(2, 6)], [1, 2, 3, 4]);
  t.deepEqual([...server.wire().subarray(6, 10)], [0x61 ^ 1, 0x62 ^ 2, 0x63 ^ 3, 0x64 ^ 4]);
  socket.setMaskGenerator(null);
  t.false(socket.hasCustomMaskGenerator());
  socket.abort();
});

/**
 * The WebSocket class against a recording SocketBackend: the contract a backend (such as the
 * server's worker mirror) relies on, and the argument checks of the public API.
 */
import { Buffer } from 'node:buffer';
import type { EventEmitter } from 'node:events';
import test from 'ava';
import { CloseCode, InvalidArgumentError, SocketError, State, WebSocket, WebSocketError, type ConnectionInfo, type SocketBackend, type SocketSink } from '../../src/index.ts';
import { next, within } from '../client/support.ts';

class RecordingBackend implements SocketBackend {
  calls: unknown[][] = [];
  sink: SocketSink | undefined;
  queued = 0;
  attach(sink: SocketSink): void {
    this.sink = sink;
    this.calls.push(['attach']);
  }
  sendText(text: string): number {
    this.calls.push(['sendText', text]);
    return Buffer.byteLength(text);
  }
  sendBinary(data: Uint8Array): number {
    this.calls.push(['sendBinary', [...data]]);
    return data.length;
  }
  ping(payload: Uint8Array): void {
    this.calls.push(['ping', Buffer.from(payload).toString()]);
  }
  close(code: number, reason: string): void {
    this.calls.push(['close', code, reason]);
  }
  abort(): void {
    this.calls.push(['abort']);
  }
  flush(): Promise<void> {
    this.calls.push(['flush']);
    return Promise.resolve();
  }
  pause(): void {
    this.calls.push(['pause']);
  }
  resume(): void {
    this.calls.push(['resume']);
  }
  setLimit(name: string, value: number): void {
    this.calls.push(['setLimit', name, value]);
  }
  setLivenessTimeout(name: string, ms: number): void {
    this.calls.push(['setLivenessTimeout', name, ms]);
  }
  bytesToWrite(): number {
    return this.queued;
  }
  setFrameSignals(enabled: boolean): void {
    this.calls.push(['setFrameSignals', enabled]);
  }
  setOptionalSignals(signals: number): void {
    this.calls.push(['setOptionalSignals', signals]);
  }
  setMaskGenerator(): void {
    this.calls.push(['setMaskGenerator']);
  }
  named(name: string): unknown[][] {
    return this.calls.filter((call) => call[0] === name);
  }
}

const info: ConnectionInfo = {
  origin: 'https://o.example',
  requestUrl: 'ws://h.example/p?q',
  resourceName: '/p?q',
  requestHeaders: [['Host', 'h.example']],
  subprotocol: 'chat',
  extensions: [],
  peerAddress: '192.0.2.1',
  peerPort: 4242,
  localAddress: '192.0.2.2',
  localPort: 80,
};

function adopted(): { socket: WebSocket; backend: RecordingBackend; sink: SocketSink } {
  const backend = new RecordingBackend();
  const socket = WebSocket.adopt(backend, info, { outgoingFrameSize: 1000 });
  return { socket, backend, sink: backend.sink! };
}

test('adopt() attaches once and exposes the connection info', (t) => {
  const { socket, backend } = adopted();
  t.deepEqual(backend.named('attach'), [['attach']]);
  t.is(socket.state(), State.Connected);
  t.is(socket.origin(), 'https://o.example');
  t.is(socket.requestUrl(), 'ws://h.example/p?q');
  t.is(socket.resourceName(), '/p?q');
  t.is(socket.subprotocol(), 'chat');
  t.is(socket.peerAddress(), '192.0.2.1');
  t.is(socket.peerPort(), 4242);
  t.is(socket.peerName(), '192.0.2.1');
  t.is(socket.localPort(), 80);
  t.is(socket.outgoingFrameSize(), 1000);
  t.deepEqual(socket.request(), { url: 'ws://h.example/p?q', headers: [['Host', 'h.example']] });
});

test('sink calls become Qt signals, binary as Buffer', (t) => {
  const { socket, sink } = adopted();
  const seen: unknown[] = [];
  socket.on('textMessageReceived', (text) => seen.push(['text', text]));
  socket.on('binaryMessageReceived', (data) => seen.push(['binary', Buffer.isBuffer(data), [...data]]));
  socket.on('pong', (elapsed, payload) => seen.push(['pong', elapsed, payload.toString()]));
  socket.on('bytesWritten', (bytes) => seen.push(['bytesWritten', bytes]));
  socket.on('errorOccurred', (error) => seen.push(['error', error.kind]));
  sink.textMessage('hi');
  sink.binaryMessage(new Uint8Array([1, 2]));
  sink.pong(12, new Uint8Array(Buffer.from('p')));
  sink.bytesWritten(99);
  sink.error(new WebSocketError(SocketError.InvalidUtf8, 'bad', CloseCode.WrongDatatype));
  t.deepEqual(seen, [['text', 'hi'], ['binary', true, [1, 2]], ['pong', 12, 'p'], ['bytesWritten', 99], ['error', 'InvalidUtf8']]);
  t.is(socket.error(), SocketError.InvalidUtf8);
  t.is(socket.errorString(), 'bad');
});

test('closing() and disconnected() drive the state; reports after disconnection are ignored', (t) => {
  const { socket, sink } = adopted();
  const events: string[] = [];
  socket.on('aboutToClose', () => events.push('aboutToClose'));
  socket.on('stateChanged', (state) => events.push(state));
  socket.on('disconnected', () => events.push('disconnected'));
  socket.on('textMessageReceived', () => events.push('late message'));
  sink.closing();
  sink.disconnected(1001, 'going');
  sink.textMessage('too late');
  sink.disconnected(1000, 'again');
  t.deepEqual(events, ['aboutToClose', State.Closing, State.Unconnected, 'disconnected']);
  t.is(socket.closeCode(), 1001);
  t.is(socket.closeReason(), 'going');
});

test('calls are forwarded to the backend only while they make sense', async (t) => {
  const { socket, backend, sink } = adopted();
  t.is(socket.sendTextMessage('héllo'), 6);
  t.is(socket.sendBinaryMessage(new Uint8Array([5])), 1);
  socket.ping('p');
  await socket.flush();
  backend.queued = 17;
  t.is(socket.bytesToWrite(), 17);
  socket.close(CloseCode.GoingAway, 'later');
  t.is(socket.sendTextMessage('ignored while closing'), 0);
  sink.disconnected(1001, 'later');
  t.is(socket.sendTextMessage('ignored when unconnected'), 0);
  t.is(socket.bytesToWrite(), 0);
  t.deepEqual(backend.calls.filter((call) => call[0] !== 'attach'), [
    ['sendText', 'héllo'], ['sendBinary', [5]], ['ping', 'p'], ['flush'], ['close', 1001, 'later'],
  ]);
});

test('frame signals are enabled only while someone listens', async (t) => {
  const { socket, backend } = adopted();
  t.deepEqual(backend.named('setFrameSignals'), []);
  const listener = (): void => {};
  socket.on('textFrameReceived', listener);
  await Promise.resolve();
  socket.on('binaryFrameReceived', listener);
  await Promise.resolve();
  t.deepEqual(backend.named('setFrameSignals'), [['setFrameSignals', true]]);
  socket.off('textFrameReceived', listener);
  t.deepEqual(backend.named('setFrameSignals'), [['setFrameSignals', true]]);
  socket.off('binaryFrameReceived', listener);
  t.deepEqual(backend.named('setFrameSignals'), [['setFrameSignals', true], ['setFrameSignals', false]]);
});

test('pauseReading()/resumeReading() and a lagging iterator combine: reading resumes only when both let go', async (t) => {
  const { socket, backend, sink } = adopted();
  const iterator = socket.messages({ maxQueuedMessages: 2 });
  socket.pauseReading();
  sink.textMessage('1');
  sink.textMessage('2'); // the queue reaches its limit: a hold
  socket.resumeReading(); // the user lets go, the iterator does not
  t.deepEqual(backend.calls.filter((call) => call[0] === 'pause' || call[0] === 'resume'), [['pause'], ['pause'], ['pause']]);
  t.is((await iterator.next()).value, '1');
  t.is(backend.calls.at(-1)![0], 'resume');
  t.is((await iterator.next()).value, '2');
  sink.disconnected(1000, '');
  t.deepEqual(await iterator.next(), { done: true, value: undefined });
});

test('limit setters validate and forward', (t) => {
  const { socket, backend } = adopted();
  socket.setMaxAllowedIncomingFrameSize(1234);
  socket.setMaxAllowedIncomingMessageSize(5678);
  socket.setOutgoingFrameSize(99);
  t.deepEqual(backend.named('setLimit'), [
    ['setLimit', 'maxAllowedIncomingFrameSize', 1234],
    ['setLimit', 'maxAllowedIncomingMessageSize', 5678],
    ['setLimit', 'outgoingFrameSize', 99],
  ]);
  t.is(socket.maxAllowedIncomingMessageSize(), 5678);
  t.throws(() => socket.setOutgoingFrameSize(0), { instanceOf: InvalidArgumentError });
  t.throws(() => socket.setOutgoingFrameSize(WebSocket.maxOutgoingFrameSize() + 1), { instanceOf: InvalidArgumentError });
  t.is(backend.named('setLimit').length, 3);
});

test('sockets made with the same settings keep their own: a setter on one changes no other', (t) => {
  const [a, b] = [adopted(), adopted()];
  const c = new WebSocket({ idleTimeout: 1000, pongTimeout: 2000, frameTimeout: 3000, maxAllowedIncomingFrameSize: 4000, closeTimeoutMs: 50 });
  const d = new WebSocket({ idleTimeout: 1000, pongTimeout: 2000, frameTimeout: 3000, maxAllowedIncomingFrameSize: 4000, closeTimeoutMs: 50 });
  a.socket.setIdleTimeout(5);
  a.socket.setMaxAllowedIncomingMessageSize(77);
  a.socket.setReadBufferSize(1024);
  c.setFrameTimeout(7);
  c.setMaxAllowedIncomingFrameSize(8);
  c.setOutgoingFrameSize(9);
  c.setCloseTimeout(10);
  t.is(a.socket.idleTimeout(), 5);
  t.is(b.socket.idleTimeout(), 0, 'an adopted socket runs no timeout it was not given');
  t.deepEqual([a.socket.maxAllowedIncomingMessageSize(), a.socket.readBufferSize()], [77, 1024]);
  t.deepEqual([b.socket.maxAllowedIncomingMessageSize(), b.socket.readBufferSize()], [new WebSocket().maxAllowedIncomingMessageSize(), 0]);
  t.deepEqual([c.idleTimeout(), c.pongTimeout(), c.frameTimeout(), c.maxAllowedIncomingFrameSize(), c.outgoingFrameSize(), c.closeTimeout()], [1000, 2000, 7, 8, 9, 10]);
  t.deepEqual([d.idleTimeout(), d.pongTimeout(), d.frameTimeout(), d.maxAllowedIncomingFrameSize(), d.outgoingFrameSize(), d.closeTimeout()], [1000, 2000, 3000, 4000, new WebSocket().outgoingFrameSize(), 50]);
  t.deepEqual(a.backend.named('setLivenessTimeout'), [['setLivenessTimeout', 'idleTimeout', 5]]);
  t.deepEqual(b.backend.named('setLivenessTimeout'), []);
  t.deepEqual(b.backend.named('setLimit'), []);
  t.throws(() => new WebSocket({ idleTimeout: 1000, pongTimeout: 2000, frameTimeout: 3000, maxAllowedIncomingFrameSize: 0 }), { instanceOf: InvalidArgumentError },
    'a value unlike the last socket\'s is checked');
});

test('how one socket ended is its own: a close or an error of one shows on no other', (t) => {
  const [a, b] = [adopted(), adopted()];
  a.sink.error(new WebSocketError(SocketError.ProtocolViolation, 'bad frame', CloseCode.ProtocolError));
  a.sink.disconnected(CloseCode.ProtocolError, 'bad frame');
  t.deepEqual([a.socket.closeCode(), a.socket.closeReason(), a.socket.error(), a.socket.errorString()],
    [CloseCode.ProtocolError, 'bad frame', SocketError.ProtocolViolation, 'bad frame']);
  t.deepEqual([b.socket.closeCode(), b.socket.closeReason(), b.socket.error(), b.socket.errorString()], [CloseCode.Normal, '', SocketError.UnknownSocket, '']);
  t.is(b.socket.state(), State.Connected);
});

test('a fresh socket: Qt defaults, argument checks, harmless calls', async (t) => {
  const socket = new WebSocket();
  t.is(socket.state(), State.Unconnected);
  t.false(socket.isValid());
  t.is(socket.closeCode(), 1000);
  t.is(socket.closeReason(), '');
  t.is(socket.error(), SocketError.UnknownSocket);
  t.is(socket.requestUrl(), '');
  t.is(socket.resourceName(), '');
  t.is(socket.peerName(), '');
  t.is(socket.peerPort(), 0);
  t.is(socket.bytesToWrite(), 0);
  t.is(socket.outgoingFrameSize(), 512 * 1024);
  t.is(socket.handshakeResponse(), undefined);
  socket.close();
  socket.abort();
  socket.ping();
  await within(socket.flush(), 1000, 'flush()');
  t.is(socket.state(), State.Unconnected);
  t.throws(() => new WebSocket({ outgoingFrameSize: 0 }), { instanceOf: InvalidArgumentError });
  t.throws(() => socket.setHandshakeTimeout(-1), { instanceOf: InvalidArgumentError });
  t.throws(() => socket.setConnectTimeout(Number.NaN), { instanceOf: InvalidArgumentError });
  t.throws(() => socket.open('ws://127.0.0.1:9/', { followRedirects: -1 }), { instanceOf: InvalidArgumentError });
  t.throws(() => socket.close(1006), { instanceOf: InvalidArgumentError });
  t.throws(() => socket.sendTextMessage(42 as unknown as string), { instanceOf: InvalidArgumentError });
});

test('the Sec-WebSocket-Protocol raw header is merged into the offer, as Qt does', async (t) => {
  const { startRawServer } = await import('../client/support.ts');
  const server = await startRawServer((raw, request) => {
    raw.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
    offered.push(request.headers.get('sec-websocket-protocol') ?? '');
  });
  const offered: string[] = [];
  t.teardown(() => server.close());
  const socket = new WebSocket();
  const failed = next(socket, 'disconnected');
  socket.open({ url: server.url, headers: { 'Sec-WebSocket-Protocol': 'b, a' } }, { subprotocols: ['a', 'c'] });
  await failed;
  t.deepEqual(offered, ['a, c, b']);
});

test('a user pause and a lagging iterator hold reading together: it resumes when both let go', async (t) => {
  const { socket, backend, sink } = adopted();
  await new Promise((resolve) => setImmediate(resolve));
  /** Whether the backend was last told to pause or to resume. */
  const reading = (): string => backend.calls.filter(([name]) => name === 'pause' || name === 'resume').at(-1)?.[0] as string;
  const iterator = socket.messages({ maxQueuedMessages: 2 });
  socket.pauseReading();
  t.is(reading(), 'pause');
  for (const text of ['a', 'b', 'c']) sink.textMessage(text);
  socket.resumeReading();
  t.is(reading(), 'pause', 'the iterator still holds it');
  t.is((await iterator.next()).value, 'a');
  t.is(reading(), 'pause', 'two still queued: above half the limit');
  t.is((await iterator.next()).value, 'b');
  t.is(reading(), 'resume', 'drained to half: both let go');
  socket.pauseReading();
  t.is((await iterator.next()).value, 'c');
  t.is(reading(), 'pause', 'the user still holds it');
  socket.resumeReading();
  t.is(reading(), 'resume');
});

test('listeners of any name come and go as on any EventEmitter: no name finds an inherited value, a removed one is not listed', (t) => {
  const socket = new WebSocket();
  // Any name, as an untyped emitter sees it.
  const emitter = socket as unknown as EventEmitter;
  const own = new Set(emitter.eventNames());
  // Names an ordinary object would inherit, and a name the listener table lists up front.
  for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'disconnected']) {
    t.false(emitter.emit(name), `${name} has no listener yet`);
    t.is(emitter.listenerCount(name), 0);
    const heard: unknown[] = [];
    const listener = (...args: unknown[]): void => { heard.push(args); };
    emitter.on(name, listener);
    t.true(emitter.eventNames().includes(name), `${name} is listed while listened to`);
    t.true(emitter.emit(name, 1, 'two'));
    t.deepEqual(heard, [[1, 'two']]);
    emitter.off(name, listener);
    t.false(emitter.emit(name));
    t.is(heard.length, 1);
    t.deepEqual(new Set(emitter.eventNames()), own, `${name} is not listed once removed`);
  }
  socket.removeAllListeners();
  t.deepEqual(socket.eventNames(), []);
});

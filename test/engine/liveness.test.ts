/** The engine's liveness check against a clock the test drives (no timers, no sockets). */
import test from 'ava';
import { CloseCode } from '../../src/shared/engine/close-code.ts';
import { EngineState } from '../../src/shared/engine/engine-types.ts';
import { SocketError } from '../../src/shared/engine/errors.ts';
import { LivenessVerdict } from '../../src/shared/engine/liveness.ts';
import { OpCode } from '../../src/shared/engine/opcode.ts';
import { ProtocolEngine } from '../../src/shared/engine/protocol-engine.ts';
import { Role } from '../../src/shared/engine/state.ts';
import { clientFrame, decodeFrames, output, recorder } from '../helpers/frames.ts';

function engineAt(clock: { now: number }, timeouts: { idleTimeout?: number; pongTimeout?: number; frameTimeout?: number }) {
  const handler = recorder();
  const engine = new ProtocolEngine({ role: Role.Server, now: () => clock.now, ...timeouts }, handler);
  return { engine, handler };
}

test('silence: a Ping at the idle timeout, then 1001 IdleTimeout after the pong timeout', (t) => {
  const clock = { now: 0 };
  const { engine, handler } = engineAt(clock, { idleTimeout: 100, pongTimeout: 50 });
  t.is(engine.checkLiveness(99), LivenessVerdict.Alive);
  t.is(engine.checkLiveness(100), LivenessVerdict.Pinged);
  t.deepEqual(decodeFrames(output(engine)).map((frame) => frame.opcode), [OpCode.Ping]);
  t.is(engine.checkLiveness(149), LivenessVerdict.Alive, 'one Ping per silence, and the pong timeout not yet over');
  t.is(output(engine).length, 0);
  t.is(engine.checkLiveness(150), LivenessVerdict.IdleTimedOut);
  t.is(engine.state, EngineState.Closed);
  t.is(engine.closeCode, CloseCode.GoingAway);
  t.is(handler.errors[0]?.kind, SocketError.IdleTimeout);
  const close = decodeFrames(output(engine)).find((frame) => frame.opcode === OpCode.Close);
  t.is(close?.payload.readUInt16BE(0), CloseCode.GoingAway);
});

test('any bytes from the peer (a Pong or anything else) restart the idle clock', (t) => {
  const clock = { now: 0 };
  const { engine } = engineAt(clock, { idleTimeout: 100, pongTimeout: 50 });
  t.is(engine.checkLiveness(100), LivenessVerdict.Pinged);
  engine.receive(clientFrame({ opcode: OpCode.Pong }));
  t.is(engine.checkLiveness(140), LivenessVerdict.Alive);
  t.is(engine.checkLiveness(239), LivenessVerdict.Alive, 'the silence counts from the check that saw the Pong');
  t.is(engine.checkLiveness(240), LivenessVerdict.Pinged);
  engine.receive(clientFrame({ opcode: OpCode.Text, payload: 'late but alive' }));
  t.is(engine.checkLiveness(1000), LivenessVerdict.Alive);
  t.is(engine.state, EngineState.Open);
});

test('pongTimeout 0 pings but never drops; idleTimeout 0 never pings', (t) => {
  const clock = { now: 0 };
  const pingOnly = engineAt(clock, { idleTimeout: 10, pongTimeout: 0 }).engine;
  t.is(pingOnly.checkLiveness(10), LivenessVerdict.Pinged);
  t.is(pingOnly.checkLiveness(1e9), LivenessVerdict.Alive);
  t.is(pingOnly.state, EngineState.Open);
  const off = engineAt(clock, { idleTimeout: 0, pongTimeout: 10 }).engine;
  t.is(off.checkLiveness(1e9), LivenessVerdict.Alive);
  t.is(off.livenessCheckIntervalMs, 2.5, 'checked at a quarter of the shortest timeout set');
  t.is(engineAt(clock, {}).engine.livenessCheckIntervalMs, 0);
});

test('a paused transport is never judged silent', (t) => {
  const { engine } = engineAt({ now: 0 }, { idleTimeout: 10, pongTimeout: 10, frameTimeout: 10 });
  engine.receive(clientFrame({ opcode: OpCode.Text, fin: false, payload: 'part' }));
  for (let now = 0; now < 1000; now += 10) t.is(engine.checkLiveness(now, false), LivenessVerdict.Alive);
  // The last paused check was at 990: the clock counts from there.
  t.is(engine.checkLiveness(999), LivenessVerdict.Alive, 'the clock restarted while reading was paused');
  t.is(engine.checkLiveness(1000), LivenessVerdict.FrameTimedOut);
});

test('frame timeout: only inside a frame, a header or a fragmented message', (t) => {
  const clock = { now: 0 };
  const { engine, handler } = engineAt(clock, { frameTimeout: 50 });
  engine.receive(clientFrame({ opcode: OpCode.Text, payload: 'whole' }));
  t.is(engine.checkLiveness(0), LivenessVerdict.Alive);
  t.is(engine.checkLiveness(1000), LivenessVerdict.Alive, 'between messages silence is no stall');
  const frame = clientFrame({ opcode: OpCode.Binary, payload: new Uint8Array(20) });
  engine.receive(frame.subarray(0, 1));
  t.is(engine.checkLiveness(1001), LivenessVerdict.Alive);
  t.is(engine.checkLiveness(1050), LivenessVerdict.Alive);
  t.is(engine.checkLiveness(1051), LivenessVerdict.FrameTimedOut, 'half a header is a frame that stopped');
  t.is(handler.errors[0]?.kind, SocketError.FrameTimeout);
  t.is(engine.closeCode, CloseCode.GoingAway);
});

test('timeouts have setters with the engine rule (finite, >= 0)', (t) => {
  const { engine } = engineAt({ now: 0 }, {});
  engine.setTimeout('idleTimeout', 20);
  t.is(engine.timeout('idleTimeout'), 20);
  t.is(engine.livenessCheckIntervalMs, 5);
  t.throws(() => engine.setTimeout('frameTimeout', -1), { name: 'InvalidArgumentError' });
  t.throws(() => new ProtocolEngine({ role: Role.Server, pongTimeout: Number.NaN }, recorder()), { name: 'InvalidArgumentError' });
});

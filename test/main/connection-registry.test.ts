/**
 * The registry's one invariant, against a model: places reserved plus connections waiting never
 * exceed the room, a reservation is refused exactly when they fill it, and the end of every open
 * connection resolves once it ends.
 */
import test from 'ava';
import fc from 'fast-check';
import { ConnectionPhase, ConnectionRegistry } from '../../src/main/connection-registry.ts';
import type { ConnectionInfo, SocketBackend } from '../../src/shared/connection/socket-backend.ts';

const info: ConnectionInfo = {
  origin: '', requestUrl: 'ws://127.0.0.1/', resourceName: '/', requestHeaders: [], subprotocol: '', extensions: [],
  peerAddress: '127.0.0.1', peerPort: 1, localAddress: '127.0.0.1', localPort: 2,
};

/** A backend that records only that it was attached (the socket made for a waiting connection attaches it). */
function idleBackend(): SocketBackend & { attached: boolean } {
  return {
    attached: false,
    attach() { this.attached = true; },
    sendText: () => 0, sendBinary: () => 0, ping() {}, close() {}, abort() {}, flush: () => Promise.resolve(),
    pause() {}, resume() {}, setLimit() {}, setLivenessTimeout() {}, bytesToWrite: () => 0, setFrameSignals() {}, setOptionalSignals() {}, setMaskGenerator() {},
  };
}

const limits = { maxAllowedIncomingFrameSize: 1, maxAllowedIncomingMessageSize: 1, outgoingFrameSize: 1 };

type Step = { kind: 'create' } | { kind: 'reserve' | 'fail' | 'open' | 'end'; pick: number } | { kind: 'take' };
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.constant({ kind: 'create' as const }),
  fc.constant({ kind: 'take' as const }),
  fc.record({ kind: fc.constantFrom('reserve' as const, 'fail' as const, 'open' as const, 'end' as const), pick: fc.nat() }),
);

test('reserved places plus waiting connections never exceed the room (model-based property)', async (t) => {
  await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 4 }), fc.array(step, { maxLength: 80 }), async (room, steps) => {
    const registry = new ConnectionRegistry();
    const model = new Map<number, 'handshake' | 'reserved' | 'open'>();
    const waiting: number[] = [];
    for (const s of steps) {
      const ids = [...model.keys()];
      const id = s.kind === 'create' || s.kind === 'take' ? 0 : ids[s.pick % Math.max(ids.length, 1)];
      switch (s.kind) {
        case 'create': {
          const created = registry.create();
          model.set(created, 'handshake');
          break;
        }
        case 'reserve': {
          if (id === undefined) break;
          const reserved = [...model.values()].filter((phase) => phase === 'reserved').length;
          const expected = model.get(id) === 'handshake' && reserved + waiting.length < room;
          t.is(registry.reserve(id, room), expected);
          if (expected) model.set(id, 'reserved');
          break;
        }
        case 'fail':
          if (id === undefined) break;
          registry.handshakeFailed(id);
          if (model.get(id) === 'reserved') model.set(id, 'handshake');
          break;
        case 'open':
          if (id === undefined || model.get(id) !== 'reserved') break;
          registry.open(id, { backend: idleBackend(), info, limits });
          model.set(id, 'open');
          waiting.push(id);
          break;
        case 'end':
          if (id === undefined) break;
          registry.end(id);
          model.delete(id);
          break;
        case 'take': {
          const socket = registry.takePending();
          t.is(socket !== undefined, waiting.length > 0);
          waiting.shift();
          break;
        }
      }
      const reserved = [...model.values()].filter((phase) => phase === 'reserved').length;
      t.true(reserved + registry.pendingCount <= room);
      t.is(registry.pendingCount, waiting.length);
      t.is(registry.size, model.size);
      t.is(registry.openCount, [...model.values()].filter((phase) => phase === 'open').length);
    }
    // Every open connection's end is awaited, and comes.
    const open = registry.openConnections();
    for (const id of [...model.keys()]) registry.end(id);
    t.is(registry.size, 0);
    await Promise.all(open.map((record) => record.ended));
  }), { numRuns: 200 });
});

test('a waiting connection gets its socket, and its backend is attached, only when taken', (t) => {
  const registry = new ConnectionRegistry();
  const id = registry.create();
  t.true(registry.reserve(id, 1));
  // The room is taken by the reservation.
  const other = registry.create();
  t.false(registry.reserve(other, 1));
  const backend = idleBackend();
  const record = registry.open(id, { backend, info, limits })!;
  t.is(record.phase, ConnectionPhase.Open);
  t.is(record.socket, undefined);
  t.false(backend.attached);
  const socket = registry.takePending()!;
  t.is(record.socket, socket);
  t.true(backend.attached);
  t.is(registry.takePending(), undefined);
  // Taken, it no longer holds room.
  t.true(registry.reserve(other, 1));
});

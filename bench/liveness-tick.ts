/**
 * `node bench/liveness-tick.ts`: what one liveness tick costs a thread holding 100,000
 * connections (each with the server's default timeouts): one pass of `checkLiveness(now)` over
 * all of them, as the thread's ticker makes once a second at those defaults. Nothing asserted.
 */
import { ProtocolEngine } from '../src/shared/engine/protocol-engine.ts';
import { ServerDefaults } from '../src/main/websocket-server.ts';
import { Role } from '../src/shared/engine/state.ts';

const Connections = 100_000;
const handler = { textMessage(): void {}, binaryMessage(): void {}, pong(): void {}, error(): void {}, closed(): void {} };
const engines: ProtocolEngine[] = [];
for (let i = 0; i < Connections; i++) {
  engines.push(new ProtocolEngine({
    role: Role.Server,
    idleTimeout: ServerDefaults.idleTimeoutMs,
    pongTimeout: ServerDefaults.pongTimeoutMs,
    frameTimeout: ServerDefaults.frameTimeoutMs,
  }, handler));
}
const start = performance.now();
const passes: number[] = [];
for (let tick = 0; tick < 20; tick++) {
  // Half the connections heard something since the last tick, as on a busy server.
  for (let i = tick % 2; i < Connections; i += 2) engines[i]!.receive(new Uint8Array(0));
  const now = start + tick * 1000;
  const began = performance.now();
  for (const engine of engines) engine.checkLiveness(now);
  passes.push(performance.now() - began);
}
passes.sort((a, b) => a - b);
console.log(`one liveness tick over ${Connections.toLocaleString('en')} connections: median ${passes[10]!.toFixed(2)} ms, max ${passes.at(-1)!.toFixed(2)} ms (ticks once a second at the server's defaults)`);

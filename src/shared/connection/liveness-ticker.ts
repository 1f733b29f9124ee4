/**
 * One coarse tick per thread for every connection's liveness check (idle, pong and frame
 * timeouts), instead of a timer per connection or a timestamp per read: 100,000 connections cost
 * one interval timer and one pass over a Set per tick, and a read costs one boolean store in the
 * engine. The tick runs at a quarter of the shortest timeout of the connections it watches
 * (clamped to 10 ms - 1 s), only while it watches any, and never keeps the process alive.
 */
import { performance } from 'node:perf_hooks';

export interface LivenessWatched {
  checkLiveness(now: number): void;
}

const FinestTickMs = 10;
const CoarsestTickMs = 1000;

export class LivenessTicker {
  readonly #watched = new Set<LivenessWatched>();
  #timer: NodeJS.Timeout | undefined;
  #intervalMs = CoarsestTickMs;
  #lastTickAt = 0;
  /** The time of the tick in progress, for `checkOne` (a function made once, not one per tick). */
  #now = 0;

  get size(): number {
    return this.#watched.size;
  }

  /** @param checkIntervalMs how often this connection wants checking (0: not at all) */
  watch(target: LivenessWatched, checkIntervalMs: number): void {
    if (checkIntervalMs <= 0) {
      this.unwatch(target);
      return;
    }
    this.#watched.add(target);
    const wanted = Math.min(CoarsestTickMs, Math.max(FinestTickMs, Math.floor(checkIntervalMs)));
    if (this.#timer !== undefined && wanted >= this.#intervalMs) return;
    this.#start(this.#timer === undefined ? wanted : Math.min(wanted, this.#intervalMs));
  }

  unwatch(target: LivenessWatched): void {
    if (!this.#watched.delete(target) || this.#watched.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #start(intervalMs: number): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#intervalMs = intervalMs;
    this.#lastTickAt = performance.now();
    this.#timer = setInterval(this.#tick, intervalMs).unref();
  }

  readonly #tick = (): void => {
    const now = performance.now();
    const late = now - this.#lastTickAt > 2 * this.#intervalMs + 50;
    this.#lastTickAt = now;
    // After the thread was blocked, the peers' bytes may be waiting unread behind this timer:
    // give the poll phase a turn before judging anyone silent.
    if (late) return;
    // forEach, not for...of: the tick runs too seldom to be optimised, and unoptimised for...of
    // over a Set makes an iterator result per connection per tick, an idle server's only garbage.
    this.#now = now;
    this.#watched.forEach(this.#checkOne);
  };

  readonly #checkOne = (target: LivenessWatched): void => {
    target.checkLiveness(this.#now);
  };
}

/** This thread's ticker (module state is per thread: each worker has its own). */
export const livenessTicker = new LivenessTicker();

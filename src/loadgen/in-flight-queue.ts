/**
 * The messages of one connection that await their reply, oldest first: a growable ring of send
 * times (µs). An echo answers in order, so the head is the message the next reply must match;
 * its age is what the reply timeout looks at. No allocation per message.
 */
export class InFlightQueue {
  private times: Float64Array;
  private head = 0;
  private count = 0;
  /** Sequence number of the message at the head. */
  headSeq = 0;

  constructor(initialCapacity = 4) {
    this.times = new Float64Array(Math.max(1, initialCapacity));
  }

  get length(): number {
    return this.count;
  }

  push(sendMicros: number): void {
    if (this.count === this.times.length) this.grow();
    this.times[(this.head + this.count) % this.times.length] = sendMicros;
    this.count++;
  }

  /** Send time of the oldest message awaiting a reply; NaN when none. */
  peek(): number {
    return this.count === 0 ? Number.NaN : this.times[this.head]!;
  }

  shift(): number {
    if (this.count === 0) return Number.NaN;
    const value = this.times[this.head]!;
    this.head = (this.head + 1) % this.times.length;
    this.count--;
    this.headSeq++;
    return value;
  }

  /** Drops every message awaiting a reply (they timed out or the connection ended); returns how many. */
  clear(): number {
    const dropped = this.count;
    this.headSeq += dropped;
    this.head = 0;
    this.count = 0;
    return dropped;
  }

  private grow(): void {
    const next = new Float64Array(this.times.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = this.times[(this.head + i) % this.times.length]!;
    this.times = next;
    this.head = 0;
  }
}

/**
 * The worker end of the owner's calls on one owner-side `WebSocket`: applies each batch of
 * `SocketBackend` calls, in order, to the connection's backend. Batches that arrive before the
 * backend exists (the owner may send from its `newConnection` handler while the 101 is still on
 * its way) wait and are applied as soon as it does.
 */
import type { SocketBackend, SocketLimitName } from '../shared/connection/socket-backend.ts';
import { BackendCall, type WorkerStatus } from '../shared/wire/thread-messages.ts';

/** Why reading is paused; reading resumes only when no reason is left. */
export const PauseReason = { User: 1, OwnerBacklog: 2 } as const;

export class CommandReceiver {
  #backend: SocketBackend | undefined;
  #waiting: Array<{ seq: number; calls: unknown[] }> = [];
  #appliedSeq = 0;
  #pauseReasons = 0;
  #gone = false;

  /** The backend is ready: apply what waited. */
  bind(backend: SocketBackend): void {
    this.#backend = backend;
    if (this.#pauseReasons !== 0) backend.pause();
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const { seq, calls } of waiting) this.#apply(seq, calls);
  }

  /** The connection is over: calls are acknowledged and ignored from now on. */
  release(): void {
    this.#gone = true;
    this.#waiting = [];
  }

  status(): WorkerStatus {
    return { appliedSeq: this.#appliedSeq, bytesToWrite: this.#gone ? 0 : this.#backend?.bytesToWrite() ?? 0 };
  }

  /** One batch of the connection's commands (see BackendCall). */
  commands(seq: number, calls: unknown[]): void {
    if (this.#gone) this.#appliedSeq = seq;
    else if (this.#backend === undefined) this.#waiting.push({ seq, calls });
    else this.#apply(seq, calls);
  }

  async flush(): Promise<WorkerStatus> {
    if (this.#backend !== undefined && !this.#gone) await this.#backend.flush();
    return this.status();
  }

  setPaused(reason: number, paused: boolean): void {
    const before = this.#pauseReasons;
    this.#pauseReasons = paused ? before | reason : before & ~reason;
    if (this.#backend === undefined || this.#gone || (before === 0) === (this.#pauseReasons === 0)) return;
    if (this.#pauseReasons === 0) this.#backend.resume();
    else this.#backend.pause();
  }

  #apply(seq: number, calls: unknown[]): void {
    const backend = this.#backend!;
    let i = 0;
    while (i < calls.length) {
      const call = calls[i++] as BackendCall;
      switch (call) {
        case BackendCall.SendText:
          backend.sendText(calls[i++] as string);
          break;
        case BackendCall.SendBinary:
          backend.sendBinary(calls[i++] as Uint8Array);
          break;
        case BackendCall.Ping:
          backend.ping(calls[i++] as Uint8Array);
          break;
        case BackendCall.Close:
          backend.close(calls[i] as number, calls[i + 1] as string);
          i += 2;
          break;
        case BackendCall.Abort:
          backend.abort();
          break;
        case BackendCall.Pause:
          this.setPaused(PauseReason.User, true);
          break;
        case BackendCall.Resume:
          this.setPaused(PauseReason.User, false);
          break;
        case BackendCall.SetLimit:
          backend.setLimit(calls[i] as SocketLimitName, calls[i + 1] as number);
          i += 2;
          break;
        case BackendCall.FrameSignals:
          backend.setFrameSignals(calls[i++] as boolean);
          break;
        default:
          throw new Error(`Unknown backend call ${String(call)} in a command batch`);
      }
    }
    this.#appliedSeq = seq;
  }
}

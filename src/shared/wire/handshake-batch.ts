/**
 * The opening handshakes of a pool thread's connections, both ways, as flat batches on the
 * thread link (writer and reader side by side, as in signal-batch.ts): the worker parses each
 * request and asks; the owner decides and answers. Many connections' questions travel in one
 * call per worker turn and their answers in one call per owner turn, so a connection costs no
 * call, no port and no task of its own.
 *
 * Worker → owner, `[HandshakeCall, connectionId, arg]*` (every call carries one argument):
 * - Decide(summary): a well-formed upgrade request; the owner answers with a Decision.
 * - HttpRequest(request): a plain request (the server has an httpRequestHandler); answered with an HttpResponse.
 * - Failed(failure): no 101 was written (bad request, timeout, TLS failure, client gone).
 * - Ended(0): a connection that never upgraded is over; nothing more comes about it.
 * - HandOver(request): a plain request on a server with an http.Server: from now on the
 *   connection's bytes are relayed (`request.received` holds what was read so far).
 * - RelayData(bytes): more bytes from the client of a handed-over connection.
 * - RelayEnd(0): the client ended its side (or the connection is gone; Ended follows).
 * - RelayFlushed(bytes): that many of the owner's RelayWrite bytes reached the OS (flow control).
 * An upgraded connection's news go on as signals (signal-batch.ts), its end with Disconnected.
 *
 * Owner → worker, `[AnswerCall, connectionId, arg]*`: Decision(decision), HttpResponse(bytes),
 * RelayWrite(bytes), RelayEnd(RelayEnding) and RelayReading(0 | 1: stop or go on reading the
 * client, as the owner's HTTP server keeps up) for a handed-over connection.
 */
import type { HttpRequest } from '../connection/http-response.ts';
import type { HandshakeDecision, HandshakeFailure, HandshakeSummary } from './thread-messages.ts';

export const HandshakeCall = { Decide: 0, HttpRequest: 1, Failed: 2, Ended: 3, HandOver: 4, RelayData: 5, RelayEnd: 6, RelayFlushed: 7 } as const;
export type HandshakeCall = (typeof HandshakeCall)[keyof typeof HandshakeCall];

export const AnswerCall = { Decision: 0, HttpResponse: 1, RelayWrite: 2, RelayEnd: 3, RelayReading: 4 } as const;
export type AnswerCall = (typeof AnswerCall)[keyof typeof AnswerCall];

/** How the owner's side of a handed-over connection ends. */
export const RelayEnding = {
  /** The HTTP server ended its side: the last bytes written, then FIN. */
  End: 0,
  /** The HTTP server destroyed the socket: drop the connection. */
  Destroy: 1,
} as const;
export type RelayEnding = (typeof RelayEnding)[keyof typeof RelayEnding];

/** A plain request whose connection goes to the owner's http.Server. */
export interface HandOverRequest extends HttpRequest {
  /** Every byte read from the client so far: the request head and whatever followed it. */
  received: Uint8Array;
}

/** Every call of both directions is `[call, connectionId, arg]`. */
const Stride = 3;

// ---- worker → owner ---------------------------------------------------------------------------

/** The thread's handshake calls of one turn. */
export class HandshakeWriter {
  calls: unknown[] = [];

  get isEmpty(): boolean {
    return this.calls.length === 0;
  }

  decide(connectionId: number, summary: HandshakeSummary): void {
    this.calls.push(HandshakeCall.Decide, connectionId, summary);
  }

  httpRequest(connectionId: number, request: HttpRequest): void {
    this.calls.push(HandshakeCall.HttpRequest, connectionId, request);
  }

  failed(connectionId: number, failure: HandshakeFailure): void {
    this.calls.push(HandshakeCall.Failed, connectionId, failure);
  }

  ended(connectionId: number): void {
    this.calls.push(HandshakeCall.Ended, connectionId, 0);
  }

  handOver(connectionId: number, request: HandOverRequest): void {
    this.calls.push(HandshakeCall.HandOver, connectionId, request);
  }

  clientData(connectionId: number, bytes: Uint8Array): void {
    this.calls.push(HandshakeCall.RelayData, connectionId, bytes);
  }

  clientEnded(connectionId: number): void {
    this.calls.push(HandshakeCall.RelayEnd, connectionId, 0);
  }

  clientFlushed(connectionId: number, bytes: number): void {
    this.calls.push(HandshakeCall.RelayFlushed, connectionId, bytes);
  }

  take(): unknown[] {
    const calls = this.calls;
    this.calls = [];
    return calls;
  }
}

/** What reads the worker's handshake calls. */
export interface HandshakeReader {
  decide(connectionId: number, summary: HandshakeSummary): void;
  httpRequest(connectionId: number, request: HttpRequest): void;
  failed(connectionId: number, failure: HandshakeFailure): void;
  ended(connectionId: number): void;
  handOver(connectionId: number, request: HandOverRequest): void;
  clientData(connectionId: number, bytes: Uint8Array): void;
  clientEnded(connectionId: number): void;
  clientFlushed(connectionId: number, bytes: number): void;
}

export function readHandshakeCalls(calls: readonly unknown[], reader: HandshakeReader): void {
  if (calls.length % Stride !== 0) throw new Error('Malformed handshake batch: its length is no multiple of 3');
  for (let i = 0; i < calls.length; i += Stride) {
    const id = calls[i + 1] as number;
    const arg = calls[i + 2];
    switch (calls[i] as HandshakeCall) {
      case HandshakeCall.Decide:
        reader.decide(id, arg as HandshakeSummary);
        break;
      case HandshakeCall.HttpRequest:
        reader.httpRequest(id, arg as HttpRequest);
        break;
      case HandshakeCall.Failed:
        reader.failed(id, arg as HandshakeFailure);
        break;
      case HandshakeCall.Ended:
        reader.ended(id);
        break;
      case HandshakeCall.HandOver:
        reader.handOver(id, arg as HandOverRequest);
        break;
      case HandshakeCall.RelayData:
        reader.clientData(id, arg as Uint8Array);
        break;
      case HandshakeCall.RelayEnd:
        reader.clientEnded(id);
        break;
      case HandshakeCall.RelayFlushed:
        reader.clientFlushed(id, arg as number);
        break;
      default:
        throw new Error(`Unknown handshake call ${String(calls[i])} in a handshake batch`);
    }
  }
}

// ---- owner → worker ---------------------------------------------------------------------------

export class AnswerWriter {
  calls: unknown[] = [];
  transfer: ArrayBuffer[] = [];

  get isEmpty(): boolean {
    return this.calls.length === 0;
  }

  decision(connectionId: number, decision: HandshakeDecision): void {
    this.calls.push(AnswerCall.Decision, connectionId, decision);
  }

  /** `response` must be the writer's own buffer (see buildHttpResponse): it is moved, not copied. */
  httpResponse(connectionId: number, response: Uint8Array): void {
    this.calls.push(AnswerCall.HttpResponse, connectionId, response);
    this.transfer.push(response.buffer as ArrayBuffer);
  }

  /** Copied (structured clone): the HTTP server's chunks may be views of shared pools. */
  relayWrite(connectionId: number, bytes: Uint8Array): void {
    this.calls.push(AnswerCall.RelayWrite, connectionId, bytes);
  }

  relayEnd(connectionId: number, ending: RelayEnding): void {
    this.calls.push(AnswerCall.RelayEnd, connectionId, ending);
  }

  relayReading(connectionId: number, reading: boolean): void {
    this.calls.push(AnswerCall.RelayReading, connectionId, reading ? 1 : 0);
  }

  take(): { calls: unknown[]; transfer: ArrayBuffer[] } {
    const taken = { calls: this.calls, transfer: this.transfer };
    this.calls = [];
    this.transfer = [];
    return taken;
  }
}

export interface AnswerReader {
  decision(connectionId: number, decision: HandshakeDecision): void;
  httpResponse(connectionId: number, response: Uint8Array): void;
  relayWrite(connectionId: number, bytes: Uint8Array): void;
  relayEnd(connectionId: number, ending: RelayEnding): void;
  relayReading(connectionId: number, reading: boolean): void;
}

export function readAnswerCalls(calls: readonly unknown[], reader: AnswerReader): void {
  if (calls.length % Stride !== 0) throw new Error('Malformed answer batch: its length is no multiple of 3');
  for (let i = 0; i < calls.length; i += Stride) {
    const id = calls[i + 1] as number;
    switch (calls[i] as AnswerCall) {
      case AnswerCall.Decision:
        reader.decision(id, calls[i + 2] as HandshakeDecision);
        break;
      case AnswerCall.HttpResponse:
        reader.httpResponse(id, calls[i + 2] as Uint8Array);
        break;
      case AnswerCall.RelayWrite:
        reader.relayWrite(id, calls[i + 2] as Uint8Array);
        break;
      case AnswerCall.RelayEnd:
        reader.relayEnd(id, calls[i + 2] as RelayEnding);
        break;
      case AnswerCall.RelayReading:
        reader.relayReading(id, calls[i + 2] === 1);
        break;
      default:
        throw new Error(`Unknown answer call ${String(calls[i])} in an answer batch`);
    }
  }
}

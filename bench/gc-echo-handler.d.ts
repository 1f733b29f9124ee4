import type { WebSocket } from '../src/shared/connection/websocket.ts';

export declare const GcRequest: '__gc__';
export declare const GcReduceRequest: '__gc-reduce__';
export declare function collectGarbage(reduce: boolean): void;
export default function gcEcho(socket: WebSocket): void;

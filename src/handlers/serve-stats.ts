/**
 * What `wsthreads serve` reports about each worker thread, and the channel it travels on. Worker
 * threads post a WorkerStats every STATS_INTERVAL_MS on a BroadcastChannel; the owner thread
 * posts a ServeRoster (every pool thread, busy or idle, and the process's figures) on the same
 * channel; any thread that holds a status-page connection listens and forwards a
 * ServeStatsSnapshot to the page once a second.
 */

/** Cumulative figures of one worker thread since it started serving, and its state at `at`. */
export interface WorkerStats {
  type: 'worker';
  threadId: number;
  /** Open now. */
  connections: number;
  /** Opened since the thread started. */
  connectionsTotal: number;
  messagesIn: number;
  messagesOut: number;
  /** Payload bytes (text as UTF-8). */
  bytesIn: number;
  bytesOut: number;
  /** Bytes handed to sockets and not yet written (sum of bytesToWrite()), at `at`. */
  bytesQueued: number;
  /** Connections dropped for silence: pinged, and no answer within the pong timeout (1001). */
  idleTimeouts: number;
  /** Connections closed because a frame or fragmented message stopped arriving (1001). */
  frameTimeouts: number;
  /** Share of the time the thread's event loop was busy since its previous report, 0 to 1. */
  eventLoopUtilization: number;
  /** The thread's V8 heap in use, bytes. */
  heapUsed: number;
  /** Connections ended, by close code. */
  closeCodes: Record<string, number>;
  /** errorOccurred signals of its connections. */
  errors: number;
  /** Epoch ms of the sample. */
  at: number;
}

/**
 * The server's topics, from the owner thread (which alone knows them all and the Redis state):
 * `wsthreads serve` posts one on the same channel every STATS_INTERVAL_MS.
 */
export interface PubSubSummary {
  type: 'pubsub';
  /** 'local' without Redis, else where the link to Redis stands. */
  state: string;
  /** Topics with subscribers, with their number, most subscribers first. */
  topics: Array<[topic: string, subscribers: number]>;
  framesBuilt: number;
  deliveries: number;
}

/** The owner thread's view: every pool thread (idle ones too) and the process. */
export interface ServeRoster {
  type: 'roster';
  threadIds: number[];
  /** Epoch ms when the server started listening. */
  startedAt: number;
  /** Resident memory of the whole process, bytes. */
  rss: number;
  at: number;
}

/** What the status page receives once a second: the latest sample of every worker, idle ones as zeros. */
export interface ServeStatsSnapshot {
  type: 'stats';
  at: number;
  startedAt: number;
  rss: number;
  workers: WorkerStats[];
  /** The latest topics summary, once the owner has posted one. */
  pubsub?: PubSubSummary;
}

export const STATS_INTERVAL_MS = 500;

/** The WebSocket path of the status page's live feed; its connections are not counted. */
export const STATS_PATH = '/.wsthreads/stats';

/** A thread that has not served yet. */
export function idleWorkerStats(threadId: number, at: number): WorkerStats {
  return {
    type: 'worker', threadId, connections: 0, connectionsTotal: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0,
    bytesQueued: 0, idleTimeouts: 0, frameTimeouts: 0, eventLoopUtilization: 0, heapUsed: 0, closeCodes: {}, errors: 0, at,
  };
}

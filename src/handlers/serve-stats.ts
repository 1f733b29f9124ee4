/**
 * What `wsthreads serve` reports about each worker thread, and the channel it travels on. Worker
 * threads post a WorkerStats every STATS_INTERVAL_MS on a BroadcastChannel; any thread that holds
 * a status-page connection listens on the same channel and forwards a ServeStatsSnapshot to the
 * page once a second.
 */

/** Cumulative figures of one worker thread since it started serving. */
export interface WorkerStats {
  threadId: number;
  connections: number;
  messagesIn: number;
  messagesOut: number;
  /** Bytes handed to sockets and not yet written (sum of bytesToWrite()), at `at`. */
  bytesQueued: number;
  /** Connections dropped for silence: pinged, and no answer within the pong timeout (1001). */
  idleTimeouts: number;
  /** Connections closed because a frame or fragmented message stopped arriving (1001). */
  frameTimeouts: number;
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

/** What the status page receives once a second: the latest sample of every worker seen. */
export interface ServeStatsSnapshot {
  type: 'stats';
  at: number;
  workers: WorkerStats[];
  /** The latest topics summary, once the owner has posted one. */
  pubsub?: PubSubSummary;
}

export const STATS_INTERVAL_MS = 500;

/** The WebSocket path of the status page's live feed; its connections are not counted. */
export const STATS_PATH = '/.wsthreads/stats';

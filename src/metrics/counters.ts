/**
 * Per-thread counters: plain numbers, incremented on the hot path with no calls. Each worker
 * thread has its own instance of this module; the main thread asks for a snapshot on scrape and
 * adds them up (STYLE pattern 5). called from: worker (increments), main (reads snapshots)
 */
export const counters = {
  connectionsAccepted: 0,
  connectionsRejected: 0,
  clientsConnected: 0,
  protocolErrors: 0,
  messagesReceived: 0,
  messagesSent: 0,
  bytesReceived: 0,
  bytesSent: 0,
  publishReceivedQos0: 0,
  publishReceivedQos1: 0,
  publishReceivedQos2: 0,
  /** queue full (max_queued_messages / max_queued_bytes) */
  messagesDroppedQueueFull: 0,
  /** QoS 0 dropped because the client's socket was over its outbound budget, or offline */
  messagesDroppedQos0: 0,
  /** larger than the client's Maximum Packet Size [MQTT-3.1.2-25] */
  messagesDroppedTooLarge: 0,
  messagesExpired: 0,
  /** a `$share` message whose group lost every member on the way between workers */
  messagesDroppedNoMember: 0,
  /** records that waited behind a full ring to another worker (their publishers were paused) */
  ringBacklogRecords: 0,
  /** QoS 1/2 publishes refused or failed because the store could not write */
  storeFailures: 0,
  /** records written or deleted in the persistent store by this thread */
  storeWrites: 0,
  /** store transactions of this thread committed */
  storeCommits: 0,
  /** PUBLISH refused for message_size_limit */
  messagesRejectedTooLarge: 0,
  retainedMessages: 0,
  /** bridges (src/bridge/): messages written to remote brokers, taken from them, connections made and lost */
  bridgeMessagesOut: 0,
  bridgeMessagesIn: 0,
  bridgeConnects: 0,
  bridgeDisconnects: 0,
  subscriptions: 0,
  sessions: 0,
  authFailures: 0,
  aclDenied: 0,
  keepaliveTimeouts: 0,
};

export type Counters = typeof counters;

/** A plain copy, for posting to the main thread. */
export function snapshotCounters(): Record<string, number> {
  return { ...counters };
}

/** Adds snapshots from several threads. Gauges (clientsConnected, sessions, …) add up too. */
export function sumCounters(snapshots: readonly Record<string, number>[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const s of snapshots) {
    for (const [k, v] of Object.entries(s)) total[k] = (total[k] ?? 0) + v;
  }
  return total;
}

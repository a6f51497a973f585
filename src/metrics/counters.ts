/**
 * Per-thread counters: plain numbers, incremented on the hot path with no calls. Each worker
 * thread has its own instance of this module; the main thread asks for a snapshot (in a
 * WorkerReport, report.ts) on a scrape, a `$SYS` tick or stats() and folds them (STYLE pattern 5).
 * called from: worker (increments), main (reads snapshots)
 */
export const counters = {
  connectionsAccepted: 0,
  connectionsRejected: 0,
  clientsConnected: 0,
  /** CONNECTs accepted (CONNACK 0): Mosquitto's `load/connections` */
  connects: 0,
  protocolErrors: 0,
  /** MQTT control packets received, every type */
  messagesReceived: 0,
  /** PUBLISH packets sent */
  messagesSent: 0,
  bytesReceived: 0,
  bytesSent: 0,
  /** payload bytes of the PUBLISH packets received */
  publishBytesReceived: 0,
  /** bytes of the PUBLISH packets sent (headers included) */
  publishBytesSent: 0,
  publishReceivedQos0: 0,
  publishReceivedQos1: 0,
  publishReceivedQos2: 0,
  /** queue full (max_queued_messages / max_queued_bytes) */
  messagesDroppedQueueFull: 0,
  /** QoS 0 dropped because the client's socket was over its outbound budget, or offline */
  messagesDroppedQos0: 0,
  /** larger than the client's Maximum Packet Size [MQTT-3.1.2-25] */
  messagesDroppedTooLarge: 0,
  /** queued messages whose Message Expiry Interval passed before they could be sent */
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
  /** PUBLISH refused while the process was over memory_limit */
  messagesRejectedMemoryLimit: 0,
  retainedMessages: 0,
  /** bridges (src/bridge/): messages written to remote brokers, taken from them, connections made and lost */
  bridgeMessagesOut: 0,
  bridgeMessagesIn: 0,
  bridgeConnects: 0,
  bridgeDisconnects: 0,
  /** other culex nodes (src/nats/): messages sent to NATS, and taken from it and delivered here */
  clusterMessagesOut: 0,
  clusterMessagesIn: 0,
  /** JetStream copies for other nodes' persistent sessions stored in the stream (out), and taken from it here (in); src/nats/durableStream.ts */
  clusterDurableOut: 0,
  clusterDurableIn: 0,
  /** CONNECTs here for a client id another node held, which that node was asked to hand over */
  clusterTakeovers: 0,
  /** registry writes (compare-and-set) lost to another CONNECT for the same client id, then made again */
  clusterRegistryConflicts: 0,
  /** nodes of the cluster heard from lately (src/nats/heartbeat.ts); set by worker 0 only, a gauge */
  clusterNodesAlive: 0,
  subscriptions: 0,
  sessions: 0,
  /** offline sessions ended by their expiry interval (persistent_client_expiration, v5 Session Expiry) */
  sessionsExpired: 0,
  authFailures: 0,
  aclDenied: 0,
  keepaliveTimeouts: 0,
};

export type Counters = typeof counters;

/** A plain copy, for posting to the main thread. */
export function snapshotCounters(): Record<string, number> {
  return { ...counters };
}

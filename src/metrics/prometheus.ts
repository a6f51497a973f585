/**
 * The admin HTTP listener: `/metrics` in Prometheus text format and `/healthz`. Every number
 * comes from the workers' reports (plain counters and gauges read on request, report.ts) and
 * from what the main thread reads itself (rings, the store's file and disk): nothing is counted
 * per message here. Each metric's HELP says what it counts; units are in the names.
 * called from: main
 */
import { createServer, type Server } from 'node:http';
import { AggregatorRegistry } from 'prom-client';
import type { BrokerSnapshot, MetricJSON } from './report.ts';
import { isProcessWide, withLabels, type RuntimeMetrics } from './runtime.ts';

/** What the main thread knows besides the workers' reports, read at scrape time. */
export interface MainView {
  readonly version: string;
  /** by worker index: running and serving (false from its death until its replacement serves) */
  readonly workersUp: readonly boolean[];
  /** worker threads that died and were replaced since start */
  readonly workerRestarts: number;
  /** listener index → configured port and max_connections (-1: unlimited) */
  readonly listeners: readonly { readonly port: number; readonly maxConnections: number }[];
  /** fill of each ring between two workers (0..1); empty with one worker */
  readonly rings: readonly { readonly from: number; readonly to: number; readonly fill: number }[];
  /** joined to other culex nodes (cluster_nats_url): the culex_cluster_* metrics are reported */
  readonly clustered?: boolean;
  /** undefined without persistence */
  readonly store?: { readonly fileBytes: number | undefined; readonly freeDiskBytes: number | undefined };
}

type Labels = Record<string, string>;

/** Monotonic counters of the workers: counter key → metric name, labels, HELP. */
const COUNTERS: readonly (readonly [string, string, Labels, string])[] = [
  ['connectionsAccepted', 'culex_connections_accepted_total', {}, 'Network connections accepted (TCP or WebSocket), before their CONNECT.'],
  ['connectionsRejected', 'culex_connections_rejected_total', {}, 'Connections refused: max_connections reached, or CONNECT answered with an error CONNACK.'],
  ['connects', 'culex_connects_total', {}, 'CONNECTs accepted (CONNACK success).'],
  ['authFailures', 'culex_auth_failures_total', {}, 'CONNECTs refused for bad credentials or not authorised.'],
  ['protocolErrors', 'culex_protocol_errors_total', {}, 'Connections closed for a protocol error (malformed or out-of-order packet).'],
  ['keepaliveTimeouts', 'culex_keepalive_timeouts_total', {}, 'Connections closed because nothing came within 1.5 times their keep-alive.'],
  ['messagesReceived', 'culex_packets_received_total', {}, 'MQTT control packets received from clients, every type.'],
  ['bytesReceived', 'culex_bytes_received_total', {}, 'Bytes of MQTT packets received from clients (after TLS and WebSocket framing).'],
  ['bytesSent', 'culex_bytes_sent_total', {}, 'Bytes of MQTT packets written to clients (before TLS and WebSocket framing).'],
  ['publishReceivedQos0', 'culex_publish_received_total', { qos: '0' }, 'PUBLISH packets received from clients, by QoS.'],
  ['publishReceivedQos1', 'culex_publish_received_total', { qos: '1' }, ''],
  ['publishReceivedQos2', 'culex_publish_received_total', { qos: '2' }, ''],
  ['publishBytesReceived', 'culex_publish_received_bytes_total', {}, 'Payload bytes of the PUBLISH packets received from clients.'],
  ['messagesSent', 'culex_publish_sent_total', {}, 'PUBLISH packets sent to subscribers.'],
  ['publishBytesSent', 'culex_publish_sent_bytes_total', {}, 'Bytes of the PUBLISH packets sent to subscribers (headers included).'],
  ['messagesRejectedTooLarge', 'culex_publish_rejected_total', { reason: 'too_large' }, 'PUBLISH packets received and refused (not routed), by reason.'],
  ['storeFailures', 'culex_publish_rejected_total', { reason: 'store_unavailable' }, ''],
  ['aclDenied', 'culex_acl_denied_total', {}, 'Publishes, subscriptions and deliveries refused by the ACL or dynamic security.'],
  ['messagesDroppedQueueFull', 'culex_messages_dropped_total', { reason: 'queue_full' }, 'Messages a subscriber did not get, by reason: queue_full (max_queued_messages/max_queued_bytes), qos0 (QoS 0 to a congested or offline client), too_large (over the client\'s Maximum Packet Size), expired (Message Expiry Interval passed while queued), no_member (a $share group lost every member in transit).'],
  ['messagesDroppedQos0', 'culex_messages_dropped_total', { reason: 'qos0' }, ''],
  ['messagesDroppedTooLarge', 'culex_messages_dropped_total', { reason: 'too_large' }, ''],
  ['messagesExpired', 'culex_messages_dropped_total', { reason: 'expired' }, ''],
  ['messagesDroppedNoMember', 'culex_messages_dropped_total', { reason: 'no_member' }, ''],
  ['sessionsExpired', 'culex_sessions_expired_total', {}, 'Offline sessions removed when their expiry interval passed.'],
  ['ringBacklogRecords', 'culex_ring_backlog_records_total', {}, 'Records that waited behind a full ring to another worker (their publishers were paused meanwhile).'],
  ['storeWrites', 'culex_store_writes_total', {}, 'Records written to or deleted from the persistent store.'],
  ['storeCommits', 'culex_store_commits_total', {}, 'Persistent store transactions committed.'],
  ['bridgeMessagesOut', 'culex_bridge_messages_out_total', {}, 'Messages written to remote brokers by all bridges (per bridge: culex_bridge_messages_total).'],
  ['bridgeMessagesIn', 'culex_bridge_messages_in_total', {}, 'Messages taken from remote brokers by all bridges.'],
  ['bridgeConnects', 'culex_bridge_connects_total', {}, 'Connections of bridges to their remote brokers made.'],
  ['bridgeDisconnects', 'culex_bridge_disconnects_total', {}, 'Connections of bridges to their remote brokers lost or closed.'],
];

/** A bridge's own counters in a report (src/bridge/bridge.ts bridgeCounters): `bridge_<name>_<stat>`. */
const BRIDGE_COUNTER = /^bridge_(.+)_(messagesOut|messagesIn|connects|disconnects|up|queued|dropped)$/;
const BRIDGE_STATS: Readonly<Record<string, readonly [string, Labels, string, ('counter' | 'gauge')?]>> = {
  messagesOut: ['culex_bridge_messages_total', { direction: 'out' }, 'Messages a bridge wrote to its remote broker (out) or took from it (in), by bridge (its connection name, reduced to [a-z0-9_]).'],
  messagesIn: ['culex_bridge_messages_total', { direction: 'in' }, ''],
  connects: ['culex_bridge_connections_total', { event: 'connect' }, 'Connections a bridge made to its remote broker (connect) and lost or closed (disconnect), by bridge.'],
  disconnects: ['culex_bridge_connections_total', { event: 'disconnect' }, ''],
  dropped: ['culex_bridge_dropped_messages_total', {}, 'Messages a bridge\'s local session did not keep for its remote broker (queue full, QoS 0 while away), by bridge.'],
  up: ['culex_bridge_up', {}, '1 while a bridge is connected to its remote broker, 0 otherwise ($SYS/broker/connection/<id>/state), by bridge.', 'gauge'],
  queued: ['culex_bridge_queued_messages', {}, 'Messages a bridge\'s local session holds for its remote broker (not yet acknowledged by it), by bridge.', 'gauge'],
};

/** The culex_cluster_* metrics of a node joined to others through NATS (src/nats/). */
function clusterMetrics(l: MetricList, c: Record<string, number>): void {
  l.gauge('culex_cluster_nodes_alive', 'Nodes of the cluster (this one included) whose heartbeat came through NATS within the last 3.5 s, as this node sees it.', c.clusterNodesAlive ?? 0);
  l.add('culex_cluster_messages_total', 'counter', 'Messages this node sent to the other nodes through NATS (out), and took from NATS and delivered here (in).', c.clusterMessagesOut ?? 0, { direction: 'out' });
  l.add('culex_cluster_messages_total', 'counter', '', c.clusterMessagesIn ?? 0, { direction: 'in' });
  l.add('culex_cluster_durable_messages_total', 'counter', 'Copies of QoS 1/2 messages for persistent sessions of other nodes that JetStream stored (out), and copies taken from JetStream and queued here (in).', c.clusterDurableOut ?? 0, { direction: 'out' });
  l.add('culex_cluster_durable_messages_total', 'counter', '', c.clusterDurableIn ?? 0, { direction: 'in' });
  l.add('culex_cluster_registry_takeovers_total', 'counter', 'CONNECTs on this node for a client id another node held, which that node was asked to hand over.', c.clusterTakeovers ?? 0);
  l.add('culex_cluster_registry_conflicts_total', 'counter', 'Client-id registry writes lost to a CONNECT for the same id on another node or worker (compare-and-set), then made again over it.', c.clusterRegistryConflicts ?? 0);
}

/** Builds the metric list of one scrape, prom-client JSON, in the order it is rendered. */
class MetricList {
  readonly out: MetricJSON[] = [];
  private readonly byName = new Map<string, MetricJSON>();

  add(name: string, type: 'counter' | 'gauge', help: string, value: number, labels: Labels = {}): void {
    let m = this.byName.get(name);
    if (m === undefined) {
      m = { name, help, type, aggregator: 'sum', values: [] } as unknown as MetricJSON;
      this.byName.set(name, m);
      this.out.push(m);
    }
    m.values.push({ value, labels });
  }

  gauge(name: string, help: string, value: number, labels?: Labels): void {
    this.add(name, 'gauge', help, value, labels);
  }
}

/** The culex_* metrics of one scrape. */
export function brokerMetrics(s: BrokerSnapshot, main: MainView): MetricJSON[] {
  const l = new MetricList();
  const g = s.gauges;
  l.gauge('culex_info', 'Always 1; the version in a label.', 1, { version: main.version });
  l.gauge('culex_clients_connected', 'Clients connected now (CONNECT accepted, connection open).', s.counters.clientsConnected ?? 0);
  for (const [i, lc] of main.listeners.entries()) {
    const labels = { listener: String(i), port: String(lc.port) };
    l.gauge('culex_listener_connections', 'Network connections open on each listener (those still before CONNECT included).', s.listenerConnections[i] ?? 0, labels);
  }
  for (const [i, lc] of main.listeners.entries()) {
    const labels = { listener: String(i), port: String(lc.port) };
    l.gauge('culex_listener_max_connections', 'The listener\'s max_connections (-1: unlimited).', lc.maxConnections > 0 ? lc.maxConnections : -1, labels);
  }
  l.gauge('culex_sessions', 'Sessions, by state: online (connected) or offline (persistent, waiting for their client).', g.sessionsOnline, { state: 'online' });
  l.gauge('culex_sessions', '', g.sessionsOffline, { state: 'offline' });
  l.gauge('culex_subscriptions', 'Subscriptions of every session (a shared subscription counts once per member).', s.counters.subscriptions ?? 0);
  l.gauge('culex_shared_subscriptions', 'Subscriptions to a $share/group/ filter.', g.sharedSubscriptions);
  l.gauge('culex_retained_messages', 'Retained messages published by clients ($SYS not counted), broker-wide.', g.retainedUser);
  l.gauge('culex_retained_bytes', 'Payload bytes of every retained message ($SYS included).', g.retainedBytes);
  l.gauge('culex_queued_messages', 'Messages waiting in session queues, not yet sent.', g.queuedMessages);
  l.gauge('culex_queued_bytes', 'Payload bytes of the messages waiting in session queues.', g.queuedBytes);
  l.gauge('culex_queued_messages_held', 'Messages waiting in session queues by where they are held: in memory, or only in the persistent store (a persistent session\'s queue beyond its window).', g.queuedMessages - g.queuedDiskMessages, { where: 'memory' });
  l.gauge('culex_queued_messages_held', '', g.queuedDiskMessages, { where: 'disk' });
  l.gauge('culex_queued_bytes_held', 'Payload bytes of the messages waiting in session queues, by where they are held (memory, disk).', g.queuedBytes - g.queuedDiskBytes, { where: 'memory' });
  l.gauge('culex_queued_bytes_held', '', g.queuedDiskBytes, { where: 'disk' });
  l.gauge('culex_session_queue_max_messages', 'The longest session queue, messages.', g.largestQueueMessages);
  l.gauge('culex_session_queue_max_bytes', 'The largest session queue, payload bytes.', g.largestQueueBytes);
  l.gauge('culex_inflight_messages', 'QoS 1/2 PUBLISHes sent to clients and not yet acknowledged.', g.inflightMessages);
  l.gauge('culex_inbound_qos2_messages', 'QoS 2 PUBLISHes received whose PUBREL has not come yet.', g.inboundQos2);
  for (const [key, name, labels, help] of COUNTERS) l.add(name, 'counter', help, s.counters[key] ?? 0, labels);
  if (main.clustered === true) clusterMetrics(l, s.counters);
  for (const [key, value] of Object.entries(s.counters)) {
    const m = BRIDGE_COUNTER.exec(key);
    if (m === null) continue;
    const [name, labels, help, type] = BRIDGE_STATS[m[2]!]!;
    l.add(name, type ?? 'counter', help, value, { bridge: m[1]!, ...labels });
  }
  l.gauge('culex_workers', 'Worker threads configured.', main.workersUp.length);
  for (const [i, up] of main.workersUp.entries()) l.gauge('culex_worker_up', '1 while the worker thread runs and serves; 0 from its death until its replacement serves.', up ? 1 : 0, { worker: String(i) });
  l.add('culex_worker_restarts_total', 'counter', 'Worker threads that died and were replaced.', main.workerRestarts);
  for (const [i, r] of s.workers.entries()) {
    if (r === undefined) continue;
    l.gauge('culex_worker_clients_connected', 'Clients connected to each worker thread.', r.counters.clientsConnected ?? 0, { worker: String(i) });
  }
  for (const [i, r] of s.workers.entries()) {
    if (r?.gauges === undefined || r.gauges.cpuSeconds === 0) continue;
    l.add('culex_worker_cpu_seconds_total', 'counter', 'CPU time of each worker thread, user and system (restarts from 0 in a replacement thread).', r.gauges.cpuSeconds, { worker: String(i) });
  }
  for (const r of main.rings) {
    l.gauge('culex_ring_fill_ratio', 'Fill of the ring from one worker to another (0..1); at 1 the sender\'s publishers are paused.', r.fill, { from: String(r.from), to: String(r.to) });
  }
  if (main.store !== undefined) {
    l.gauge('culex_store_healthy', '1 while the persistent store writes; 0 while it refuses durable work (disk full, I/O error).', s.storeHealthy === false ? 0 : 1);
    l.gauge('culex_store_deferred_writes', 'Store writes held in memory while the store is unhealthy.', g.storeDeferredWrites);
    if (main.store.fileBytes !== undefined) l.gauge('culex_store_file_bytes', 'Size of the LMDB data file (it never shrinks; freed pages are reused).', main.store.fileBytes);
    if (main.store.freeDiskBytes !== undefined) l.gauge('culex_store_free_disk_bytes', 'Free bytes on the file system of persistence_location (for unprivileged users).', main.store.freeDiskBytes);
  }
  return l.out;
}

/**
 * The whole scrape as text: culex_* metrics, then the runtime metrics of the main thread
 * (process_* once, nodejs_* with worker="main") and of each worker (nodejs_* with worker="N").
 */
export async function renderMetrics(s: BrokerSnapshot, main: MainView, runtime: RuntimeMetrics): Promise<{ text: string; contentType: string }> {
  const own = await runtime.all();
  const parts: MetricJSON[][] = [
    brokerMetrics(s, main),
    withLabels(own.filter((m) => isProcessWide(m.name)), {}),
    withLabels(own.filter((m) => !isProcessWide(m.name)), { worker: 'main' }),
  ];
  for (const [i, r] of s.workers.entries()) if (r?.runtime !== undefined) parts.push(withLabels(r.runtime, { worker: String(i) }));
  const registry = AggregatorRegistry.aggregate(parts);
  return { text: await registry.metrics(), contentType: registry.contentType };
}

/** What the admin listener serves. */
export interface MetricsSource {
  /** the text of /metrics */
  scrape(): Promise<{ text: string; contentType: string }>;
  /** undefined when healthy; otherwise why not (the 503 body) */
  unhealthy(): Promise<string | undefined>;
}

export function startMetricsServer(host: string, port: number, source: MetricsSource): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz') {
      source.unhealthy().then(
        (why) => res.writeHead(why === undefined ? 200 : 503, { 'content-type': 'text/plain' }).end(why === undefined ? 'ok\n' : `unhealthy: ${why}\n`),
        (err: unknown) => res.writeHead(503, { 'content-type': 'text/plain' }).end(`unhealthy: ${String(err)}\n`),
      );
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    source.scrape().then(
      ({ text, contentType }) => res.writeHead(200, { 'content-type': contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });
}

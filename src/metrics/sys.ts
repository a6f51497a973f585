/**
 * The `$SYS/broker/...` tree with Mosquitto 2.0's topics, names, payload formats and meanings
 * (mosquitto src/sys_tree.c): computed by the main thread every sys_interval from the workers'
 * folded reports; only the topics whose value changed are sent to the workers, which publish
 * them retained to their own subscribers (as Mosquitto publishes each only when it changes).
 * Load topics are Mosquitto's exponentially-damped per-minute rates over 1, 5 and 15 minutes,
 * printed with two decimals and republished when they move by 0.01 or more.
 * Where culex counts differently (noted per topic below) the nearest culex number is used.
 * called from: main
 */
import type { BrokerSnapshot } from './report.ts';

/** Counter keys whose per-minute rate gives each `$SYS/broker/load/<name>/...` topic. */
const LOADS: readonly (readonly [string, (c: Record<string, number>) => number])[] = [
  ['messages/received', (c) => c.messagesReceived ?? 0],
  // culex counts PUBLISH packets sent, not every packet
  ['messages/sent', (c) => c.messagesSent ?? 0],
  ['publish/dropped', dropped],
  ['publish/received', publishReceived],
  ['publish/sent', (c) => c.messagesSent ?? 0],
  ['bytes/received', (c) => c.bytesReceived ?? 0],
  ['bytes/sent', (c) => c.bytesSent ?? 0],
  ['sockets', (c) => c.connectionsAccepted ?? 0],
  ['connections', (c) => c.connects ?? 0],
];

/** the damping windows, seconds, with their topic suffix */
const WINDOWS = [['1min', 60], ['5min', 300], ['15min', 900]] as const;

function dropped(c: Record<string, number>): number {
  return (c.messagesDroppedQueueFull ?? 0) + (c.messagesDroppedQos0 ?? 0) + (c.messagesDroppedTooLarge ?? 0) + (c.messagesExpired ?? 0) + (c.messagesDroppedNoMember ?? 0);
}

function publishReceived(c: Record<string, number>): number {
  return (c.publishReceivedQos0 ?? 0) + (c.publishReceivedQos1 ?? 0) + (c.publishReceivedQos2 ?? 0);
}

/**
 * The `$SYS` tree of one broker: remembers the last values sent, the maxima and the load
 * averages between updates. One instance per broker, updated every sys_interval.
 */
export class SysTree {
  private readonly version: string;
  private readonly last = new Map<string, string>();
  private readonly loads = new Map<string, number>();
  private lastCounts: Record<string, number> | undefined;
  private lastAt = 0;
  private clientsMax = 0;
  private heapMax = 0;

  /** joined to other nodes (cluster_nats_url): `$SYS/broker/cluster/nodes` is published */
  private readonly clustered: boolean;

  constructor(version: string, clustered = false) {
    this.version = version;
    this.clustered = clustered;
  }

  /**
   * The topics to publish now: every topic on the first call, then those whose payload changed.
   * `heapBytes`: V8 heap in use by every thread of the process; `nowSeconds`, `uptimeSeconds`: whole seconds.
   */
  update(s: BrokerSnapshot, heapBytes: number, nowSeconds: number, uptimeSeconds: number): [string, string][] {
    const out: [string, string][] = [];
    for (const [topic, value] of this.values(s, heapBytes, nowSeconds, uptimeSeconds)) {
      if (this.last.get(topic) === value) continue;
      this.last.set(topic, value);
      out.push([topic, value]);
    }
    return out;
  }

  private values(s: BrokerSnapshot, heapBytes: number, now: number, uptime: number): [string, string][] {
    const c = s.counters;
    const g = s.gauges;
    const n = (k: string) => String(c[k] ?? 0);
    const total = c.sessions ?? 0;
    const connected = c.clientsConnected ?? 0;
    this.clientsMax = Math.max(this.clientsMax, total);
    this.heapMax = Math.max(this.heapMax, heapBytes);
    // Mosquitto's message store holds each retained, queued and in-flight message
    const stored = String(g.retainedAll + g.queuedMessages + g.inflightMessages);
    const entries: [string, string][] = [
      ['$SYS/broker/version', `culex version ${this.version}`],
      ['$SYS/broker/uptime', `${uptime} seconds`],
      // every client id the broker knows: connected, or a persistent session waiting
      ['$SYS/broker/clients/total', String(total)],
      ['$SYS/broker/clients/maximum', String(this.clientsMax)],
      ['$SYS/broker/clients/inactive', String(Math.max(0, total - connected))],
      ['$SYS/broker/clients/disconnected', String(Math.max(0, total - connected))],
      ['$SYS/broker/clients/active', String(connected)],
      ['$SYS/broker/clients/connected', String(connected)],
      ['$SYS/broker/clients/expired', n('sessionsExpired')],
      ['$SYS/broker/messages/stored', stored],
      ['$SYS/broker/store/messages/count', stored],
      // payload bytes of retained and queued messages (in-flight ones are not counted)
      ['$SYS/broker/store/messages/bytes', String(g.retainedBytes + g.queuedBytes)],
      ['$SYS/broker/subscriptions/count', n('subscriptions')],
      ['$SYS/broker/shared_subscriptions/count', String(g.sharedSubscriptions)],
      // Mosquitto counts its own `$SYS` messages here too
      ['$SYS/broker/retained messages/count', String(g.retainedAll)],
      ['$SYS/broker/heap/current', String(heapBytes)],
      ['$SYS/broker/heap/maximum', String(this.heapMax)],
      ['$SYS/broker/messages/received', n('messagesReceived')],
      ['$SYS/broker/messages/sent', n('messagesSent')],
      ['$SYS/broker/publish/messages/dropped', String(dropped(c))],
      ['$SYS/broker/publish/messages/received', String(publishReceived(c))],
      ['$SYS/broker/publish/messages/sent', n('messagesSent')],
      ['$SYS/broker/bytes/received', n('bytesReceived')],
      ['$SYS/broker/bytes/sent', n('bytesSent')],
      ['$SYS/broker/publish/bytes/received', n('publishBytesReceived')],
      ['$SYS/broker/publish/bytes/sent', n('publishBytesSent')],
    ];
    // culex: nodes joined through NATS (src/nats/heartbeat.ts); absent for a broker alone
    if (this.clustered) entries.push(['$SYS/broker/cluster/nodes', n('clusterNodesAlive')]);
    entries.push(...this.loadValues(c, now));
    return entries;
  }

  /** sys_tree.c calc_load: new = rate + e^(-Δt/window) × (old − rate), rate per minute since the last update. */
  private loadValues(c: Record<string, number>, now: number): [string, string][] {
    const prev = this.lastCounts;
    const elapsed = Math.max(1, now - this.lastAt);
    this.lastCounts = { ...c };
    this.lastAt = now;
    const out: [string, string][] = [];
    for (const [name, read] of LOADS) {
      const rate = prev === undefined ? 0 : Math.max(0, read(c) - read(prev)) * (60 / elapsed);
      for (const [suffix, window] of WINDOWS) {
        const topic = `$SYS/broker/load/${name}/${suffix}`;
        const old = this.loads.get(topic);
        const value = old === undefined ? rate : rate + Math.exp(-elapsed / window) * (old - rate);
        this.loads.set(topic, value);
        // a move of less than 0.01 is not published (the damped value still moves on)
        if (old === undefined || Math.abs(value - old) >= 0.01) out.push([topic, value.toFixed(2)]);
      }
    }
    return out;
  }
}

/**
 * What a worker thread reports to the main thread when asked (ToWorker/FromWorker 'stats'), and
 * how the main thread folds the reports of every worker into one broker-wide snapshot: counters
 * that never go down across a worker's replacement, gauges summed or taken once.
 * Nothing here runs per message: a report is built on request (a scrape, `$SYS` every
 * sys_interval, /healthz).
 * called from: worker (WorkerReport built by workers/stats.ts), main (fold)
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

/** Point-in-time numbers of one worker, computed when asked (walks its sessions once). */
export interface WorkerGauges {
  /** sessions with a connection */
  sessionsOnline: number;
  /** persistent sessions without a connection */
  sessionsOffline: number;
  /** messages waiting in session queues (not yet sent) */
  queuedMessages: number;
  /** payload bytes of those messages (what max_queued_bytes limits) */
  queuedBytes: number;
  /** of the queued messages, those held only in the store (a persistent session's queue beyond its window) */
  queuedDiskMessages: number;
  /** their payload bytes */
  queuedDiskBytes: number;
  /** the longest session queue of this worker, messages */
  largestQueueMessages: number;
  /** the largest session queue of this worker, bytes */
  largestQueueBytes: number;
  /** QoS 1/2 PUBLISHes sent and not yet acknowledged */
  inflightMessages: number;
  /** QoS 2 PUBLISHes received whose PUBREL has not come */
  inboundQos2: number;
  /** subscriptions to a `$share/group/...` filter */
  sharedSubscriptions: number;
  /** retained messages clients published ($SYS not counted); every worker holds all of them */
  retainedUser: number;
  /** every retained message, `$SYS` included (Mosquitto's `retained messages/count`) */
  retainedAll: number;
  /** payload bytes of every retained message */
  retainedBytes: number;
  /** writes waiting in memory while this thread's store is unhealthy */
  storeDeferredWrites: number;
  /** V8 heap in use by this thread, bytes */
  heapUsedBytes: number;
  /** CPU time of this thread (user + system), seconds; 0 where Node cannot tell */
  cpuSeconds: number;
}

/** prom-client's JSON form of a metric (registry.getMetricsAsJSON()) */
export type MetricJSON = MetricObjectWithValues<MetricValue<string>>;

/** How much a 'stats' request asks for: counters only (cheap: /healthz), gauges too (a walk of the sessions: `$SYS`), or the runtime metrics as well (a scrape). */
export type ReportDetail = 'counters' | 'gauges' | 'all';

/** One worker's answer to 'stats'. */
export interface WorkerReport {
  /** the thread's id: a replacement worker has another one (its counters start from 0) */
  readonly threadId: number;
  /** the request's id: a worker takes its snapshots in request order, but answers with detail later than without */
  readonly seq: number;
  /** the worker's counters (metrics/counters.ts) */
  readonly counters: Record<string, number>;
  /** its store's health; undefined without persistence */
  readonly storeHealthy: boolean | undefined;
  /** with detail 'gauges' or 'all' */
  readonly gauges?: WorkerGauges;
  /** connections open on each listener, by listener index (with detail 'gauges' or 'all') */
  readonly listenerConnections?: readonly number[];
  /** the thread's runtime metrics (heap, event loop, GC), prom-client JSON (with detail 'all', when /metrics is served) */
  readonly runtime?: readonly MetricJSON[];
}

/** How a worker's gauge adds up over the workers. */
const GAUGE_FOLD: Record<keyof WorkerGauges, 'sum' | 'max'> = {
  sessionsOnline: 'sum',
  sessionsOffline: 'sum',
  queuedMessages: 'sum',
  queuedBytes: 'sum',
  queuedDiskMessages: 'sum',
  queuedDiskBytes: 'sum',
  largestQueueMessages: 'max',
  largestQueueBytes: 'max',
  inflightMessages: 'sum',
  inboundQos2: 'sum',
  sharedSubscriptions: 'sum',
  // every worker holds every retained message: counted once
  retainedUser: 'max',
  retainedAll: 'max',
  retainedBytes: 'max',
  storeDeferredWrites: 'sum',
  heapUsedBytes: 'sum',
  cpuSeconds: 'sum',
};

/** Counters that are point-in-time values (they go down): summed as they are, never made monotonic. */
const GAUGE_COUNTERS: ReadonlySet<string> = new Set(['clientsConnected', 'sessions', 'subscriptions', 'retainedMessages', 'clusterNodesAlive']);
/** the bridges' point-in-time numbers (src/bridge/bridge.ts bridgeCounters) */
const BRIDGE_GAUGE = /^bridge_.+_(up|queued)$/;

function isGaugeCounter(key: string): boolean {
  return GAUGE_COUNTERS.has(key) || BRIDGE_GAUGE.test(key);
}

/** The broker-wide view built from one round of worker reports. */
export interface BrokerSnapshot {
  /** counters summed over the workers; monotonic ones include what replaced workers had counted */
  readonly counters: Record<string, number>;
  /** gauges folded over the workers that answered with detail (zeros otherwise) */
  readonly gauges: WorkerGauges;
  /** connections open on each listener, summed over the workers */
  readonly listenerConnections: readonly number[];
  /** by worker index; undefined where a worker did not answer (dead, or being replaced) */
  readonly workers: readonly (WorkerReport | undefined)[];
  /** false when a worker that answered has an unhealthy store; undefined without persistence */
  readonly storeHealthy: boolean | undefined;
}

export function emptyGauges(): WorkerGauges {
  const g = {} as WorkerGauges;
  for (const k of Object.keys(GAUGE_FOLD) as (keyof WorkerGauges)[]) g[k] = 0;
  return g;
}

/**
 * Folds worker reports into broker snapshots. A worker's monotonic counters restart from 0 in
 * its replacement: what the previous thread of that index had counted (as of its last report)
 * is kept in a base, so the broker's counters never go down.
 * Invariant: counters[k] = Σ over indexes (base[i][k] + last report of the current thread[i][k]).
 */
export class ReportFolder {
  private readonly threads: (number | undefined)[] = [];
  private readonly seqs: number[] = [];
  private readonly last: (Record<string, number> | undefined)[] = [];
  private readonly base: Record<string, number>[] = [];

  fold(reports: readonly (WorkerReport | undefined)[]): BrokerSnapshot {
    const counters: Record<string, number> = {};
    const gauges = emptyGauges();
    const listeners: number[] = [];
    let storeHealthy: boolean | undefined;
    for (let i = 0; i < Math.max(reports.length, this.last.length); i++) {
      const r = reports[i];
      if (r !== undefined) this.remember(i, r);
      const base = this.base[i] ?? {};
      const cur = this.last[i] ?? {};
      for (const k of new Set([...Object.keys(base), ...Object.keys(cur)])) {
        // a gauge-like counter of a worker that did not answer is not counted: its clients are gone
        const v = isGaugeCounter(k) ? (r === undefined ? 0 : cur[k] ?? 0) : (base[k] ?? 0) + (cur[k] ?? 0);
        counters[k] = (counters[k] ?? 0) + v;
      }
      if (r === undefined) continue;
      if (r.storeHealthy !== undefined) storeHealthy = (storeHealthy ?? true) && r.storeHealthy;
      if (r.gauges !== undefined) {
        for (const [k, how] of Object.entries(GAUGE_FOLD) as [keyof WorkerGauges, 'sum' | 'max'][]) {
          gauges[k] = how === 'sum' ? gauges[k] + r.gauges[k] : Math.max(gauges[k], r.gauges[k]);
        }
      }
      r.listenerConnections?.forEach((n, l) => (listeners[l] = (listeners[l] ?? 0) + n));
    }
    return { counters, gauges, listenerConnections: listeners, workers: reports, storeHealthy };
  }

  private remember(i: number, r: WorkerReport): void {
    // an older snapshot of the same thread, answered after a newer one (detail takes longer): keep the newer
    if (this.threads[i] === r.threadId && r.seq < (this.seqs[i] ?? 0)) return;
    this.seqs[i] = r.seq;
    if (this.threads[i] !== undefined && this.threads[i] !== r.threadId) {
      // a replacement thread: what its predecessor counted joins the base
      const base = (this.base[i] ??= {});
      for (const [k, v] of Object.entries(this.last[i] ?? {})) if (!isGaugeCounter(k)) base[k] = (base[k] ?? 0) + v;
    }
    this.threads[i] = r.threadId;
    this.last[i] = r.counters;
  }
}

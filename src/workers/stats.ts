/**
 * A worker's answer to the main thread's 'stats' request: its counters, its store's health and,
 * with more detail, the gauges read from its sessions and retained store and its thread's runtime
 * metrics. Built on request only (scrape, `$SYS` tick, /healthz): one walk of the sessions,
 * nothing per message.
 * called from: worker
 */
import { threadId } from 'node:worker_threads';
import { getHeapStatistics } from 'node:v8';
import type { Broker } from '../broker/broker.ts';
import { snapshotCounters } from '../metrics/counters.ts';
import type { ReportDetail, WorkerGauges, WorkerReport } from '../metrics/report.ts';
import type { RuntimeMetrics } from '../metrics/runtime.ts';

/** What the report reads from the worker's store. */
export interface StoreHealth {
  readonly healthy: boolean;
  stats(): { deferred: number };
}

/** The gauges of this worker, from one walk of its sessions. */
export function workerGauges(broker: Broker, store: StoreHealth | undefined): WorkerGauges {
  let online = 0;
  let offline = 0;
  let queued = 0;
  let queuedBytes = 0;
  let diskMessages = 0;
  let diskBytes = 0;
  let largest = 0;
  let largestBytes = 0;
  let inflight = 0;
  let inbound = 0;
  let shared = 0;
  for (const s of broker.sessions.values()) {
    for (const sub of s.subscriptions.values()) if (sub.filter.group !== undefined) shared++;
    if (s.link !== undefined) online++;
    else offline++;
    const n = s.queuedCount;
    const b = s.queuedBytes;
    queued += n;
    queuedBytes += b;
    diskMessages += s.queuedOnDisk;
    diskBytes += s.queuedBytesOnDisk;
    if (n > largest) largest = n;
    if (b > largestBytes) largestBytes = b;
    inflight += s.outbound.size;
    inbound += s.inbound.size;
  }
  // the `$SYS` tree is retained too (each worker publishes it to its own subscribers)
  const sys = broker.retained.match('$SYS/#', Date.now()).length;
  const cpu = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage() : undefined;
  return {
    sessionsOnline: online,
    sessionsOffline: offline,
    queuedMessages: queued,
    queuedBytes,
    queuedDiskMessages: diskMessages,
    queuedDiskBytes: diskBytes,
    largestQueueMessages: largest,
    largestQueueBytes: largestBytes,
    inflightMessages: inflight,
    inboundQos2: inbound,
    sharedSubscriptions: shared,
    retainedUser: broker.retained.size - sys,
    retainedAll: broker.retained.size,
    retainedBytes: broker.retained.bytes,
    storeDeferredWrites: store?.stats().deferred ?? 0,
    heapUsedBytes: getHeapStatistics().used_heap_size,
    cpuSeconds: cpu === undefined ? 0 : (cpu.user + cpu.system) / 1e6,
  };
}

/**
 * The report for a 'stats' request. `listenerConnections`: this worker's open connections per
 * listener; `runtime`: the thread's default metrics, read only with detail 'all'; `seq`: the
 * request's id; `more`: counters kept outside metrics/counters.ts (the bridges', by name).
 */
export async function workerReport(
  broker: Broker,
  store: StoreHealth | undefined,
  listenerConnections: readonly number[],
  runtime: RuntimeMetrics | undefined,
  seq: number,
  detail: ReportDetail,
  more?: Readonly<Record<string, number>>,
): Promise<WorkerReport> {
  const counters = more === undefined ? snapshotCounters() : { ...snapshotCounters(), ...more };
  const storeHealthy = store?.healthy;
  if (detail === 'counters') return { threadId, seq, counters, storeHealthy };
  return {
    threadId,
    seq,
    counters,
    storeHealthy,
    gauges: workerGauges(broker, store),
    listenerConnections: [...listenerConnections],
    runtime: runtime === undefined || detail !== 'all' ? undefined : await runtime.threadOnly(),
  };
}

/**
 * The main thread's view of the broker for operators: folds the workers' reports (metrics/
 * report.ts) into broker-wide numbers, serves /metrics and /healthz (metrics/prometheus.ts) when
 * metrics_listener is set, and publishes the `$SYS` tree (metrics/sys.ts) every sys_interval.
 * It adds what only the main thread can read: which workers are up, the rings' fill, the store's
 * file and free disk.
 * called from: main
 */
import { statSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import type { BrokerConfig } from '../config/types.ts';
import { ReportFolder, type BrokerSnapshot, type ReportDetail, type WorkerReport } from '../metrics/report.ts';
import type { MainView } from '../metrics/prometheus.ts';
import { SysTree } from '../metrics/sys.ts';
import { freeBytes } from '../persistence/errors.ts';
import { ringFill } from './ring.ts';
import type { ClusterShared } from './shared.ts';

/** How long a scrape, `$SYS` or stats() waits for a worker's report. */
const REPORT_TIMEOUT_MS = 5000;
/** How long /healthz waits: a worker whose event loop is stuck this long is reported unhealthy. */
const HEALTH_TIMEOUT_MS = 2000;

export interface ObservabilityOptions {
  readonly config: BrokerConfig;
  readonly version: string;
  /** the listeners' actual ports */
  readonly ports: readonly number[];
  readonly shared: ClusterShared | undefined;
  /** by worker index: serving (the server keeps it current) */
  readonly up: readonly boolean[];
  restarts(): number;
  stopping(): boolean;
  /** one round of 'stats' requests to the workers that are up */
  ask(detail: ReportDetail, timeoutMs: number): Promise<(WorkerReport | undefined)[]>;
  /** sends changed `$SYS` topics to every worker */
  publishSys(entries: [string, string][]): void;
}

export interface Observability {
  /** broker-wide counters (monotonic across worker replacements) and gauge counters */
  stats(): Promise<Record<string, number>>;
  /** one round of reports, by worker index */
  ask(detail: ReportDetail): Promise<(WorkerReport | undefined)[]>;
  /** sys_interval changed by a reload: the $SYS timer restarts with it (0 = off) */
  setSysInterval(seconds: number): void;
  close(): void;
}

export async function startObservability(o: ObservabilityOptions): Promise<Observability> {
  const { config } = o;
  const folder = new ReportFolder();
  const snapshot = async (detail: ReportDetail, timeoutMs = REPORT_TIMEOUT_MS): Promise<BrokerSnapshot> => folder.fold(await o.ask(detail, timeoutMs));
  const persistent = config.persistence && config.persistenceDurability !== 'off';

  const mainView = (): MainView => ({
    version: o.version,
    workersUp: o.up,
    workerRestarts: o.restarts(),
    listeners: config.listeners.map((l, i) => ({ port: o.ports[i] ?? l.port, maxConnections: l.maxConnections })),
    rings: ringFills(o.shared),
    clustered: config.clusterNatsUrls.length > 0,
    store: persistent ? { fileBytes: fileSize(join(config.persistenceLocation, 'data.mdb')), freeDiskBytes: freeBytes(config.persistenceLocation) } : undefined,
  });

  /** undefined when healthy; otherwise the reason, for the 503 body */
  const unhealthy = async (): Promise<string | undefined> => {
    if (o.stopping()) return 'stopping';
    const down = o.up.flatMap((u, i) => (u ? [] : [i]));
    if (down.length > 0) return `worker ${down.join(', ')} down`;
    const reports = await o.ask('counters', HEALTH_TIMEOUT_MS);
    // no report: died while asked, or its event loop is stuck
    const silent = reports.flatMap((r, i) => (r === undefined ? [i] : []));
    if (silent.length > 0) return `worker ${silent.join(', ')} ${silent.every((i) => o.up[i] !== true) ? 'down' : 'not answering'}`;
    if (reports.some((r) => r?.storeHealthy === false)) return `persistent store ${config.persistenceLocation} refuses writes (disk full or I/O error)`;
    return undefined;
  };

  let server: Server | undefined;
  const m = config.metricsListener;
  if (m !== undefined) {
    const { renderMetrics, startMetricsServer } = await import('../metrics/prometheus.ts');
    const runtime = new (await import('../metrics/runtime.ts')).RuntimeMetrics();
    server = await startMetricsServer(m.host, m.port, {
      scrape: async () => renderMetrics(await snapshot('all'), mainView(), runtime),
      unhealthy,
    });
  }

  const sys = new SysTree(o.version, config.clusterNatsUrls.length > 0);
  const startedAt = Date.now();
  const publishSys = async (): Promise<void> => {
    const s = await snapshot('gauges');
    const now = Date.now();
    const entries = sys.update(s, getHeapStatistics().used_heap_size + s.gauges.heapUsedBytes, Math.floor(now / 1000), Math.floor((now - startedAt) / 1000));
    if (entries.length > 0 && !o.stopping()) o.publishSys(entries);
  };
  const sysTimerOf = (seconds: number): NodeJS.Timeout | undefined => {
    const t = seconds > 0 ? setInterval(() => void publishSys(), seconds * 1000) : undefined;
    t?.unref();
    return t;
  };
  let sysTimer = sysTimerOf(config.sysInterval);
  if (sysTimer !== undefined) await publishSys();

  return {
    stats: async () => (await snapshot('counters')).counters,
    ask: (detail) => o.ask(detail, REPORT_TIMEOUT_MS),
    setSysInterval(seconds: number) {
      clearInterval(sysTimer);
      sysTimer = sysTimerOf(seconds);
    },
    close() {
      clearInterval(sysTimer);
      server?.close();
    },
  };
}

function ringFills(shared: ClusterShared | undefined): MainView['rings'] {
  if (shared === undefined) return [];
  const out: { from: number; to: number; fill: number }[] = [];
  for (let from = 0; from < shared.workers; from++) {
    for (let to = 0; to < shared.workers; to++) {
      const ring = shared.rings[from * shared.workers + to];
      if (ring) out.push({ from, to, fill: ringFill(ring) });
    }
  }
  return out;
}

function fileSize(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

/**
 * The Node.js runtime metrics of one thread (prom-client's default metrics: V8 heap, event-loop
 * lag, GC pauses, active handles), collected by a registry of the thread's own. Each worker and
 * the main thread run one; the main thread asks the workers for theirs (as prom-client JSON) on
 * a scrape and labels every series with the thread it came from (`worker`).
 * prom-client's AggregatorRegistry is for `cluster` processes: it is not used to collect here,
 * only its `aggregate` to render the merged JSON.
 * called from: worker, main
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { MetricJSON } from './report.ts';

/** Series that describe the whole process: the main thread reports them once, without a `worker` label. */
export function isProcessWide(name: string): boolean {
  return name.startsWith('process_') || name === 'nodejs_version_info';
}

/** The default metrics of the calling thread. Create one per thread, once. */
export class RuntimeMetrics {
  private readonly registry = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Every default metric of this thread, prom-client JSON. */
  all(): Promise<MetricJSON[]> {
    return this.registry.getMetricsAsJSON() as Promise<MetricJSON[]>;
  }

  /** Only the series that belong to this thread (heap, event loop, GC, handles), for posting to the main thread. */
  async threadOnly(): Promise<MetricJSON[]> {
    return (await this.all()).filter((m) => !isProcessWide(m.name));
  }
}

/** A copy of `metrics` with `labels` added to every value (and every value's aggregator made 'sum', so that merging keeps them apart). */
export function withLabels(metrics: readonly MetricJSON[], labels: Record<string, string>): MetricJSON[] {
  return metrics.map((m) => ({ ...m, aggregator: 'sum', values: m.values.map((v) => ({ ...v, labels: { ...v.labels, ...labels } })) }));
}

/**
 * From the raw runs to per-scenario summaries: median and range over rounds, and the
 * culex/Mosquitto and culex/floor ratio of each compared metric.
 */
import type { BrokerName } from './brokers.ts';
import { otherCpuPct, type GeneratorResult } from './generator.ts';
import { METRICS, type MetricKey, type Scenario } from './scenarios.ts';

/** One generator run against one broker. */
export interface RunRecord {
  readonly scenario: string;
  readonly broker: BrokerName;
  readonly round: number;
  readonly startedAt: string;
  readonly result?: GeneratorResult;
  /** why the run produced no result */
  readonly error?: string;
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export interface BrokerSummary {
  readonly runs: number;
  /** runs with failed connections, a broker that closed connections, or no result */
  readonly invalid: number;
  readonly metrics: Partial<Record<MetricKey, Spread>>;
  readonly brokerCpuPct?: Spread;
  readonly brokerRssMaxMb?: Spread;
  readonly lostPct?: Spread;
  readonly genCpuPct?: Spread;
  readonly genSaturatedRuns: number;
  /** CPU of everything else on the host during the measurement: noise when high */
  readonly otherCpuPct?: Spread;
}

export interface Ratio {
  readonly metric: MetricKey;
  /** what culex is compared with: Mosquitto, or the platform floor (native-bench/floor.ts) */
  readonly versus: 'mosquitto' | 'floor';
  /** median(culex) / median(versus) */
  readonly ratio: number;
  /** > 1 when culex is better, whichever direction the metric improves in */
  readonly advantage: number;
}

export interface ScenarioSummary {
  readonly scenario: string;
  readonly description: string;
  /** the scenario's compared metrics (Scenario.compare) */
  readonly compare: readonly MetricKey[];
  readonly brokers: Partial<Record<BrokerName, BrokerSummary>>;
  readonly ratios: readonly Ratio[];
}

/** The value of `key` in one result; undefined when the run did not measure it. */
export function metricValue(r: GeneratorResult, key: MetricKey): number | undefined {
  switch (key) {
    case 'recvRate': return r.measure_s > 0 ? r.recv_rate : undefined;
    case 'latencyP50': return r.latency_us.count ? r.latency_us.p50 / 1000 : undefined;
    case 'latencyP99': return r.latency_us.count ? r.latency_us.p99 / 1000 : undefined;
    case 'latencyP999': return r.latency_us.count ? r.latency_us.p999 / 1000 : undefined;
    case 'rssPerConn': return r.broker && r.broker.rss_per_conn_bytes > 0 ? r.broker.rss_per_conn_bytes : undefined;
    case 'connectRate': return r.connect.ok ? r.connect.rate_per_s : undefined;
    case 'ackRate': return r.measure_s > 0 && r.qos > 0 ? r.ack_rate : undefined;
    case 'ackLatencyP50': return r.ack_latency_us?.count ? r.ack_latency_us.p50 / 1000 : undefined;
    case 'ackLatencyP99': return r.ack_latency_us?.count ? r.ack_latency_us.p99 / 1000 : undefined;
  }
}

/** Median (mean of the middle two for an even count), min and max; undefined when empty. */
export function spread(values: readonly number[]): Spread | undefined {
  if (!values.length) return undefined;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}

function collect(results: readonly GeneratorResult[], f: (r: GeneratorResult) => number | undefined): Spread | undefined {
  const values: number[] = [];
  for (const r of results) {
    const x = f(r);
    if (x !== undefined && Number.isFinite(x)) values.push(x);
  }
  return spread(values);
}

function summarizeBroker(scenario: Scenario, runs: readonly RunRecord[]): BrokerSummary {
  const results = runs.flatMap((r) => (r.result ? [r.result] : []));
  const metrics: Partial<Record<MetricKey, Spread>> = {};
  // a scenario that compares acknowledgements (durable-*) also gets both PUBACK percentiles
  const acks: MetricKey[] = scenario.compare.includes('ackRate') ? ['ackRate', 'ackLatencyP50', 'ackLatencyP99'] : [];
  for (const key of [...new Set<MetricKey>([...scenario.compare, 'recvRate', 'latencyP50', 'latencyP99', 'latencyP999', ...acks])]) {
    const s = collect(results, (r) => metricValue(r, key));
    if (s) metrics[key] = s;
  }
  return {
    runs: runs.length,
    invalid: runs.filter((r) => !r.result || !r.result.ok).length,
    metrics,
    brokerCpuPct: collect(results, (r) => r.broker?.cpu_pct),
    brokerRssMaxMb: collect(results, (r) => (r.broker ? r.broker.rss_kb_max / 1024 : undefined)),
    lostPct: collect(results, (r) => (r.expected > 0 ? (100 * r.lost) / r.expected : undefined)),
    genCpuPct: collect(results, (r) => r.gen.cpu_pct),
    genSaturatedRuns: results.filter((r) => r.gen.saturated).length,
    otherCpuPct: collect(results, otherCpuPct),
  };
}

/** Summaries of every scenario that has runs, in suite order. */
export function summarize(scenarios: readonly Scenario[], runs: readonly RunRecord[]): ScenarioSummary[] {
  return scenarios.flatMap((sc) => {
    const mine = runs.filter((r) => r.scenario === sc.name);
    if (!mine.length) return [];
    const brokers: Partial<Record<BrokerName, BrokerSummary>> = {};
    for (const b of new Set(mine.map((r) => r.broker))) brokers[b] = summarizeBroker(sc, mine.filter((r) => r.broker === b));
    const ratios: Ratio[] = [];
    for (const versus of ['mosquitto', 'floor'] as const) {
      for (const metric of sc.compare) {
        const c = brokers.culex?.metrics[metric]?.median;
        const m = brokers[versus]?.metrics[metric]?.median;
        if (c === undefined || m === undefined || c <= 0 || m <= 0) continue;
        const ratio = c / m;
        ratios.push({ metric, versus, ratio, advantage: METRICS[metric].better === 'higher' ? ratio : 1 / ratio });
      }
    }
    return [{ scenario: sc.name, description: sc.description, compare: sc.compare, brokers, ratios }];
  });
}

/** Markdown tables of the summaries: pasteable into native-bench/README.md as they are. */
import { BROKER_NAMES } from './brokers.ts';
import { METRICS } from './scenarios.ts';
import type { ScenarioSummary, Spread } from './stats.ts';

/** 12345.6 -> "12.3k", 2.5e6 -> "2.50M" */
export function human(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function withRange(s: Spread | undefined): string {
  if (!s) return '–';
  if (s.n === 1 || s.min === s.max) return human(s.median);
  return `${human(s.median)} (${human(s.min)}–${human(s.max)})`;
}

function med(s: Spread | undefined): string {
  return s ? human(s.median) : '–';
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

/** Scenarios whose result is the publishers' acknowledgements (the durable ones) have their own table. */
function comparesAcks(s: ScenarioSummary): boolean {
  return s.compare.includes('ackRate');
}

/** Message scenarios: throughput, latency, broker cost, loss, generator load. */
function messageTable(summaries: readonly ScenarioSummary[]): string[] {
  const head = ['scenario', 'broker', 'delivered msg/s median (range)', 'p50 ms', 'p99 ms', 'p99.9 ms',
    'broker CPU %', 'broker RSS MB', 'lost %', 'gen CPU %', 'other CPU %'];
  const out = [row(head), row(head.map(() => '---'))];
  for (const s of summaries) {
    if (s.scenario === 'conns' || comparesAcks(s)) continue;
    for (const b of BROKER_NAMES) {
      const x = s.brokers[b];
      if (!x) continue;
      const flag = x.invalid ? ` (${x.invalid}/${x.runs} invalid)` : '';
      out.push(row([s.scenario, b + flag, withRange(x.metrics.recvRate), med(x.metrics.latencyP50), med(x.metrics.latencyP99),
        med(x.metrics.latencyP999), med(x.brokerCpuPct), med(x.brokerRssMaxMb), x.lostPct ? x.lostPct.median.toFixed(2) : '–',
        med(x.genCpuPct) + (x.genSaturatedRuns ? ' (saturated)' : ''), med(x.otherCpuPct)]));
    }
  }
  return out.length > 2 ? out : [];
}

/**
 * Durable scenarios: acknowledged msg/s and publish -> PUBACK latency first, then deliveries
 * (none when the subscriber is offline) and the end-to-end p99.
 */
function ackTable(summaries: readonly ScenarioSummary[]): string[] {
  const head = ['scenario', 'broker', 'acknowledged msg/s median (range)', 'PUBACK p50 ms', 'PUBACK p99 ms',
    'delivered msg/s', 'end-to-end p99 ms', 'broker CPU %', 'broker RSS MB', 'lost %', 'gen CPU %', 'other CPU %'];
  const out = [row(head), row(head.map(() => '---'))];
  for (const s of summaries) {
    if (!comparesAcks(s)) continue;
    for (const b of BROKER_NAMES) {
      const x = s.brokers[b];
      if (!x) continue;
      const flag = x.invalid ? ` (${x.invalid}/${x.runs} invalid)` : '';
      out.push(row([s.scenario, b + flag, withRange(x.metrics.ackRate), med(x.metrics.ackLatencyP50), med(x.metrics.ackLatencyP99),
        med(x.metrics.recvRate), med(x.metrics.latencyP99), med(x.brokerCpuPct), med(x.brokerRssMaxMb),
        x.lostPct ? x.lostPct.median.toFixed(2) : '–', med(x.genCpuPct) + (x.genSaturatedRuns ? ' (saturated)' : ''), med(x.otherCpuPct)]));
    }
  }
  return out.length > 2 ? out : [];
}

function connsTable(summaries: readonly ScenarioSummary[]): string[] {
  const s = summaries.find((x) => x.scenario === 'conns');
  if (!s) return [];
  const head = ['scenario', 'broker', 'RSS per connection, bytes (range)', 'connect rate conn/s (range)', 'broker RSS MB'];
  const out = [row(head), row(head.map(() => '---'))];
  for (const b of BROKER_NAMES) {
    const x = s.brokers[b];
    if (!x) continue;
    const flag = x.invalid ? ` (${x.invalid}/${x.runs} invalid)` : '';
    out.push(row([s.scenario, b + flag, withRange(x.metrics.rssPerConn), withRange(x.metrics.connectRate), med(x.brokerRssMaxMb)]));
  }
  return out;
}

function ratioTable(summaries: readonly ScenarioSummary[]): string[] {
  const head = ['scenario', 'metric', 'culex', 'versus', 'its value', 'culex / it', 'culex advantage'];
  const out = [row(head), row(head.map(() => '---'))];
  for (const s of summaries) {
    for (const r of s.ratios) {
      const m = METRICS[r.metric];
      out.push(row([s.scenario, `${m.label} (${m.unit}, ${m.better} is better)`,
        human(s.brokers.culex!.metrics[r.metric]!.median), r.versus, human(s.brokers[r.versus]!.metrics[r.metric]!.median),
        r.ratio.toFixed(2), `${r.advantage.toFixed(2)}×`]));
    }
  }
  return out.length > 2 ? out : [];
}

/** All tables, blank-line separated. */
export function renderTables(summaries: readonly ScenarioSummary[]): string {
  return [messageTable(summaries), ackTable(summaries), connsTable(summaries), ratioTable(summaries)]
    .filter((t) => t.length)
    .map((t) => t.join('\n'))
    .join('\n\n');
}

/** The benchmark runner's arithmetic: medians, ratio direction, merged conns runs, chart and tables. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderChart } from '../../native-bench/runner/chart.ts';
import { mergeConnsResults, type GeneratorResult } from '../../native-bench/runner/generator.ts';
import { SCENARIOS } from '../../native-bench/runner/scenarios.ts';
import { spread, summarize, type RunRecord } from '../../native-bench/runner/stats.ts';
import { renderTables } from '../../native-bench/runner/table.ts';

function result(over: { recv_rate?: number; p99_us?: number; rss_per_conn?: number; conns_ok?: number; rss_start?: number; rss_end?: number; seconds?: number }): GeneratorResult {
  return {
    ok: true, scenario: 'x', pubs: 1, subs: 1, conns: over.conns_ok ?? 0, qos: 0, measure_s: 10,
    sent: 100, acked: 0, received: 100, expected: 100, unique: 100, lost: 0, duplicates: 0, reordered: 0, e2e_timeouts: 0,
    send_rate: over.recv_rate ?? 0, ack_rate: 0, recv_rate: over.recv_rate ?? 0,
    connect: { ok: over.conns_ok ?? 2, failed: 0, seconds: over.seconds ?? 1, rate_per_s: (over.conns_ok ?? 2) / (over.seconds ?? 1), listen_overflows: 0 },
    latency_us: { count: 100, mean: 1, p50: 1000, p90: 1000, p99: over.p99_us ?? 2000, p999: 3000, max: 4000 },
    host: { cpu_pct: 150, cores: 2 },
    gen: { cpu_pct: 40, connect_cpu_pct: 0, rss_kb: 1000, saturated: false },
    broker: { pid: 1, cpu_pct: 90, connect_cpu_pct: 0, rss_kb_start: over.rss_start ?? 1000, rss_kb_connected: 0,
      rss_kb_end: over.rss_end ?? 2000, rss_kb_max: 2000, rss_per_conn_bytes: over.rss_per_conn ?? 0 },
  };
}

function run(scenario: string, broker: 'culex' | 'mosquitto', round: number, r: GeneratorResult): RunRecord {
  return { scenario, broker, round, startedAt: '', result: r };
}

test('spread gives the median of odd and even counts, and the range', () => {
  assert.deepEqual(spread([3, 1, 2]), { median: 2, min: 1, max: 3, n: 3 });
  assert.deepEqual(spread([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4, n: 4 });
  assert.equal(spread([]), undefined);
});

test('ratios are culex/mosquitto medians; advantage > 1 means culex better in either direction', () => {
  const runs = [
    run('fan-in-qos0', 'culex', 1, result({ recv_rate: 300, p99_us: 4000 })),
    run('fan-in-qos0', 'mosquitto', 1, result({ recv_rate: 100, p99_us: 2000 })),
    run('fan-in-qos0', 'culex', 2, result({ recv_rate: 200, p99_us: 4000 })),
    run('fan-in-qos0', 'mosquitto', 2, result({ recv_rate: 100, p99_us: 2000 })),
  ];
  const [s] = summarize(SCENARIOS, runs);
  assert.equal(s!.brokers.culex!.metrics.recvRate!.median, 250);
  const rate = s!.ratios.find((r) => r.metric === 'recvRate')!;
  assert.equal(rate.ratio, 2.5);
  assert.equal(rate.advantage, 2.5);
  const p99 = s!.ratios.find((r) => r.metric === 'latencyP99')!;
  assert.equal(p99.ratio, 2);
  assert.equal(p99.advantage, 0.5);
  const tables = renderTables([s!]);
  assert.match(tables, /\| fan-in-qos0 \| culex \| 250 \(200–300\) \|/);
  const svg = renderChart([s!], ['test machine']);
  assert.equal(svg.match(/<rect /g)!.length, 1 + s!.ratios.length); // background + one bar per ratio
});

test('several conns processes merge into one result: counts add up, RSS per connection over all', () => {
  const merged = mergeConnsResults([
    result({ conns_ok: 100, seconds: 2, rss_start: 1000, rss_end: 1500 }),
    result({ conns_ok: 300, seconds: 4, rss_start: 1010, rss_end: 1800 }),
  ]);
  assert.equal(merged.connect.ok, 400);
  assert.equal(merged.connect.rate_per_s, 100);
  assert.equal(merged.broker!.rss_per_conn_bytes, ((1800 - 1000) * 1024) / 400);
});

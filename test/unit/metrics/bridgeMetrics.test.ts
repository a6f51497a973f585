/**
 * A bridge's numbers in a worker report become labelled metrics (src/metrics/prometheus.ts), and
 * its point-in-time ones are not carried over when its worker is replaced (report.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerMetrics, type MainView } from '../../../src/metrics/prometheus.ts';
import { emptyGauges, ReportFolder, type WorkerReport } from '../../../src/metrics/report.ts';

const main: MainView = { version: 't', workersUp: [true], workerRestarts: 0, listeners: [], rings: [] };
const report = (threadId: number, seq: number, counters: Record<string, number>): WorkerReport => ({ threadId, seq, counters, storeHealthy: undefined });

test('per-bridge counters and gauges are rendered by bridge name; up and queued are gauges, not carried over a worker replacement', () => {
  const folder = new ReportFolder();
  folder.fold([report(1, 1, { bridge_b1_messagesOut: 5, bridge_b1_messagesIn: 2, bridge_b1_connects: 1, bridge_b1_disconnects: 0, bridge_b1_up: 1, bridge_b1_queued: 7, bridge_b1_dropped: 4 })]);
  // worker 0 replaced: the new thread's bridge counts from zero and is down
  const s = folder.fold([report(2, 2, { bridge_b1_messagesOut: 1, bridge_b1_messagesIn: 0, bridge_b1_connects: 0, bridge_b1_disconnects: 0, bridge_b1_up: 0, bridge_b1_queued: 3, bridge_b1_dropped: 1 })]);
  const metrics = new Map(brokerMetrics({ ...s, gauges: emptyGauges() }, main).map((m) => [m.name, m]));
  const value = (name: string, labels: Record<string, string>) =>
    metrics.get(name)?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels?.[k] === l))?.value;
  assert.equal(value('culex_bridge_messages_total', { bridge: 'b1', direction: 'out' }), 6, 'monotonic across the replacement');
  assert.equal(value('culex_bridge_messages_total', { bridge: 'b1', direction: 'in' }), 2);
  assert.equal(value('culex_bridge_connections_total', { bridge: 'b1', event: 'connect' }), 1);
  assert.equal(value('culex_bridge_up', { bridge: 'b1' }), 0);
  assert.equal(value('culex_bridge_queued_messages', { bridge: 'b1' }), 3);
  assert.equal(value('culex_bridge_dropped_messages_total', { bridge: 'b1' }), 5, 'a counter, carried over');
  assert.equal(metrics.get('culex_bridge_up')?.type, 'gauge');
});

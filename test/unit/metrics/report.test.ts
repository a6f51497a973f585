/**
 * The main thread's folding of worker reports (src/metrics/report.ts) and the `$SYS` tree's
 * load averages (src/metrics/sys.ts, Mosquitto's sys_tree.c calc_load).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyGauges, ReportFolder, type WorkerReport } from '../../../src/metrics/report.ts';
import { SysTree } from '../../../src/metrics/sys.ts';

let seq = 0;
const report = (threadId: number, counters: Record<string, number>, gauges: Partial<ReturnType<typeof emptyGauges>> = {}, storeHealthy?: boolean): WorkerReport =>
  ({ threadId, seq: ++seq, counters, storeHealthy, gauges: { ...emptyGauges(), ...gauges }, listenerConnections: [counters.clientsConnected ?? 0] });

test('counters are summed over workers and never go down when a worker is replaced; gauge counters of a missing worker are left out', () => {
  const f = new ReportFolder();
  let s = f.fold([report(1, { bytesReceived: 100, clientsConnected: 2 }), report(2, { bytesReceived: 50, clientsConnected: 1 })]);
  assert.equal(s.counters.bytesReceived, 150);
  assert.equal(s.counters.clientsConnected, 3);
  // worker 1 died: not answering
  s = f.fold([undefined, report(2, { bytesReceived: 60, clientsConnected: 1 })]);
  assert.equal(s.counters.bytesReceived, 160, 'what the dead worker counted stays');
  assert.equal(s.counters.clientsConnected, 1, 'its clients are gone');
  // its replacement (another thread id) starts from 0
  s = f.fold([report(3, { bytesReceived: 5, clientsConnected: 0 }), report(2, { bytesReceived: 70, clientsConnected: 1 })]);
  assert.equal(s.counters.bytesReceived, 175);
  const older = report(3, { bytesReceived: 6, clientsConnected: 0 });
  s = f.fold([report(3, { bytesReceived: 7, clientsConnected: 0 }), report(2, { bytesReceived: 70, clientsConnected: 1 })]);
  assert.equal(s.counters.bytesReceived, 177);
  // an older snapshot answered late (a detailed one) does not take the counter back
  s = f.fold([older, undefined]);
  assert.equal(s.counters.bytesReceived, 177);
});

test('gauges: queues and sessions are summed, the largest queue and the retained messages (every worker holds them all) are taken once; one unhealthy store makes the broker unhealthy', () => {
  const f = new ReportFolder();
  const s = f.fold([
    report(1, { clientsConnected: 1 }, { queuedMessages: 3, largestQueueMessages: 2, retainedUser: 7, sessionsOffline: 1 }, true),
    report(2, { clientsConnected: 2 }, { queuedMessages: 4, largestQueueMessages: 4, retainedUser: 7, sessionsOffline: 2 }, false),
  ]);
  assert.equal(s.gauges.queuedMessages, 7);
  assert.equal(s.gauges.largestQueueMessages, 4);
  assert.equal(s.gauges.retainedUser, 7);
  assert.equal(s.gauges.sessionsOffline, 3);
  assert.deepEqual(s.listenerConnections, [3]);
  assert.equal(s.storeHealthy, false);
  assert.equal(f.fold([report(1, {}), report(2, {})]).storeHealthy, undefined, 'no persistence: no store health');
});

test('$SYS: every topic on the first update, then only the changed ones; loads follow Mosquitto\'s calc_load (per-minute rate, damped over 1/5/15 min, 2 decimals)', () => {
  const sys = new SysTree('1.2.3');
  const f = new ReportFolder();
  const first = sys.update(f.fold([report(1, { messagesReceived: 0, sessions: 1, clientsConnected: 1 })]), 1000, 100, 0);
  const topics = new Map(first);
  assert.equal(topics.size, 53, 'Mosquitto 2.0.11 publishes 53 topics');
  assert.equal(topics.get('$SYS/broker/version'), 'culex version 1.2.3');
  assert.equal(topics.get('$SYS/broker/load/messages/received/1min'), '0.00');
  // 60 packets in 10 s = 360/min; 1 min window: 360 + e^(-10/60) × (0 − 360)
  const next = new Map(sys.update(f.fold([report(1, { messagesReceived: 60, sessions: 1, clientsConnected: 1 })]), 1000, 110, 10));
  assert.equal(next.get('$SYS/broker/load/messages/received/1min'), (360 - Math.exp(-10 / 60) * 360).toFixed(2));
  assert.equal(next.get('$SYS/broker/load/messages/received/15min'), (360 - Math.exp(-10 / 900) * 360).toFixed(2));
  assert.equal(next.get('$SYS/broker/messages/received'), '60');
  assert.equal(next.get('$SYS/broker/uptime'), '10 seconds');
  assert.ok(!next.has('$SYS/broker/version'), 'unchanged: not sent again');
  assert.ok(!next.has('$SYS/broker/clients/connected'));
  assert.ok(!next.has('$SYS/broker/load/bytes/sent/1min'), 'a load that stays at 0 is not sent again');
});

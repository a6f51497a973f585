/** profile/schedSummary.ts: which waits of a broker thread were queue waits, and who held its core. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReport, summarize } from '../../native-bench/profile/schedSummary.ts';

// perf sched timehist --state: time [cpu] task[tid/pid] wait sch-delay run (ms) state
const TIMEHIST = `
           time    cpu  task name                       wait time  sch delay   run time  state
                        [tid/pid]                          (msec)     (msec)     (msec)
--------------- ------  ------------------------------  ---------  ---------  ---------  -----
   10.000000 [0000]  WorkerThread[100/90]                0.000      0.000      0.100      R
   10.000500 [0001]  WorkerThread[300/300]               0.000      0.000      0.400      R
   10.003000 [0000]  V8Worker[95/90]                     5.000      0.010      3.000      S
   10.003200 [0000]  WorkerThread[100/90]                3.000      0.000      0.200      S
   10.004000 [0000]  mqbench[200]                        1.000      0.010      0.050      S
   10.004100 [0000]  WorkerThread[100/90]                0.800      0.030      0.050      R
   10.004120 [0000]  mqbench[200]                        0.070      0.000      0.020      S
   10.004200 [0000]  WorkerThread[100/90]                0.020      0.000      0.080      S
`;

test('a preempted wait is charged to the tasks that ran on that core meanwhile', () => {
  const reports = summarize(TIMEHIST, 'WorkerThread', 90);
  assert.equal(reports.length, 1, 'only the threads of process 90');
  const r = reports[0]!;
  assert.equal(r.tid, 100);
  assert.equal(Math.round(r.ranUs), 430);
  assert.deepEqual(r.preempted.map((w) => Math.round(w.us)), [3000, 20], 'two queue waits, longest first');
  assert.deepEqual([...r.preempted[0]!.heldBy].map(([k, v]) => [k, Math.round(v)]), [['V8Worker', 3000]]);
  assert.deepEqual([...r.preempted[1]!.heldBy].map(([k, v]) => [k, Math.round(v)]), [['mqbench', 20]]);
  assert.deepEqual(r.wakeDelaysUs.map(Math.round), [30], 'the run after a sleep counts as a wake-up, not a queue wait');
  const text = formatReport('WorkerThread', r);
  assert.match(text, /preempted 2 times, queued 3\.02 ms in all/);
  assert.match(text, /queued 3\.00 ms on cpu 0 at 10\.000000 s behind: V8Worker 3\.00 ms/);
});

test('a thread that never ran while perf recorded gives no report', () => {
  assert.deepEqual(summarize(TIMEHIST, 'WorkerThread', 12345), []);
});

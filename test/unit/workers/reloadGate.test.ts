/** The reload gate (src/workers/reloadGate.ts): CONNECTs after a SIGHUP wait until its reload is applied in their worker. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReloadGate } from '../../../src/workers/reloadGate.ts';

/** Whether `p` has settled within `ms`. */
async function settledWithin(p: Promise<void>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
}

test('no reload asked: nothing waits', () => {
  const gate = ReloadGate.create(2);
  assert.equal(gate.settled(0, 1000), undefined);
  assert.equal(gate.settled(1, 1000), undefined);
});

test('after an ask, each worker waits until it has applied the reload that answers it, not another worker', async () => {
  const gate = ReloadGate.create(2);
  gate.ask();
  const w0 = gate.settled(0, 10_000)!;
  const w1 = gate.settled(1, 10_000)!;
  assert.ok(w0 !== undefined && w1 !== undefined);
  const asks = gate.begin();
  gate.settle(1, asks);
  assert.equal(await settledWithin(w1, 1000), true);
  assert.equal(await settledWithin(w0, 50), false, 'worker 0 has not applied it');
  // a worker's view over the same memory (as WorkerInit.reloadGate hands it over) settles it
  new ReloadGate(gate.buffer).settle(0, asks);
  assert.equal(await settledWithin(w0, 1000), true);
  assert.equal(gate.settled(0, 1000), undefined);
});

test('a second SIGHUP during a reload: its CONNECTs wait for the reload after, which reads the files again', async () => {
  const gate = ReloadGate.create(1);
  gate.ask();
  const first = gate.begin();
  gate.ask();
  const waiting = gate.settled(0, 10_000)!;
  gate.settle(0, first);
  assert.equal(await settledWithin(waiting, 50), false);
  gate.settle(0, gate.begin());
  assert.equal(await settledWithin(waiting, 1000), true);
  gate.settle(0, first); // a late settle of an older reload does not reopen anything
  assert.equal(gate.settled(0, 1000), undefined);
});

test('a reload that never ends keeps CONNECTs waiting no longer than the limit', async () => {
  const gate = ReloadGate.create(1);
  gate.ask();
  const started = Date.now();
  await gate.settled(0, 100);
  assert.ok(Date.now() - started >= 90);
});

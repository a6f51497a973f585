import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DelayedWills } from '../../../src/broker/delayedWills.ts';
import type { Will } from '../../../src/model/will.ts';

function will(clientId: string, delay: number): Will {
  return { clientId, topic: `w/${clientId}`, payload: Buffer.from('x'), qos: 0, retain: false, properties: undefined, delay, username: undefined } as unknown as Will;
}

test('[MQTT-3.1.3-9] a will waits for its delay; take() cancels it', async () => {
  const due: string[] = [];
  const wills = new DelayedWills((w) => due.push(w.clientId));
  wills.schedule(will('a', 0.02), 0.02);
  wills.schedule(will('b', 0.02), 0.02);
  assert.equal(wills.take('b')?.clientId, 'b');
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(due, ['a']);
  assert.equal(wills.pending('a'), undefined);
});

test('a Will Delay Interval longer than 24.8 days (setTimeout\'s limit) does not fire at once', async () => {
  const due: string[] = [];
  const wills = new DelayedWills((w) => due.push(w.clientId));
  const delay = 3_000_000; // seconds: 34.7 days
  const before = Date.now();
  wills.schedule(will('long', delay), delay);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(due, [], 'published at once: the timer overflowed');
  const pending = wills.pending('long');
  assert.ok(pending !== undefined && pending.due >= before + delay * 1000);
  assert.equal(wills.take('long')?.clientId, 'long');
  wills.clear();
});

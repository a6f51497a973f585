import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { createDoorbells, Doorbells } from '../../../src/workers/doorbell.ts';
import type { DoorbellWorkerData } from './doorbellWorker.ts';

const workerUrl = new URL('./doorbellWorker.ts', import.meta.url);

function start(data: DoorbellWorkerData): Worker {
  return new Worker(workerUrl, { workerData: data });
}

test('each worker slot has its own 64-byte line and starts at 0', () => {
  const sab = createDoorbells(3);
  assert.equal(sab.byteLength, 3 * 64);
  const bells = new Doorbells(sab);
  bells.ring(1);
  bells.ring(1);
  assert.deepEqual([bells.value(0), bells.value(1), bells.value(2)], [0, 2, 0]);
  assert.throws(() => createDoorbells(0), RangeError);
});

test('wait() resolves after another thread rings, and not before', { timeout: 30_000 }, async () => {
  const sab = createDoorbells(2);
  const bells = new Doorbells(sab);
  const worker = start({ bells: sab, index: 1, mode: 'ring' });
  try {
    await once(worker, 'online');
    let woke = false;
    const seen = bells.value(1);
    const waiting = bells.wait(1, seen).then(() => (woke = true));
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(woke, false);
    worker.postMessage('go');
    await waiting;
    assert.equal(bells.value(1), seen + 1);
    assert.equal(bells.value(0), 0, 'other slots untouched');
  } finally {
    await worker.terminate();
  }
});

test('wait() resolves at once when the counter already differs from the value seen', async () => {
  const bells = new Doorbells(createDoorbells(2));
  const seen = bells.value(0);
  bells.ring(0);
  await bells.wait(0, seen);
  assert.equal(bells.value(0), seen + 1);
});

test('a worker whose only pending work is wait() exits on its own', { timeout: 30_000 }, async () => {
  const sab = createDoorbells(1);
  const worker = start({ bells: sab, index: 0, mode: 'wait' });
  const messages: unknown[] = [];
  worker.on('message', (m) => messages.push(m));
  const [code] = (await once(worker, 'exit')) as [number];
  assert.equal(code, 0);
  assert.deepEqual(messages, ['waiting']);
  assert.equal(new Doorbells(sab).value(0), 0);
});

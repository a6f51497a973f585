import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { IdleCollectorReport, IdleCollectorWorkerData } from './idleCollectorWorker.ts';

const MB = 1024 * 1024;

async function run(data: IdleCollectorWorkerData): Promise<IdleCollectorReport> {
  const worker = new Worker(new URL('./idleCollectorWorker.ts', import.meta.url), { workerData: data });
  try {
    const [report] = (await once(worker, 'message')) as [IdleCollectorReport];
    return report;
  } finally {
    await worker.terminate();
  }
}

test('after a burst, an idle worker gives its heap back: the committed heap falls from its peak to a fraction of it', { timeout: 60_000 }, async () => {
  const r = await run({ burst: true, waiting: false, waitMs: 20_000, backUnderBytes: 40 * MB });
  assert.ok(r.peak > 100 * MB, `the burst grew the heap to ${(r.peak / MB).toFixed(0)} MB`);
  assert.ok(r.collections >= 1, 'a full collection ran once the worker was idle');
  assert.ok(r.after < 40 * MB, `committed heap ${(r.after / MB).toFixed(0)} MB after idling, from a peak of ${(r.peak / MB).toFixed(0)} MB`);
});

test('an idle worker whose heap has not grown is left alone: three idle seconds, no collection', { timeout: 60_000 }, async () => {
  const r = await run({ burst: false, waiting: false, waitMs: 3_500, backUnderBytes: 0 });
  assert.equal(r.collections, 0);
});

test('a worker waiting on its store (a transaction being written) is not idle: no collection after the burst', { timeout: 60_000 }, async () => {
  const r = await run({ burst: true, waiting: true, waitMs: 3_500, backUnderBytes: 0 });
  assert.ok(r.peak > 100 * MB);
  assert.equal(r.collections, 0);
});

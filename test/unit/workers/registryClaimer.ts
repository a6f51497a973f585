/**
 * Worker entry for the registry race test: claims ids `id-0 .. id-(count-1)` for its own index,
 * in the same order as the other claimers, and writes each claim() result into its row of the
 * shared `results` array. All claimers meet at a barrier before every block of BLOCK ids, so
 * they keep running into each other instead of one finishing before the others start. Does
 * nothing when run as a main thread.
 * called from: worker
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ClientRegistry } from '../../../src/workers/registry.ts';

/** What the test passes as workerData. */
export interface RegistryClaimerData {
  readonly registry: SharedArrayBuffer;
  /** Int32: [barrier arrivals], then `count` claim() results per worker */
  readonly results: SharedArrayBuffer;
  readonly worker: number;
  readonly workers: number;
  readonly count: number;
}

const BLOCK = 250;

/** Blocks until all `workers` claimers have called barrier() `round + 1` times. */
function barrier(arrivals: Int32Array, workers: number, round: number): void {
  const target = workers * (round + 1);
  if (Atomics.add(arrivals, 0, 1) + 1 === target) Atomics.notify(arrivals, 0);
  for (let n = Atomics.load(arrivals, 0); n < target; n = Atomics.load(arrivals, 0)) Atomics.wait(arrivals, 0, n);
}

if (!isMainThread && parentPort !== null) {
  const { registry, results, worker, workers, count } = workerData as RegistryClaimerData;
  const reg = new ClientRegistry(registry);
  const out = new Int32Array(results);
  const row = 1 + worker * count;
  for (let i = 0; i < count; i++) {
    if (i % BLOCK === 0) barrier(out, workers, i / BLOCK);
    out[row + i] = reg.claim(`id-${i}`, worker);
  }
  parentPort.postMessage('done');
}

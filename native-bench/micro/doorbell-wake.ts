/**
 * Micro-benchmark: what one cross-worker hop costs at low rates (docs/scaling.md, "At low
 * rates"), with src/workers/doorbell.ts as the workers use it. The main thread rings a worker
 * `--rate` times a second (a timer per ring, as one message per event-loop turn does) after
 * stamping the time in shared memory; the worker, asleep in Doorbells.wait(), notes how long
 * after the stamp its wait resolved. Prints the ringer's time per ring() (Atomics.add and
 * Atomics.notify, which Node turns into a task posted to the waiting thread and a libuv wake-up)
 * and the wake-up latency's percentiles. Run it alone and beside a load (the smart-city
 * scenario) to see what the platform adds to a message that crosses workers.
 *   node native-bench/micro/doorbell-wake.ts [--rate 2500] [--seconds 5]
 * called from: main (a command-line script) | its own worker thread
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { createDoorbells, Doorbells } from '../../src/workers/doorbell.ts';

const WAITER = 1;

interface Shared {
  readonly bells: SharedArrayBuffer;
  /** Float64 [0]: when the last ring was stamped (performance.timeOrigin + now(), ms); the Int32 at byte 8: 1 = stop */
  readonly stamp: SharedArrayBuffer;
}

if (isMainThread) {
  const { values } = parseArgs({ options: { rate: { type: 'string', default: '2500' }, seconds: { type: 'string', default: '5' } } });
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const shared: Shared = { bells: createDoorbells(2), stamp: new SharedArrayBuffer(16) };
  const bells = new Doorbells(shared.bells);
  const at = new Float64Array(shared.stamp, 0, 1);
  const stop = new Int32Array(shared.stamp, 8, 1);
  const waiter = new Worker(new URL(import.meta.url), { workerData: shared });
  await new Promise((resolve) => waiter.once('online', resolve));
  let rings = 0;
  let ringMs = 0;
  const end = performance.now() + seconds * 1000;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      if (performance.now() >= end) return resolve();
      at[0] = performance.timeOrigin + performance.now();
      const t = performance.now();
      bells.ring(WAITER);
      ringMs += performance.now() - t;
      rings++;
      setTimeout(tick, 1000 / rate);
    };
    setTimeout(tick, 200);
  });
  Atomics.store(stop, 0, 1);
  bells.ring(WAITER);
  const [latencies] = (await new Promise((resolve) => waiter.once('message', (m) => resolve([m])))) as [number[]];
  latencies.sort((a, b) => a - b);
  const q = (p: number): string => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(0);
  process.stdout.write(`${rings} rings at ${rate}/s: ring() ${((ringMs * 1000) / rings).toFixed(1)} µs each on the ringer; ` +
    `wake-up µs p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} p99.9 ${q(0.999)} (${latencies.length} wake-ups)\n`);
  await waiter.terminate();
} else {
  const shared = workerData as Shared;
  const bells = new Doorbells(shared.bells);
  const at = new Float64Array(shared.stamp, 0, 1);
  const stop = new Int32Array(shared.stamp, 8, 1);
  const latencies: number[] = [];
  // a wait alone does not keep a worker's event loop alive
  const alive = setInterval(() => {}, 1 << 30);
  let seen = bells.value(WAITER);
  for (;;) {
    await bells.wait(WAITER, seen);
    const now = performance.timeOrigin + performance.now();
    seen = bells.value(WAITER);
    if (Atomics.load(stop, 0) === 1) break;
    latencies.push((now - at[0]!) * 1000);
  }
  clearInterval(alive);
  parentPort!.postMessage(latencies);
}

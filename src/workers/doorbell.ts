/**
 * Doorbells: one Int32 counter per worker in a SharedArrayBuffer, each on its own 64-byte line.
 * Any thread rings a worker by incrementing its counter and notifying; the worker sleeps in
 * Atomics.waitAsync until the counter differs from the value it last saw. A wait costs no CPU
 * and does not keep the waiting thread's event loop alive by itself.
 *
 * Invariants: a counter only changes by ring() (+1, wrapping at 2^32); any thread may ring any
 * worker; only worker `i` waits on counter `i`.
 *
 * No lost wake-up: read `seen = value(me)` BEFORE checking for work (rings, queues), then
 * `await wait(me, seen)` if there was none. A ring() after that read changes the counter, so the
 * wait resolves at once; a ring() before it was preceded by the ringer's publish, which the
 * check saw (Atomics are sequentially consistent).
 *
 * called from: worker (ring, value, wait), main (createDoorbells, ring)
 */

/** Int32 elements per slot: one slot per 64-byte line. */
const STRIDE = 16;
const resolved: Promise<void> = Promise.resolve();
const ignore = (): void => {};

/** One Int32 slot per worker in a SharedArrayBuffer (each slot on its own 64-byte line). */
export function createDoorbells(workers: number): SharedArrayBuffer {
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`workers must be a positive integer, got ${workers}`);
  return new SharedArrayBuffer(workers * STRIDE * 4);
}

/** A view over doorbells made by createDoorbells(); every thread builds its own over the same buffer. */
export class Doorbells {
  readonly #slots: Int32Array;

  constructor(sab: SharedArrayBuffer) {
    this.#slots = new Int32Array(sab);
  }

  /** Wakes worker `index` (Atomics.add then Atomics.notify). */
  ring(index: number): void {
    Atomics.add(this.#slots, index * STRIDE, 1);
    Atomics.notify(this.#slots, index * STRIDE);
  }

  /** Current counter of worker `index` (Atomics.load). */
  value(index: number): number {
    return Atomics.load(this.#slots, index * STRIDE);
  }

  /**
   * Resolves when worker `index`'s counter differs from `seen` (Atomics.waitAsync; resolves at
   * once if it already differs). Does not keep the event loop alive by itself.
   */
  wait(index: number, seen: number): Promise<void> {
    const result = Atomics.waitAsync(this.#slots, index * STRIDE, seen);
    return result.async ? result.value.then(ignore) : resolved;
  }
}

/**
 * Gives a worker's garbage back once the worker goes quiet after a burst. V8 collects its old
 * generation when the heap grows, never because the thread went idle, so what a burst leaves (a
 * fan-out to 100,000 offline sessions: deliveries, keys and encodings held until their commit,
 * then dropped) stays resident until the next burst: 0.5 GB after 10,000,000 queued entries.
 * Once a second this looks back over that second. After a busy second, the first idle one (the
 * event loop busy at most IDLE_UTILIZATION of it, and not waiting on the store's write thread)
 * runs one full collection, on this thread, of the kind that also gives the freed pages back,
 * when the heap has grown by GROWTH_BYTES since the last one. A steadily loaded worker, even a
 * lightly loaded one, never passes from busy to idle, and is left to V8's own collections, whose
 * pauses are short; this one pauses the thread (0.1 s for a 60 MB heap, 1 s for 1 GB), so it
 * runs only when nothing is waiting for the thread.
 * `gc` is the function V8's `--expose-gc` gives a context made after the flag is set (as Jest
 * gets it). V8's flags are the process's: the flag stays set, since resetting it would race with
 * another worker starting, so the contexts made later (other workers') have a global `gc` too;
 * nothing in culex looks for one.
 * called from: worker
 */
import v8 from 'node:v8';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';

const CHECK_MS = 1000;
/** the share of a second the event loop may be busy for that second to count as idle */
const IDLE_UTILIZATION = 0.02;
/** growth of the heap (used or committed) since the last full collection that makes one worth its pause */
const GROWTH_BYTES = 32 * 1024 * 1024;
/**
 * V8's most thorough collection (several rounds, compaction, free pages and the young
 * generation's spare space given back); a plain major collection frees the objects but keeps
 * the pages (a 188 MB heap down to 142 MB committed with 10 MB used, against 8 MB this way)
 */
const LAST_RESORT = { type: 'major', execution: 'sync', flavor: 'last-resort' } as const;
type FullCollection = (options: typeof LAST_RESORT) => void;

/** V8's full collection, or undefined where this V8 offers none. */
function fullCollection(): FullCollection | undefined {
  v8.setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
  return typeof gc === 'function' ? (gc as FullCollection) : undefined;
}

export interface IdleCollectorOptions {
  /** true while the thread waits on work done elsewhere (the store's write thread): not idle then */
  waiting?: () => boolean;
  /** hears of each collection: the committed heap before and after (bytes), its pause (ms) */
  collected?: (before: number, after: number, ms: number) => void;
}

/** The running check (collectWhenIdle()). */
export interface IdleCollector {
  /** full collections it has run */
  readonly collections: number;
  stop(): void;
}

/** Starts the once-a-second check on this thread. */
export function collectWhenIdle(options: IdleCollectorOptions = {}): IdleCollector {
  const gc = fullCollection();
  const collector = { collections: 0, stop: () => {} };
  if (gc === undefined) return collector;
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  let after = v8.getHeapStatistics();
  /** a busy second came since the last idle one */
  let worked = false;
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    if (busy > IDLE_UTILIZATION) {
      worked = true;
      return;
    }
    if (!worked || options.waiting?.() === true) return;
    worked = false;
    const before = v8.getHeapStatistics();
    if (before.total_heap_size - after.total_heap_size < GROWTH_BYTES && before.used_heap_size - after.used_heap_size < GROWTH_BYTES) return;
    const started = performance.now();
    gc(LAST_RESORT);
    collector.collections++;
    after = v8.getHeapStatistics();
    options.collected?.(before.total_heap_size, after.total_heap_size, performance.now() - started);
    // the collection itself is not the load this looks for
    last = performance.eventLoopUtilization();
  }, CHECK_MS);
  timer.unref();
  collector.stop = () => clearInterval(timer);
  return collector;
}

/**
 * A worker thread for idleCollector.test.ts: starts the idle collector (told, or not, that the
 * thread waits on work elsewhere), optionally holds and then
 * drops about 120 MB (a burst), stays idle, and reports its committed heap and the collections
 * the collector ran once the heap is back under `backUnderBytes` or `waitMs` has passed.
 * called from: idleCollector.test.ts (a worker thread)
 */
import { parentPort, workerData } from 'node:worker_threads';
import v8 from 'node:v8';
import { collectWhenIdle } from '../../../src/workers/idleCollector.ts';

export interface IdleCollectorWorkerData {
  burst: boolean;
  /** the collector is told the thread is waiting on work elsewhere, all along */
  waiting: boolean;
  waitMs: number;
  backUnderBytes: number;
}
export interface IdleCollectorReport {
  peak: number;
  after: number;
  collections: number;
}

const { burst, waiting, waitMs, backUnderBytes } = workerData as IdleCollectorWorkerData;
const committed = (): number => v8.getHeapStatistics().total_heap_size;
const collector = collectWhenIdle({ waiting: () => waiting });
let peak = committed();
if (burst) {
  let held: number[][] | undefined = [];
  for (let i = 0; i < 120; i++) held.push(new Array<number>(250_000).fill(i));
  peak = committed();
  held = undefined;
}
const started = Date.now();
const poll = setInterval(() => {
  if (committed() > backUnderBytes && Date.now() - started < waitMs) return;
  clearInterval(poll);
  collector.stop();
  parentPort!.postMessage({ peak, after: committed(), collections: collector.collections } satisfies IdleCollectorReport);
}, 100);

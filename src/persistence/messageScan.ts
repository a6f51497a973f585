/**
 * The message log's scan (Store.scanMessages: seqs and payload sizes) on a thread of its own,
 * while the main thread scans the queue (queueTally.ts): with every entry referring to a message
 * of its own, the log is as long as the queue and its values are larger, so this halves the
 * pass after a crash on two cores. The thread opens the store like a worker does (lmdb-js shares
 * one environment per process), quarantines what it finds bad, and hands back the two arrays
 * (transferred) and the lines its store logged, which the main thread logs.
 * called from: main (scanMessagesAside) | its own thread (this file as a worker script)
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Store } from './store.ts';
import type { StoreLog } from './store.ts';

/** What the scan hands back. */
export interface ScannedMessages {
  readonly seqs: Float64Array;
  readonly sizes: Int32Array;
  readonly count: number;
}

interface Answer extends ScannedMessages {
  readonly warnings: string[];
  readonly errors: string[];
}

/**
 * Scans the log of the store at `path` on a thread of its own; when that thread cannot run, on
 * this one (`store`).
 */
export async function scanMessagesAside(path: string, store: Store, log: StoreLog): Promise<ScannedMessages> {
  let answer: Answer;
  try {
    answer = await new Promise<Answer>((resolve, reject) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { messageScanOf: path } });
      w.once('message', (a: Answer) => {
        resolve(a);
        void w.terminate();
      });
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`the message scan's thread exited with ${code}`)));
    });
  } catch {
    return store.scanMessages();
  }
  for (const m of answer.warnings) log.warning(m);
  for (const m of answer.errors) log.error(m);
  return answer;
}

const scanOf = isMainThread ? undefined : (workerData as { messageScanOf?: string } | null)?.messageScanOf;
if (scanOf !== undefined && parentPort !== null) {
  const warnings: string[] = [];
  const errors: string[] = [];
  const log: StoreLog = { warning: (m) => warnings.push(m), error: (m, err) => errors.push(err === undefined ? m : `${m}: ${String(err)}`) };
  const store = Store.open({ path: scanOf, durability: 'sync', batchWindowMs: 50, log });
  const { seqs, sizes, count } = store.scanMessages();
  await store.close();
  parentPort.postMessage({ seqs, sizes, count, warnings, errors } satisfies Answer, [seqs.buffer as ArrayBuffer, sizes.buffer as ArrayBuffer]);
}

/**
 * Worker-thread entry for the store tests. workerData `{ dir, index, count }`: opens the store at
 * `dir` in this thread (as every broker worker does), writes a session 'w<index>' owned by
 * `index` and `count` messages with seqs index*1e6+1 … index*1e6+count, each queued for that
 * session and awaited with commit(), then closes the store and exits 0. Exits 1 on any error.
 * Does nothing when run as a main thread.
 * called from: worker
 */
import { isMainThread, workerData } from 'node:worker_threads';
import { Store } from '../../../src/persistence/store.ts';
import { plainMessage, queueEntry, sessionMeta } from './helpers.ts';

interface ThreadWriterData {
  readonly dir: string;
  readonly index: number;
  readonly count: number;
}

if (!isMainThread) {
  const { dir, index, count } = workerData as ThreadWriterData;
  try {
    const store = Store.open({ path: dir, durability: 'sync', batchWindowMs: 50 });
    const id = `w${index}`;
    store.putSession(id, sessionMeta({ owner: index }));
    await store.commit();
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const seq = index * 1_000_000 + i + 1;
        store.putMessage(seq, plainMessage(seq));
        store.putQueued(id, seq, queueEntry(seq));
        await store.commit();
      }),
    );
    await store.close();
  } catch (err) {
    console.error(err);
    process.exitCode = 1;
  }
}

// preload (--import): each worker thread writes a heap snapshot, $HEAP_OUT/<tag>-t<threadId>.heapsnapshot
// ($HEAP_TAG, default "snap"), when the file $HEAP_OUT/take appears, then $HEAP_OUT/taken-<threadId>.
// called from: native-bench/profile/held.sh (never part of the broker)
import { isMainThread, threadId } from 'node:worker_threads';
import { existsSync, writeFileSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';
if (!isMainThread) {
  const out = process.env.HEAP_OUT ?? '/tmp/culex-held';
  const poll = setInterval(() => {
    if (!existsSync(`${out}/take`)) return;
    clearInterval(poll);
    writeHeapSnapshot(`${out}/${process.env.HEAP_TAG ?? 'snap'}-t${threadId}.heapsnapshot`);
    writeFileSync(`${out}/taken-${threadId}`, '');
  }, 100);
  poll.unref();
}

/**
 * Worker entry for the doorbell tests. workerData `{ bells, index, mode }`:
 * - 'ring': rings `index` when the parent posts 'go', then exits.
 * - 'wait': starts a wait on `index` (which nobody rings), posts 'waiting', and has no other
 *   pending work; posts 'woke' if the wait ever resolves.
 * Does nothing when run as a main thread.
 * called from: worker
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Doorbells } from '../../../src/workers/doorbell.ts';

/** What the test passes as workerData. */
export interface DoorbellWorkerData {
  readonly bells: SharedArrayBuffer;
  readonly index: number;
  readonly mode: 'ring' | 'wait';
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  const { bells, index, mode } = workerData as DoorbellWorkerData;
  const doorbells = new Doorbells(bells);
  if (mode === 'ring') {
    port.once('message', () => {
      doorbells.ring(index);
      port.close();
    });
  } else {
    void doorbells.wait(index, doorbells.value(index)).then(() => port.postMessage('woke'));
    port.postMessage('waiting');
  }
}

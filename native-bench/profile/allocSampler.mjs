// preload (--import): samples allocations (incl. collected objects) in worker threads between
// the files $ALLOC_OUT/start and $ALLOC_OUT/stop appearing
import { isMainThread, threadId } from 'node:worker_threads';
import { Session } from 'node:inspector/promises';
import { existsSync, writeFileSync } from 'node:fs';
if (!isMainThread) {
  const out = process.env.ALLOC_OUT ?? '/tmp/alloc';
  let s;
  const poll = setInterval(async () => {
    if (s === undefined && existsSync(`${out}/start`)) {
      s = new Session(); s.connect();
      await s.post('HeapProfiler.enable');
      await s.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
      writeFileSync(`${out}/started-${threadId}`, '');
    } else if (s !== undefined && existsSync(`${out}/stop`)) {
      clearInterval(poll);
      const { profile } = await s.post('HeapProfiler.stopSampling');
      writeFileSync(`${out}/t${threadId}.heapprofile`, JSON.stringify(profile));
    }
  }, 100);
}

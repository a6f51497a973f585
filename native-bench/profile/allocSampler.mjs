// preload (--import): samples the allocations of every worker thread (collected objects included,
// unless ALLOC_LIVE=1) between the files $ALLOC_OUT/start and $ALLOC_OUT/stop appearing.
// called from: native-bench/profile/alloc.sh (never part of the broker)
import { isMainThread, threadId } from 'node:worker_threads';
import { Session } from 'node:inspector/promises';
import { existsSync, writeFileSync } from 'node:fs';
if (!isMainThread) {
  const out = process.env.ALLOC_OUT ?? '/tmp/alloc';
  // ALLOC_LIVE=1: only what is still alive when sampling stops (memory held, not churn)
  const collected = process.env.ALLOC_LIVE !== "1";
  let s;
  const poll = setInterval(async () => {
    if (s === undefined && existsSync(`${out}/start`)) {
      s = new Session(); s.connect();
      await s.post('HeapProfiler.enable');
      await s.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: collected, includeObjectsCollectedByMinorGC: collected });
      writeFileSync(`${out}/started-${threadId}`, '');
    } else if (s !== undefined && existsSync(`${out}/stop`)) {
      clearInterval(poll);
      const { profile } = await s.post('HeapProfiler.stopSampling');
      writeFileSync(`${out}/t${threadId}.heapprofile`, JSON.stringify(profile));
    }
  }, 100);
}

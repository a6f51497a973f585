/**
 * mosquitto `memory_limit`: while the process uses more memory than the limit, PUBLISHes are
 * refused at admission (publishIn.ts), as Mosquitto refuses the allocation of a message beyond
 * it. The measure is the resident set of the whole process (every worker thread, Node and
 * LMDB's mapped pages that are resident): Mosquitto counts its heap allocations, which a
 * JavaScript process cannot; the resident set is what the operator's limit is about.
 *
 * Invariant: reading the resident set costs a system call, so it is sampled at most once per
 * SAMPLE_MS per thread; between samples the last value decides. The limit is therefore soft by
 * what one worker admits in SAMPLE_MS.
 * called from: worker
 */

/** how long one reading of the resident set stands */
const SAMPLE_MS = 50;

let sampledAt = Number.NEGATIVE_INFINITY;
let residentBytes = 0;

/** Is the process over `limit` bytes (limit > 0)? */
export function overMemoryLimit(limit: number): boolean {
  const now = performance.now();
  if (now - sampledAt >= SAMPLE_MS) {
    residentBytes = process.memoryUsage.rss();
    sampledAt = now;
  }
  return residentBytes > limit;
}

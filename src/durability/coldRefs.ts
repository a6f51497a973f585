/**
 * Reference counts of log messages that only queued entries on disk refer to, as a clean stop
 * left them (src/persistence/cleanStop.ts): two sorted typed arrays rather than a Map entry and
 * an object per message, so that a start with millions of them costs one copy, not millions of
 * allocations (10,000,000 counts: seconds in a Map, a few ms here). A count leaves (take()) when
 * the first entry referring to its message is needed in memory; the Journal's map counts it
 * from then on.
 * Invariants: seqs ascend; a taken slot's count is -1; `live` counts the others.
 * called from: worker (MessageCounts, for the Journal)
 */
import type { RefTally } from '../records/stored.ts';

export class ColdRefs {
  private readonly seqs: Float64Array;
  private readonly counts: Float64Array;
  private live: number;

  constructor(tally: RefTally) {
    this.seqs = tally.seqs;
    this.counts = tally.counts;
    this.live = tally.seqs.length;
  }

  /** log messages still counted here */
  get size(): number {
    return this.live;
  }

  /** The count of `seq`, which leaves this table; undefined when it is not (or no longer) here. */
  take(seq: number): number | undefined {
    const i = this.find(seq);
    if (i < 0) return undefined;
    const n = this.counts[i]!;
    this.counts[i] = -1;
    this.live--;
    return n;
  }

  /** The count of `seq` while it is here (it stays); undefined otherwise. */
  peek(seq: number): number | undefined {
    const i = this.find(seq);
    return i < 0 ? undefined : this.counts[i]!;
  }

  /** The counts still here, seqs ascending (copies). */
  tally(): RefTally {
    const { seqs, counts } = this;
    if (this.live === seqs.length) return { seqs: seqs.slice(), counts: counts.slice() };
    const out = { seqs: new Float64Array(this.live), counts: new Float64Array(this.live) };
    for (let i = 0, o = 0; i < seqs.length; i++) {
      if (counts[i]! < 0) continue;
      out.seqs[o] = seqs[i]!;
      out.counts[o++] = counts[i]!;
    }
    return out;
  }

  /** Index of `seq` with a count still here, or -1. */
  private find(seq: number): number {
    const seqs = this.seqs;
    let lo = 0;
    let hi = seqs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const s = seqs[mid]!;
      if (s === seq) return this.counts[mid]! >= 0 ? mid : -1;
      if (s < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

/**
 * How many stored queue entries refer to each log message one worker owns (the Journal's
 * reference counts): a map for the messages in use since the start (with the Message while a
 * delivery in memory needs it), the counts a clean stop left for the others (coldRefs.ts), and
 * the counts lent with a moving session's entries until its new worker counts them.
 * Invariants: a seq is in at most one of the three; `get` moves a cold count into the map; a
 * lent count is found by nothing but tally(), so no new entry can count it.
 * called from: worker (Journal)
 */
import type { Message } from '../model/message.ts';
import type { RefTally } from '../records/stored.ts';
import { ColdRefs } from './coldRefs.ts';

/** One log message's count. */
export interface Ref {
  /** undefined while no delivery in memory refers to it (read when an entry is read back) */
  message: Message | undefined;
  /** entries referring to it, on disk or in memory */
  count: number;
  /** deliveries in memory referring to it: the last to leave memory lets go of `message` */
  held: number;
}

export class MessageCounts {
  private readonly map = new Map<number, Ref>();
  /** counts a clean stop left, for messages no entry in memory has needed since */
  private cold: ColdRefs | undefined;
  /**
   * counts lent with a session's disk segment to its new worker, by the move's key, until it says
   * it counts them (returned()): still in what a clean stop writes (counted twice meanwhile: a
   * message kept too long, never one deleted too soon). The arrays are the caller's: a count lent
   * later (a copy) is pushed onto them.
   */
  private readonly lent = new Map<number, { seqs: number[]; counts: number[] }>();

  /** log messages counted here (lent ones aside) */
  get size(): number {
    return this.map.size + (this.cold?.size ?? 0);
  }

  /** log messages whose Message is kept in memory (for deliveries in memory) */
  get inMemory(): number {
    let n = 0;
    for (const ref of this.map.values()) if (ref.message !== undefined) n++;
    return n;
  }

  /** The count of `seq`, moved from the clean stop's table into the map when it is still there. */
  get(seq: number): Ref | undefined {
    const ref = this.map.get(seq);
    if (ref !== undefined || this.cold === undefined) return ref;
    const count = this.cold.take(seq);
    if (count === undefined) return undefined;
    const taken: Ref = { message: undefined, count, held: 0 };
    this.map.set(seq, taken);
    return taken;
  }

  /** The count of `seq` in the map only (a cold one has no delivery in memory). */
  inMap(seq: number): Ref | undefined {
    return this.map.get(seq);
  }

  /** The number of entries counted for `seq`, wherever it is counted (moving nothing); undefined when lent or not counted. */
  peek(seq: number): number | undefined {
    return this.map.get(seq)?.count ?? this.cold?.peek(seq);
  }

  /** A new count (0) of `seq`, whose message `m` a delivery in memory is about to refer to. */
  track(seq: number, m: Message): Ref {
    const ref: Ref = { message: m, count: 0, held: 0 };
    this.map.set(seq, ref);
    return ref;
  }

  /** `n` entries more refer to `seq` (no delivery in memory needs it yet). */
  add(seq: number, n: number): void {
    const ref = this.get(seq);
    if (ref !== undefined) ref.count += n;
    else this.map.set(seq, { message: undefined, count: n, held: 0 });
  }

  /** `seq` is counted no more (its count reached 0, or its entry carries the message). */
  delete(seq: number): void {
    this.map.delete(seq);
  }

  /** A clean stop's counts, before any entry is restored: kept as they are until needed. */
  adoptTally(tally: RefTally): void {
    this.cold = new ColdRefs(tally);
  }

  /** The counts of `seqs` leave, lent under `key` (the arrays are kept, see `lent`). */
  lend(key: number, seqs: number[], counts: number[]): void {
    for (const seq of seqs) if (!this.map.delete(seq)) this.cold?.take(seq);
    this.lent.set(key, { seqs, counts });
  }

  /** The counts lent under `key` are counted elsewhere now (or back here: the caller add()s them). */
  returned(key: number): void {
    this.lent.delete(key);
  }

  /**
   * How many stored entries refer to each log message, seqs ascending, lent counts in (what a
   * clean stop writes; the caller takes out what it does not want counted).
   */
  tally(): RefTally {
    const lent = new Map<number, number>();
    for (const { seqs, counts } of this.lent.values()) seqs.forEach((seq, i) => lent.set(seq, (lent.get(seq) ?? 0) + counts[i]!));
    const hot = (lent.size === 0 ? Float64Array.from(this.map.keys()) : Float64Array.from(new Set([...this.map.keys(), ...lent.keys()]))).sort();
    const cold = this.cold?.tally() ?? { seqs: new Float64Array(0), counts: new Float64Array(0) };
    if (hot.length === 0) return cold;
    const n = hot.length + cold.seqs.length;
    const seqs = new Float64Array(n);
    const counts = new Float64Array(n);
    // merge: both ascend, and no seq is in both (a taken cold count is in the map only); the cold
    // counts between two hot seqs are copied as a block (millions of them after a start)
    let c = 0;
    let o = 0;
    for (const seq of hot) {
      const end = firstAtLeast(cold.seqs, seq, c);
      seqs.set(cold.seqs.subarray(c, end), o);
      counts.set(cold.counts.subarray(c, end), o);
      o += end - c;
      c = end;
      seqs[o] = seq;
      counts[o++] = (this.map.get(seq)?.count ?? 0) + (lent.get(seq) ?? 0);
    }
    seqs.set(cold.seqs.subarray(c), o);
    counts.set(cold.counts.subarray(c), o);
    return { seqs, counts };
  }
}

/** The first index at or after `from` whose seq is at least `seq` (`seqs` ascending), or seqs.length. */
function firstAtLeast(seqs: Float64Array, seq: number, from: number): number {
  let lo = from;
  let hi = seqs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (seqs[mid]! < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

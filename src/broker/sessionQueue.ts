/**
 * The outbound queue of one session: the messages not yet sent, oldest first. Without a store
 * every one is in memory. With one (a persistent session), only a window is: the queue is
 *
 *   head (memory: what is sent next) ++ disk segment (only in the store) ++ tail (memory: newest)
 *
 * The disk segment is kept as numbers (count, payload bytes, the qseq range (after, last]) and
 * read back in order, a batch at a time, as the head drains (fill()). New deliveries join the
 * head while the disk segment and the tail are empty and the head has room; otherwise they join
 * the tail, and move from the tail's front into the disk segment once their entries are
 * committed (spill()): a delivery whose entry a read of the store might not see yet is never
 * dropped from memory.
 *
 * Invariants:
 * - order: every head qseq < every disk qseq < every tail qseq; each part is in qseq order;
 * - the disk segment holds only entries that are committed, not sent (packet id 0), and counted
 *   in the journal's message references; nothing in memory refers to them;
 * - the tail is non-empty only while the disk segment is, or the head is at its window;
 * - `round`: the first `round.n` tail entries had their writes issued (no unsettled Hold) when
 *   `round.gate` was made; they join the disk segment when it settles without failing.
 * called from: worker (the session's owning worker)
 */
import { Deque } from './deque.ts';
import { messageSize } from '../model/message.ts';
import type { Delivery, DeliveryGate } from '../model/delivery.ts';
import type { Journal, JournalSession } from '../durability/journal.ts';

/** Read-ahead of an online session: twice its send quota, within these bounds. */
export const WINDOW_MIN = 256;
export const WINDOW_MAX = 1024;
/** entries read back at once for drop_oldest when the head is empty */
const DROP_BATCH = 32;

/** Entries only on disk: `count` of them, `bytes` of payload, with after < qseq ≤ last. */
export interface DiskSegment {
  readonly after: number;
  readonly last: number;
  readonly count: number;
  readonly bytes: number;
}

/** What the queue needs of its session. */
export interface QueueOwner extends JournalSession {
  readonly journal: Journal | undefined;
}

/** Sees each delivery read back from disk before it joins the head; false: it is gone (the reader finished it). */
export interface QueueReader {
  keepQueued(d: Delivery): boolean;
}

export class SessionQueue {
  private readonly head = new Deque<Delivery>();
  private readonly tail = new Deque<Delivery>();
  private headBytes = 0;
  private tailBytes = 0;
  /** entries only on disk */
  diskCount = 0;
  /** their payload bytes */
  diskBytes = 0;
  /** the disk segment is the entries with diskAfter < qseq ≤ diskLast */
  private diskAfter = 0;
  private diskLast = 0;
  private round: { gate: DeliveryGate; n: number } | undefined;
  /** set by evictHead() until the commit it waits for settles */
  private evicting: { gate: DeliveryGate; n: number } | undefined;
  /** a round failed (the store is unhealthy): no new one until the next delivery comes */
  private stalled = false;
  private readonly owner: QueueOwner;
  private readonly warn: (text: string) => void;

  constructor(owner: QueueOwner, warn: (text: string) => void) {
    this.owner = owner;
    this.warn = warn;
  }

  get length(): number {
    return this.head.length + this.diskCount + this.tail.length;
  }

  /** payload bytes of every queued message (what max_queued_bytes limits) */
  get bytes(): number {
    return this.headBytes + this.diskBytes + this.tailBytes;
  }

  /** messages held in memory */
  get inMemory(): number {
    return this.head.length + this.tail.length;
  }

  get memoryBytes(): number {
    return this.headBytes + this.tailBytes;
  }

  /**
   * A new delivery at the end. `window`: how many the head may hold (Infinity without a store;
   * 0 offline). A stored one beyond it joins the tail, to be spilled once committed.
   */
  push(d: Delivery, window: number): void {
    this.stalled = false;
    if (this.diskCount === 0 && this.tail.length === 0 && (d.qseq === 0 || this.head.length < window)) {
      this.head.push(d);
      this.headBytes += messageSize(d.message);
    } else {
      this.tail.push(d);
      this.tailBytes += messageSize(d.message);
    }
  }

  /** The oldest delivery in memory at the front (fill() first to read the disk segment). */
  peek(): Delivery | undefined {
    return this.head.peek();
  }

  /** Takes the front delivery (the one peek() returned). */
  shift(): Delivery | undefined {
    const d = this.head.shift();
    if (d !== undefined) this.headBytes -= messageSize(d.message);
    return d;
  }

  /**
   * Brings the head up to `window` (at least 1 when anything is queued): from the tail while
   * the disk segment is empty, else reads the next batch from disk once the head is down to
   * half its window. `reader` sees each delivery read back (its ACL).
   */
  fill(window: number, reader: QueueReader | undefined): void {
    const want = Math.max(1, window);
    this.fromTail(want);
    if (this.diskCount === 0 || this.head.length > want / 2 || this.head.length >= want) return;
    const journal = this.owner.journal;
    if (journal === undefined) return;
    while (this.diskCount > 0 && this.head.length < want) {
      const r = journal.readBack(this.owner, this.diskAfter, this.diskLast, Math.min(want - this.head.length, this.diskCount), this.warn);
      this.diskAfter = r.last;
      this.diskCount -= r.dropped;
      for (const d of r.deliveries) {
        const size = messageSize(d.message);
        this.diskCount--;
        this.diskBytes -= size;
        if (reader !== undefined && !reader.keepQueued(d)) continue;
        this.head.push(d);
        this.headBytes += size;
      }
      if (r.end || this.diskCount <= 0) {
        if (this.diskCount !== 0) this.warn(`persistence: the stored queue of ${this.owner.clientId} held ${this.diskCount} entries fewer than counted`);
        this.diskCount = 0;
        this.diskBytes = 0;
      }
    }
    this.fromTail(want);
  }

  /** While the disk segment is empty, the tail's front moves to the head up to `want`. */
  private fromTail(want: number): void {
    while (this.diskCount === 0 && this.tail.length > 0 && this.head.length < want) {
      const d = this.tail.shift()!;
      const size = messageSize(d.message);
      this.tailBytes -= size;
      this.head.push(d);
      this.headBytes += size;
      if (this.round !== undefined && this.round.n > 0) this.round.n--;
    }
  }

  /**
   * Moves the tail's committed front into the disk segment, dropping it from memory; starts a
   * round (waits for the commit of what has been written) when there is more. `pumped`: pumped
   * again when a round's gate settles.
   */
  spill(window: number, pumped: { pump(now: number): void }): void {
    if (this.evicting !== undefined && this.evicting.gate.done) {
      if (window === 0) this.evicted();
      else this.evicting = undefined; // the client came back first
    }
    this.fromTail(window);
    const journal = this.owner.journal;
    if (journal === undefined) return;
    const round = this.round;
    if (round !== undefined) {
      if (!round.gate.done) return;
      this.round = undefined;
      if (round.gate.failed) {
        // the store failed: the tail stays in memory until a later delivery finds it healthy again
        // (a new round at once would fail at once, and its settling would call this again)
        this.stalled = true;
        return;
      }
      this.toDisk(round.n);
    }
    if (this.tail.length === 0 || this.stalled || !journal.healthy) return;
    let n = 0;
    for (const d of this.tail) {
      // its entry is written by a later transaction or another worker: spilled in a later round
      if (d.qseq === 0 || (d.hold !== undefined && (!d.hold.done || d.hold.failed))) break;
      n++;
    }
    if (n === 0) return;
    const gate = journal.flushedGate();
    if (gate.done) {
      // a commit that settled already (no write since): they are on disk
      if (!gate.failed) this.toDisk(n);
      return;
    }
    this.round = { gate, n };
    gate.wait(pumped);
  }

  /**
   * The client went away: the head goes back to disk too (an offline session keeps nothing
   * queued in memory), once everything written so far is committed. Deliveries that come after
   * this join the tail (the window is 0), so the head only shrinks meanwhile.
   */
  evictHead(pumped: { pump(now: number): void }): void {
    const journal = this.owner.journal;
    if (journal === undefined || this.head.length === 0 || !journal.healthy) return;
    // from the back, the deliveries whose entries are written by now (a Hold settling later may cover a later write)
    let n = 0;
    for (let i = this.head.length - 1; i >= 0; i--) {
      const d = this.head.at(i)!;
      if (d.qseq === 0 || (d.hold !== undefined && (!d.hold.done || d.hold.failed))) break;
      n++;
    }
    if (n === 0) return;
    const gate = journal.flushedGate();
    this.evicting = { gate, n };
    if (gate.done) this.evicted();
    else gate.wait(pumped);
  }

  /**
   * evictHead()'s gate settled: the head's last `n` deliveries (fewer if it shrank from the
   * front; nothing joins its back while offline but entries read from disk) move to the front
   * of the disk segment.
   */
  private evicted(): void {
    const { gate, n } = this.evicting!;
    this.evicting = undefined;
    if (gate.failed) return;
    const journal = this.owner.journal;
    for (let i = Math.min(n, this.head.length); i > 0; i--) {
      const d = this.head.pop()!;
      journal?.spilled(d);
      const size = messageSize(d.message);
      this.headBytes -= size;
      if (this.diskCount === 0) this.diskLast = d.qseq;
      this.diskAfter = d.qseq - 1;
      this.diskCount++;
      this.diskBytes += size;
    }
  }

  /** The tail's first `n` deliveries are committed: they join the disk segment and leave memory. */
  private toDisk(n: number): void {
    const journal = this.owner.journal;
    for (let i = 0; i < n; i++) {
      const d = this.tail.shift()!;
      journal?.spilled(d);
      const size = messageSize(d.message);
      this.tailBytes -= size;
      if (this.diskCount === 0) this.diskAfter = d.qseq - 1;
      this.diskCount++;
      this.diskBytes += size;
      this.diskLast = d.qseq;
    }
  }

  /**
   * The oldest queued delivery leaves (drop_oldest): from the head, else the disk segment's
   * first entry (read back for it), else the tail. Undefined when nothing is queued.
   */
  dropOldest(): Delivery | undefined {
    // a small batch: a full queue drops one per new message, so the next drops find theirs in memory
    if (this.head.length === 0 && this.diskCount > 0) this.fill(DROP_BATCH, undefined);
    if (this.head.length > 0) return this.shift();
    const d = this.tail.shift();
    if (d === undefined) return undefined;
    this.tailBytes -= messageSize(d.message);
    if (this.round !== undefined && this.round.n > 0) this.round.n--;
    return d;
  }

  /**
   * Keeps the deliveries in memory that `reader` keeps (in order); it finishes the others.
   * The disk segment is left alone: its entries pass the reader when they come back.
   */
  retain(reader: QueueReader): void {
    for (let n = this.head.length; n > 0; n--) {
      const d = this.head.shift()!;
      if (reader.keepQueued(d)) this.head.push(d);
      else this.headBytes -= messageSize(d.message);
    }
    const round = this.round;
    const counted = round?.n ?? 0;
    for (let i = 0, n = this.tail.length; i < n; i++) {
      const d = this.tail.shift()!;
      if (reader.keepQueued(d)) this.tail.push(d);
      else {
        this.tailBytes -= messageSize(d.message);
        if (round !== undefined && i < counted) round.n--; // the round covers the tail's first entries
      }
    }
  }

  /** Every queued delivery in memory (head, then tail). */
  *inMemoryDeliveries(): IterableIterator<Delivery> {
    yield* this.head;
    yield* this.tail;
  }

  /**
   * The queue in its three parts, in order (a stored session's move, handover.ts): the head,
   * the disk segment as numbers (undefined when empty), the tail.
   */
  parts(): { head: Iterable<Delivery>; disk: DiskSegment | undefined; tail: Iterable<Delivery> } {
    const disk = this.diskCount === 0 ? undefined : { after: this.diskAfter, last: this.diskLast, count: this.diskCount, bytes: this.diskBytes };
    return { head: this.head, disk, tail: this.tail };
  }

  /**
   * Every queued delivery in order, the disk segment read back a batch at a time (a handover
   * sends the whole queue). Reading changes nothing: the disk segment stays where it is.
   */
  *all(): IterableIterator<Delivery> {
    yield* this.head;
    const journal = this.owner.journal;
    if (journal !== undefined && this.diskCount > 0) yield* journal.readRange(this.owner, this.diskAfter, this.diskLast, this.warn);
    yield* this.tail;
  }

  /** The disk segment is read into memory (the session stops being stored but keeps its queue). */
  load(): void {
    if (this.diskCount === 0) return;
    const tail = [...this.tail];
    this.tail.clear();
    this.tailBytes = 0;
    this.round = undefined;
    this.fill(Infinity, undefined);
    for (const d of tail) this.push(d, Infinity);
  }

  /** The session's entries go (its record is deleted): the disk segment's references are let go of. */
  forgetDisk(): void {
    const journal = this.owner.journal;
    if (journal !== undefined && this.diskCount > 0) journal.forgetRange(this.owner, this.diskAfter, this.diskLast);
    this.diskCount = this.diskBytes = 0;
  }

  /**
   * The stored (qseq ≠ 0) queued deliveries, in memory or not: their count, payload bytes and a
   * qseq range (after, last] holding them all (a clean stop's QueueTally).
   */
  tally(): { after: number; last: number; count: number; bytes: number } {
    let count = this.diskCount;
    let bytes = this.diskBytes;
    let first = count > 0 ? this.diskAfter + 1 : 0;
    let last = count > 0 ? this.diskLast : 0;
    for (const part of [this.head, this.tail]) {
      for (const d of part) {
        if (d.qseq === 0) continue;
        count++;
        bytes += messageSize(d.message);
        if (first === 0 || d.qseq < first) first = d.qseq;
        if (d.qseq > last) last = d.qseq;
      }
    }
    return { after: count === 0 ? 0 : first - 1, last, count, bytes };
  }

  /** A session restored at start-up: its entries after the ones read, `count` of them, `bytes` of payload, up to qseq `last`. */
  restoreDisk(after: number, last: number, count: number, bytes: number): void {
    this.diskAfter = after;
    this.diskLast = last;
    this.diskCount = count;
    this.diskBytes = bytes;
  }

  clear(): void {
    this.head.clear();
    this.tail.clear();
    this.headBytes = this.tailBytes = this.diskCount = this.diskBytes = 0;
    this.round = this.evicting = undefined;
  }
}

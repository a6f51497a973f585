/**
 * The durable side of persistent sessions' queues on one worker: which queue entries, messages
 * and inbound QoS 2 ids are written to the store, when, and what waits for their commit.
 *
 * Ownership:
 * - a persistent session's queue entries `[clientId, qseq]` are updated (packet id, state) and
 *   deleted by the worker that owns the session;
 * - a message is written once per worker that queues it for persistent sessions, under a seq
 *   from that worker's own sequence (seq ≡ worker index mod workers), and that worker counts the
 *   entries referring to it and deletes it when the last one is gone (a session that moves to
 *   another worker has the entries of its deliveries in memory rewritten there to that worker's
 *   copies, rewrite/unrefSeqs, and the counts of its entries on disk lent there, lendRange);
 * - the entries a message needs on *other* workers are written by the publishing worker, in the
 *   same transaction as its own entries and the publisher's inbound QoS 2 id: the other workers
 *   send their entries back (Ticket), hold those deliveries until the publishing worker says the
 *   transaction committed (Hold, released through the cluster), and own them from then on. So a
 *   message is either stored for every persistent session that must get it, with the publisher's
 *   QoS 2 id, or for none: a crash can neither lose an acknowledged message nor let a QoS 2
 *   retransmission be routed twice.
 *
 * Invariants:
 * - an entry is never deleted or updated before the transaction that wrote it is committed
 *   (deletes of held deliveries wait for their Hold);
 * - a delivery of QoS 2, or one whose entry is written by a later transaction, is not sent to
 *   the client before that transaction committed (Session.pump stops at an unsettled Hold), so a
 *   client never sees a message that a crash could make the broker route again;
 * - a message's first entry on a worker carries it inline (Delivery.mseq = 0, no log record to
 *   count or delete); further entries share one log copy (mseq = its seq), counted in `refs`;
 * - `Message.seq` > 0 while this worker's `refs` counts the log copy stored under it (-1: inlined
 *   once); `refs` keeps the Message itself only while a delivery in memory may still need it
 *   (spilled() lets go of it once the delivery is on disk only), so an object it no longer keeps
 *   may carry the seq of a copy since deleted: such a seq is stale and counts as 0 (counted()).
 * called from: worker
 */
import type { Message } from '../model/message.ts';
import { messageFromRecord, messageToRecord, type MessageRecord } from '../records/message.ts';
import { createDelivery, type Delivery, type OutStateValue } from '../model/delivery.ts';
import { Commit, Hold, LateWrites, type LateDone } from './hold.ts';
import { AckScope } from './ackScope.ts';
import { Ticket, type ReleaseSender, type RemoteEntry, type RemoteItem } from './ticket.ts';
import type { QueueEntry, RefTally } from '../records/stored.ts';
import { MessageCounts, type Ref } from './messageCounts.ts';
import type { DeliveryGate } from '../model/delivery.ts';

/** What the journal writes (src/persistence/store.ts). */
export interface JournalStore {
  putMessage(seq: number, message: MessageRecord): void;
  deleteMessage(seq: number): void;
  putQueued(clientId: string, qseq: number, entry: QueueEntry): void;
  /** `raw` (an entry read back, not sent) rewritten as sent with `packetId` in `state`; false: not such an entry, nothing written */
  putQueuedSent(clientId: string, qseq: number, raw: Uint8Array, packetId: number, state: number): boolean;
  deleteQueued(clientId: string, qseq: number): void;
  putInbound(clientId: string, packetId: number): void;
  deleteInbound(clientId: string, packetId: number): void;
  /** resolves when the writes so far are durable as the configured mode promises (`batch`: maybe not yet written) */
  commit(): Promise<void>;
  /** resolves when the writes so far are committed, whatever the mode */
  flush(): Promise<void>;
  /** the transaction the latest write joined (a new one each event turn) */
  readonly batch: unknown;
  readonly healthy: boolean;
  /**
   * Up to `limit` committed queue entries of `clientId` with qseq > `after`, in qseq order (a
   * disk-backed queue reading its next batch; sees every transaction committed before the call).
   */
  readQueued(clientId: string, after: number, limit: number): { qseq: number; entry: QueueEntry; raw: Uint8Array }[];
  /**
   * Each committed queue entry of `clientId` with `after` < qseq ≤ `to`, in qseq order, as its
   * message seq (0: inline), packet id and state, without decoding it (a session's move)
   */
  scanQueued(clientId: string, after: number, to: number, visit: (qseq: number, m: number, p: number, s: number) => void): void;
  /** one stored message of the log (undefined: absent or unreadable) */
  getMessage(seq: number): MessageRecord | undefined;
}

/** Entries read back from a disk-backed queue (Journal.readBack). */
export interface ReadBack {
  /** the deliveries, in qseq order (their stored state is unchanged: the journal's counts already include them) */
  readonly deliveries: Delivery[];
  /** the qseq of the last entry looked at (read on from there) */
  readonly last: number;
  /** entries dropped: their message is not stored (a warning each; their entries are deleted) */
  readonly dropped: number;
  /** no entry is left after `last` up to `to` */
  readonly end: boolean;
}

/** What the journal needs of a session (Session implements it). */
export interface JournalSession {
  readonly clientId: string;
  /** last queue sequence number handed out in this session */
  lastQseq: number;
  /** sends what the queue holds, as far as the client's quota allows */
  pump(now: number): void;
}

const NO_ENTRIES: RemoteItem = { s: 0, e: [] };

/** The counts lent with a stored session's disk segment to its new worker (Journal.lendRange): pairs (seq, count). */
export interface MoveOut {
  /** names them in the new owner's answer (returned()) */
  readonly key: number;
  readonly seqs: number[];
  readonly counts: number[];
  /** [original seq, its copy's seq, entries rewritten to the copy]: lent once the copies are committed (moveSettled) */
  readonly copies: [number, number, number][];
}

/** A durable record of another worker being routed here (Journal.routeRemote). */
interface RemoteRouting {
  readonly from: number;
  /** the seq this worker gave the message: names the held deliveries in the release */
  seq: number;
  hold: Hold | undefined;
  readonly entries: RemoteEntry[];
  /** the delivery of the first entry */
  first: Delivery | undefined;
  late: LateWrites | undefined;
  readonly inbound: Ticket['inbound'];
}

export class Journal {
  private readonly store: JournalStore;
  /** how many entries refer to each log message this worker owns */
  private readonly refs = new MessageCounts();
  /** names the counts lent with a moving session (MoveOut.key) */
  private lastLendKey = 0;
  private nextSeq: number;
  private readonly step: number;
  private turn: Commit | undefined;
  /** settles once the writes of the turn it was made in are committed, whatever the durability mode */
  private flushed: Commit | undefined;
  /** the local publish being routed (beginPublish … endPublish), its publisher's QoS 2 id, and its ticket once one is needed */
  private routing: Message | undefined;
  private routingInbound: Ticket['inbound'];
  private routingTicket: Ticket | undefined;
  private passedOn = false;
  /** routing a durable record of another worker: the entries go back to it */
  private remote: RemoteRouting | undefined;
  /** deliveries whose entries another worker writes, by the seq this worker gave the message */
  private readonly held = new Map<number, { hold: Hold; from: number }>();
  /** what the acknowledgement of the packet being handled waits for; every write here notes itself in it */
  readonly scope: AckScope;
  private readonly onSettled: () => void;
  /** set by the cluster (several workers) */
  sendRelease: ReleaseSender | undefined = undefined;

  /**
   * @param firstSeq first message seq of this worker; following ones are `step` apart, so that
   *   workers never hand out the same seq
   * @param onSettled called after a commit or release settled (the broker flushes its output)
   */
  constructor(store: JournalStore, firstSeq: number, step: number, onSettled: () => void) {
    this.store = store;
    this.nextSeq = firstSeq;
    this.step = step;
    this.onSettled = onSettled;
    this.scope = new AckScope(() => this.commit());
  }

  /** false while the store refuses writes (they wait in memory) */
  get healthy(): boolean {
    return this.store.healthy;
  }

  /** messages this worker holds for its stored entries (those read from the store so far) */
  get messages(): number {
    return this.refs.size;
  }

  // ---- deliveries to persistent sessions

  /**
   * A delivery enters a persistent session's queue (or goes straight out). Returns true when
   * it must wait (d.hold) before it may be sent; its entry is then written by a later
   * transaction or by another worker, or, for QoS 2, has been written and waits for the commit.
   * Returns false when it may go now: the caller writes its entry with write().
   */
  admit(session: JournalSession, d: Delivery): boolean {
    d.qseq = ++session.lastQseq;
    const remote = this.remote;
    if (remote !== undefined) {
      this.hold(this.counted(d.message) ?? this.track(d.message, this.allocate()), d.message);
      d.mseq = remote.seq = d.message.seq;
      remote.first ??= d;
      remote.entries.push([session.clientId, d.qseq, d.qos, d.retain, d.subscriptionIds ?? null]);
      d.hold = remote.hold ??= new Hold();
      return true;
    }
    const t = this.routingTicket;
    if (t !== undefined && t.waiting > 0) {
      t.local.push({ session, d });
      d.hold = t.hold;
      return true;
    }
    this.place(d);
    this.scope.noteWrite();
    if (d.qos !== 2) return false;
    this.write(session, d, 0, 0);
    d.hold = this.commitOfTurn();
    return true;
  }

  /**
   * Writes (or rewrites, with its packet id and state) a delivery's queue entry. An entry read
   * back from a disk-backed queue is sent without encoding its message again (d.stored).
   */
  write(session: JournalSession, d: Delivery, packetId: number, state: 0 | OutStateValue): void {
    const stored = d.stored;
    d.stored = undefined;
    if (stored !== undefined && packetId !== 0 && this.store.putQueuedSent(session.clientId, d.qseq, stored, packetId, state)) return;
    const entry: QueueEntry = d.mseq === 0
      ? { m: 0, x: messageToRecord(d.message), q: d.qos, r: d.retain, i: d.subscriptionIds, p: packetId, s: state }
      : { m: d.mseq, q: d.qos, r: d.retain, i: d.subscriptionIds, p: packetId, s: state };
    this.store.putQueued(session.clientId, d.qseq, entry);
  }

  /** A delivery is finished (acknowledged, expired, dropped): its entry goes, and the message with its last entry. */
  done(session: JournalSession, d: Delivery): void {
    if (d.qseq === 0) return;
    const hold = d.hold;
    if (hold !== undefined && !hold.done) {
      hold.later(() => this.done(session, d));
      return;
    }
    this.store.deleteQueued(session.clientId, d.qseq);
    d.qseq = 0;
    this.finished(d);
  }

  /** The session ended (its entries are deleted with it): lets go of the delivery's message. */
  forget(session: JournalSession, d: Delivery): void {
    if (d.qseq === 0) return;
    if (d.hold !== undefined && !d.hold.done) this.done(session, d); // its entry is written later: delete it then
    else {
      d.qseq = 0;
      this.finished(d);
    }
  }

  /**
   * A delivery of a disk-backed queue is now on disk only (SessionQueue): the message its entry
   * refers to is no longer kept in memory for it. An entry read back later reads the message
   * from the store (message()); a delivery still in memory elsewhere keeps its own reference.
   */
  spilled(d: Delivery): void {
    if (d.mseq !== 0) this.leftMemory(d.mseq);
  }

  /** log messages whose Message this worker keeps in memory (for its deliveries in memory) */
  get messagesInMemory(): number {
    return this.refs.inMemory;
  }

  /** A delivery read back at start-up: its entry, and its message (`seq`; 0 = inline), are this worker's. */
  adopt(d: Delivery, qseq: number, seq: number): void {
    d.qseq = qseq;
    d.mseq = seq;
    if (seq === 0) return;
    d.message.seq = seq;
    this.hold(this.refs.get(seq) ?? this.track(d.message, seq), d.message);
  }

  /**
   * A delivery of a stored session that moved here from another worker: its entry is rewritten
   * to refer to a copy of the message that this worker owns. Returns the old owner's seq, which
   * the old owner lets go of once this is committed (unrefSeqs).
   */
  rewrite(session: JournalSession, d: Delivery, packetId: number, state: 0 | OutStateValue): number {
    const old = d.mseq;
    d.message.seq = 0;
    this.place(d);
    this.write(session, d, packetId, state);
    return old;
  }

  /** Entries of a session that moved away now refer to the new owner's copies: one reference less each. */
  unrefSeqs(seqs: readonly number[]): void {
    for (const seq of seqs) {
      const ref = this.refs.get(seq);
      if (ref !== undefined) this.unref(ref.message, seq);
    }
  }

  /**
   * The stored message `seq` that this worker's entries refer to, read from the store when only
   * entries on disk referred to it so far; undefined when no entry of this worker counts it.
   */
  message(seq: number): Message | undefined {
    const ref = this.refs.get(seq);
    if (ref === undefined) return undefined;
    if (ref.message === undefined) {
      const r = this.store.getMessage(seq);
      if (r === undefined) return undefined;
      ref.message = messageFromRecord(r, -1);
      ref.message.seq = seq;
    }
    return ref.message;
  }

  // ---- disk-backed queues (src/broker/sessionQueue.ts)

  /** An entry read at start-up that stays on disk refers to message `seq`: counted, not read. */
  countRef(seq: number): void {
    this.refs.add(seq, 1);
  }

  /** A clean stop's counts (Store.loadOwnSessions), before any entry of this worker is restored: kept as they are until needed. */
  adoptRefTally(tally: RefTally): void {
    this.refs.adoptTally(tally);
  }

  // ---- a stored session moving to another worker (src/workers/handover.ts)

  /**
   * `session`'s queued entries with `after` < qseq ≤ `to` (its disk segment) go to another
   * worker with it, and stay on disk. The counts of the log messages only they refer to leave
   * this worker now, lent to the new owner until it answers (returned()). A message that other
   * entries here refer to as well is copied, and these entries are rewritten to the copy, whose
   * count is lent once that is committed (moveSettled(), which the caller waits for when
   * `copies` is not empty). Undefined, with nothing changed, when the counts do not match the
   * entries (then the caller reads them into the record as before). Call once every write of
   * the session's entries is committed: the counts then say what the store holds. The entries
   * are scanned in place; a second pass reads those to rewrite.
   */
  lendRange(session: JournalSession, after: number, to: number): MoveOut | undefined {
    const refs = new Map<number, number>();
    this.store.scanQueued(session.clientId, after, to, (_qseq, m, p, s) => {
      if (m !== 0 && (p === 0 || s === 0)) refs.set(m, (refs.get(m) ?? 0) + 1);
    });
    const out: MoveOut = { key: ++this.lastLendKey, seqs: [], counts: [], copies: [] };
    const shared: number[] = [];
    for (const [seq, k] of refs) {
      const count = this.refs.peek(seq);
      if (count === undefined) continue; // not stored: the new owner drops the entry when it reads it back, as this worker would
      if (count < k) return undefined;
      if (count > k) shared.push(seq);
      else {
        out.seqs.push(seq);
        out.counts.push(k);
      }
    }
    this.refs.lend(out.key, out.seqs, out.counts);
    const copyOf = new Map<number, number>();
    for (const seq of shared) {
      const record = this.store.getMessage(seq);
      if (record === undefined) continue; // unreadable: its entries are dropped when read back, here or there
      const copy = this.allocate();
      this.store.putMessage(copy, record);
      copyOf.set(seq, copy);
      out.copies.push([seq, copy, refs.get(seq)!]);
    }
    if (copyOf.size > 0) {
      this.eachQueued(session, after, to, true, (qseq, entry) => {
        const copy = entry.x === undefined ? copyOf.get(entry.m) : undefined;
        if (copy !== undefined) this.store.putQueued(session.clientId, qseq, { ...entry, m: copy });
      });
    }
    return out;
  }

  /**
   * lendRange()'s copies are committed (`ok`): each is lent too (MoveOut.seqs), and its original loses the
   * references of the rewritten entries. Not `ok`: whether they were written is not known, and
   * the caller reads the entries into the record after all (each referring to the original or
   * to the copy): this worker counts the lent messages again, and the copies as well (one of
   * the two counts of a message then never ends: it stays in the store, which is the safe way).
   */
  moveSettled(out: MoveOut, ok: boolean): void {
    if (!ok) {
      this.refs.returned(out.key);
      out.seqs.forEach((seq, i) => this.refs.add(seq, out.counts[i]!));
      for (const [, copy, k] of out.copies) this.refs.add(copy, k);
      return;
    }
    for (const [seq, copy, k] of out.copies) {
      out.seqs.push(copy);
      out.counts.push(k);
      for (let i = 0; i < k; i++) {
        const ref = this.refs.get(seq);
        if (ref !== undefined) this.unref(ref.message, seq);
      }
    }
  }

  /** The new owner counts what MoveOut `key` lent it. */
  returned(key: number): void {
    this.refs.returned(key);
  }

  /** A session that moved here brought these counts (another worker's MoveOut): its entries on disk refer to them. */
  adoptLent(seqs: readonly number[], counts: readonly number[]): void {
    seqs.forEach((seq, i) => this.refs.add(seq, counts[i]!));
  }

  /** Calls `visit` with each entry of `session` with `after` < qseq ≤ `to` (`unsent`: only those not sent), in order, read a batch at a time. */
  private eachQueued(session: JournalSession, after: number, to: number, unsent: boolean, visit: (qseq: number, entry: QueueEntry) => void): void {
    for (let last = after; last < to; ) {
      const rows = this.store.readQueued(session.clientId, last, 4096);
      if (rows.length === 0) return;
      for (const { qseq, entry } of rows) {
        if (qseq > to) return;
        last = qseq;
        if (!unsent || entry.p === 0 || entry.s === 0) visit(qseq, entry);
      }
    }
  }

  /**
   * How many stored entries refer to each log message this worker owns, seqs ascending (what a
   * clean stop writes; the caller takes out what it does not want counted). Lent counts are in.
   */
  refTally(): RefTally {
    return this.refs.tally();
  }


  /**
   * Reads back up to `limit` queued entries of `session` with `after` < qseq ≤ `to`, in order, as
   * deliveries that keep their qseq and message seq. Entries already sent (packet id ≠ 0: held
   * in the outbound table) are skipped. An entry whose message is not stored is deleted and
   * counted in `dropped`. Nothing about the entries' counts changes: they were counted when
   * written (or at start-up).
   */
  readBack(session: JournalSession, after: number, to: number, limit: number, warn: (text: string) => void): ReadBack {
    const deliveries: Delivery[] = [];
    let last = after;
    let dropped = 0;
    let end = false;
    while (deliveries.length + dropped < limit && !end) {
      const rows = this.store.readQueued(session.clientId, last, limit - deliveries.length - dropped);
      if (rows.length < limit - deliveries.length - dropped) end = true;
      for (const { qseq, entry, raw } of rows) {
        if (qseq > to) {
          end = true;
          break;
        }
        last = qseq;
        if (entry.p !== 0 && entry.s !== 0) continue;
        const m = entry.x !== undefined ? messageFromRecord(entry.x, -1) : this.message(entry.m);
        if (m === undefined) {
          warn(`persistence: queue entry ${qseq} of ${session.clientId} refers to message ${entry.m}, which is not stored; dropped`);
          this.store.deleteQueued(session.clientId, qseq);
          const ref = this.refs.get(entry.m);
          if (ref !== undefined && --ref.count === 0) this.refs.delete(entry.m);
          dropped++;
          continue;
        }
        const d = createDelivery(m, entry.q, entry.r, entry.i);
        d.qseq = qseq;
        d.mseq = entry.x !== undefined ? 0 : entry.m;
        d.stored = raw;
        if (d.mseq !== 0) this.refs.inMap(d.mseq)!.held++; // counted already (message() took it into the map): on disk until now
        deliveries.push(d);
      }
      if (last >= to) end = true;
    }
    return { deliveries, last, dropped, end };
  }

  /** Every entry readBack() would give from `after` up to `to`, read a batch at a time. */
  *readRange(session: JournalSession, after: number, to: number, warn: (text: string) => void): IterableIterator<Delivery> {
    while (after < to) {
      const r = this.readBack(session, after, to, 1024, warn);
      yield* r.deliveries;
      if (r.end || r.last === after) return;
      after = r.last;
    }
  }

  /**
   * The entries of `session` with `after` < qseq ≤ `to` go with the session (deleteSession): the
   * messages they refer to are counted one reference less, read a batch at a time.
   */
  forgetRange(session: JournalSession, after: number, to: number): void {
    this.eachQueued(session, after, to, false, (_qseq, entry) => {
      if (entry.x === undefined && entry.m !== 0) {
        const ref = this.refs.get(entry.m);
        if (ref !== undefined) this.unref(ref.message, entry.m);
      }
    });
  }

  /**
   * What an entry written so far waits for before a read of the store sees it: the commit of
   * this turn's transaction, whatever the durability mode (at `batch` commit() may resolve
   * before it is written). Failed when the store is unhealthy.
   */
  flushedGate(): DeliveryGate {
    const batch = this.store.batch;
    if (this.flushed === undefined || this.flushed.batch !== batch || !this.store.healthy) {
      const p = this.store.flush();
      p.catch(() => {});
      this.flushed = new Commit(batch, p, this.onSettled);
    }
    return this.flushed;
  }

  // ---- inbound QoS 2 ids

  /** A QoS 2 PUBLISH of a stored session was routed: its id is stored with the entries. */
  private storeInbound(clientId: string, packetId: number): void {
    this.store.putInbound(clientId, packetId);
    this.scope.noteWrite();
  }

  /** PUBREL: the publisher's id is free again once this is committed (PUBCOMP waits for it). */
  releaseInbound(clientId: string, packetId: number): void {
    this.store.deleteInbound(clientId, packetId);
    this.scope.noteWrite();
  }

  // ---- publishes of this worker

  /**
   * A QoS 1/2 publish of this worker starts routing (cluster.route, then the local route). No
   * Ticket is made unless another worker has to answer for it (ticket()). `passedOn`: a
   * `$share` record of another worker that this one passes on; its publisher's QoS 2 id is
   * written only with entries (by the ticket), never alone: the publishing worker acknowledges,
   * and may delete the id, without waiting for this worker.
   */
  beginPublish(message: Message, inbound: Ticket['inbound'], passedOn = false): void {
    this.routing = message;
    this.routingInbound = inbound;
    this.passedOn = passedOn;
  }

  /** The ticket of the publish being routed, made on first use: another worker is asked to answer. */
  ticket(): Ticket {
    if (this.routingTicket === undefined) {
      const t = (this.routingTicket = new Ticket(this.routing!));
      t.inbound = this.routingInbound;
      t.passedOn = this.passedOn;
    }
    return this.routingTicket;
  }

  /**
   * The publish has been routed here and handed to the other workers. Returns the ticket while
   * they still have to answer (the acknowledgement waits for ticket.promise()).
   */
  endPublish(): Ticket | undefined {
    const t = this.routingTicket;
    const inbound = this.routingInbound;
    this.routing = this.routingTicket = this.routingInbound = undefined;
    if (t !== undefined && t.waiting > 0) return t;
    if (inbound !== undefined && !this.passedOn) this.storeInbound(inbound.clientId, inbound.packetId);
    return undefined;
  }

  /** Another worker answered a durable record (undefined: it died first). */
  answered(t: Ticket, w: number, item: RemoteItem | undefined): void {
    if (item === undefined) t.failed = true;
    else if (item.s !== 0) t.remote.push({ w, item });
    if (--t.waiting === 0) this.finish(t);
  }

  /** Every worker answered: one transaction with all entries, the message copies and the inbound id. */
  private finish(t: Ticket): void {
    let wrote = false;
    for (const { session, d } of t.local) {
      if (d.qseq === 0) continue;
      this.place(d);
      this.write(session, d, 0, 0);
      wrote = true;
    }
    let record: MessageRecord | undefined;
    for (const { item } of t.remote) {
      const x = (record ??= messageToRecord(t.message));
      // x: its one entry carries the message; else they all refer to the copy written under its seq
      if (item.x !== true) this.store.putMessage(item.s, x);
      for (const [clientId, qseq, q, r, i] of item.e) {
        this.store.putQueued(clientId, qseq, item.x === true ? { m: 0, x, q, r, i: i ?? undefined, p: 0, s: 0 } : { m: item.s, q, r, i: i ?? undefined, p: 0, s: 0 });
      }
      wrote = true;
    }
    if (t.inbound !== undefined) {
      this.store.putInbound(t.inbound.clientId, t.inbound.packetId);
      wrote = true;
    }
    const settle = (ok: boolean): void => {
      t.end(ok && !t.failed, Date.now());
      this.onSettled();
    };
    if (!wrote) {
      settle(true);
      return;
    }
    if (t.passedOn && t.inbound !== undefined) {
      // the publishing worker deletes its QoS 2 id on PUBREL, after our answer: our copy must be written before (even at `batch`)
      this.store.flush().then(() => settle(true), () => settle(false));
    } else {
      const c = this.commitOfTurn();
      c.later(() => settle(!c.failed));
    }
    // The receiving workers write these entries' later states (packet id, PUBREC, delete) under the
    // same keys. Two writers of one key: the last commit wins, so they go on only once ours is
    // written, even at `batch`, where the acknowledgement above may go before.
    if (t.remote.length > 0) {
      this.store.flush().then(
        () => this.release(t, true),
        () => this.release(t, false),
      );
    }
  }

  private release(t: Ticket, ok: boolean): void {
    ok &&= !t.failed;
    for (const { w, item } of t.remote) this.sendRelease?.(w, item.s, ok);
    this.onSettled();
  }

  // ---- durable records of other workers (this worker delivers, the publishing worker writes)

  /**
   * Routes a durable record of worker `from` here (`deliver` does the routing): the deliveries it
   * makes to stored sessions are held, and their entries go back to `from` in the returned item,
   * which `from` writes in its own transaction (released()). `late`: deliveries a session
   * handover took to another worker; the answer to `from` waits until they are written there.
   */
  routeRemote<T>(from: number, inbound: Ticket['inbound'], deliver: () => T): { item: RemoteItem; late: LateWrites | undefined; routed: T } {
    const r: RemoteRouting = (this.remote = { from, seq: 0, hold: undefined, entries: [], first: undefined, late: undefined, inbound });
    let routed: T;
    try {
      routed = deliver();
    } finally {
      this.remote = undefined;
    }
    if (r.entries.length === 0) return { item: NO_ENTRIES, late: r.late, routed };
    this.held.set(r.seq, { hold: r.hold!, from: r.from });
    // one entry here (the usual case): it carries the message, as a first local entry does, and
    // no log copy is written, counted or deleted; the seq only names the held delivery
    const ref = this.refs.inMap(r.seq);
    if (r.entries.length === 1 && ref !== undefined && ref.count === 1 && r.first !== undefined) {
      this.refs.delete(r.seq);
      r.first.mseq = 0;
      r.first.message.seq = -1;
      return { item: { s: r.seq, e: r.entries, x: true }, late: r.late, routed };
    }
    return { item: { s: r.seq, e: r.entries }, late: r.late, routed };
  }

  /**
   * A delivery of the durable publish being routed goes to a stored session that is moving
   * between workers: its new owner writes the entry, and calls the returned function once that
   * is committed. The publish is not acknowledged before. Undefined when no durable publish is
   * being routed (nothing to wait for).
   */
  late(): LateDone | undefined {
    const r = this.remote;
    if (r !== undefined) return (r.late ??= new LateWrites()).add();
    if (this.routing === undefined) return undefined;
    const t = this.ticket();
    t.waiting++;
    let called = false;
    return (ok) => {
      if (called) return;
      called = true;
      this.answered(t, -1, ok ? NO_ENTRIES : undefined);
    };
  }

  /**
   * The publisher's QoS 2 id of the durable publish being routed (stored publisher sessions
   * only). Whoever writes entries of it apart from the publishing worker's transaction (a late
   * write, a `$share` record passed on) writes the id with them, so that an entry on disk always
   * comes with the id and a retransmission is recognised.
   */
  routedInbound(): Ticket['inbound'] {
    return this.remote !== undefined ? this.remote.inbound : this.routingInbound;
  }

  /** Writes a publisher's QoS 2 id with entries written apart from its worker's transaction (see routedInbound()). */
  writeInbound(inbound: NonNullable<Ticket['inbound']>): void {
    this.storeInbound(inbound.clientId, inbound.packetId);
  }

  /** The publishing worker committed (or failed to commit) the entries of message `seq`. */
  released(seq: number, ok: boolean): void {
    const h = this.held.get(seq);
    if (h === undefined) return;
    this.held.delete(seq);
    h.hold.settle(ok, Date.now());
    this.onSettled();
  }

  /**
   * Worker `w` died: it will release nothing more. What it held here is let go (sent from
   * memory) rather than kept back for ever; whether it reached the disk is unknown, and its
   * publishers were not told it was stored.
   */
  releaseAllFrom(w: number): void {
    for (const [seq, h] of this.held) if (h.from === w) this.released(seq, false);
  }

  /** The commit that acknowledgements of this turn wait for. */
  commit(): Promise<void> {
    return this.commitOfTurn().promise;
  }

  /** Resolves when this worker's writes so far are committed, whatever the durability mode (before another worker writes the same keys). */
  written(): Promise<void> {
    return this.store.flush();
  }

  // ---- internals

  private allocate(): number {
    const s = this.nextSeq;
    this.nextSeq += this.step;
    return s;
  }

  /**
   * The count of the log copy `m.seq` names; undefined when it names none (0, -1) or a stale one
   * (the copy is no longer counted: see the invariants), which sets it to 0.
   */
  private counted(m: Message): Ref | undefined {
    if (m.seq <= 0) return undefined;
    const ref = this.refs.get(m.seq);
    if (ref === undefined) m.seq = 0;
    return ref;
  }

  private track(m: Message, seq: number): Ref {
    m.seq = seq;
    return this.refs.track(seq, m);
  }

  /** A new entry, whose delivery (of `m`) is in memory, refers to the log copy `ref` counts. */
  private hold(ref: Ref, m: Message): void {
    ref.message ??= m;
    ref.count++;
    ref.held++;
  }

  /** A delivery in memory is finished (its entry deleted): it leaves memory, and its log copy loses a reference. */
  private finished(d: Delivery): void {
    if (d.mseq === 0) return;
    this.leftMemory(d.mseq);
    this.unref(d.message, d.mseq);
  }

  /** A delivery referring to log message `seq` left memory (its entry stays counted, or goes through unref). */
  private leftMemory(seq: number): void {
    const ref = this.refs.inMap(seq);
    if (ref !== undefined && ref.held > 0 && --ref.held === 0) ref.message = undefined;
  }

  /**
   * Where a new entry's message goes: inline for its first entry on this worker (nothing to count
   * or delete later), the shared log copy for the others (written with the second, then counted).
   */
  private place(d: Delivery): void {
    const m = d.message;
    d.stored = undefined; // the entry is written anew
    let ref = this.counted(m);
    if (m.seq === 0) {
      m.seq = -1;
      d.mseq = 0;
      return;
    }
    if (ref === undefined) {
      ref = this.track(m, this.allocate());
      this.store.putMessage(m.seq, messageToRecord(m));
    }
    this.hold(ref, m);
    d.mseq = m.seq;
  }

  /** One entry less refers to `m` (stored under `seq`); the last one deletes it. */
  private unref(m: Message | undefined, seq: number): void {
    const ref = this.refs.get(seq);
    if (ref === undefined || --ref.count > 0) return;
    this.refs.delete(seq);
    this.store.deleteMessage(seq);
    if (ref.message !== undefined && ref.message.seq === seq) ref.message.seq = 0;
    if (m !== undefined && m.seq === seq) m.seq = 0;
  }

  /** The Hold of the transaction this turn's writes joined (call after a write). */
  private commitOfTurn(): Commit {
    const batch = this.store.batch;
    if (this.turn === undefined || this.turn.batch !== batch || !this.store.healthy) {
      const p = this.store.commit();
      p.catch(() => {}); // failures are handled by the Commit's and the acknowledgements' own handlers
      this.turn = new Commit(batch, p, this.onSettled);
    }
    return this.turn;
  }
}

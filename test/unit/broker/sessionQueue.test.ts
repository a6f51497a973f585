/**
 * A stored session's disk-backed queue (src/broker/sessionQueue.ts) against a model store whose
 * reads see only committed writes: whatever the interleaving of deliveries, commits, attaches,
 * detaches and acknowledgements, every message is sent, first sends come in delivery order, and
 * memory holds no queued message of an offline session once its writes are committed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, type QueueLimits, type SessionLink } from '../../../src/broker/session.ts';
import { createMessage } from '../../../src/model/message.ts';
import { createDelivery, type Delivery } from '../../../src/model/delivery.ts';
import { Journal, type JournalStore, type MoveOut } from '../../../src/durability/journal.ts';
import type { MessageRecord } from '../../../src/records/message.ts';
import type { QueueEntry } from '../../../src/records/stored.ts';
import { decodeQueueEntry, encodeQueueEntry, queueEntrySent } from '../../../src/persistence/format.ts';
import { Rng } from '../../helpers/fuzz/prng.ts';

/** Writes wait in a batch until commitAll(); reads see committed writes only, as LMDB's. */
class ModelStore implements JournalStore {
  batch: unknown = {};
  healthy = true;
  private readonly committed = new Map<string, Map<number, QueueEntry>>();
  private readonly messages = new Map<number, MessageRecord>();
  private pending: (() => void)[] = [];
  private waiting: (() => void)[] = [];
  putMessage(seq: number, m: MessageRecord): void {
    this.pending.push(() => this.messages.set(seq, m));
  }
  deleteMessage(seq: number): void {
    this.pending.push(() => this.messages.delete(seq));
  }
  private queue(c: string): Map<number, QueueEntry> {
    let q = this.committed.get(c);
    if (q === undefined) this.committed.set(c, (q = new Map()));
    return q;
  }
  putQueued(c: string, qseq: number, e: QueueEntry): void {
    this.pending.push(() => this.queue(c).set(qseq, e));
  }
  deleteQueued(c: string, qseq: number): void {
    this.pending.push(() => this.queue(c).delete(qseq));
  }
  putInbound(): void {}
  deleteInbound(): void {}
  /** entries are read back as the store does: with their encoded bytes, which a send patches (format.ts queueEntrySent) */
  readQueued(c: string, after: number, limit: number): { qseq: number; entry: QueueEntry; raw: Uint8Array }[] {
    return [...this.queue(c).entries()].filter(([q]) => q > after).sort((a, b) => a[0] - b[0]).slice(0, limit)
      .map(([qseq, entry]) => ({ qseq, entry, raw: encodeQueueEntry(entry) }));
  }
  scanQueued(c: string, after: number, to: number, visit: (qseq: number, m: number, p: number, s: number) => void): void {
    for (const { qseq, entry } of this.readQueued(c, after, Infinity)) if (qseq <= to) visit(qseq, entry.x === undefined ? entry.m : 0, entry.p, entry.s);
  }
  putQueuedSent(c: string, qseq: number, raw: Uint8Array, packetId: number, state: number): boolean {
    const value = queueEntrySent(raw, packetId, state);
    if (value === undefined) return false;
    const d = decodeQueueEntry(value);
    assert.ok(d.ok && d.value.p === packetId && d.value.s === state, 'a patched entry decodes with its packet id and state');
    this.pending.push(() => this.queue(c).set(qseq, d.value));
    this.patched++;
    return true;
  }
  /** entries sent through putQueuedSent */
  patched = 0;
  getMessage(seq: number): MessageRecord | undefined {
    return this.messages.get(seq);
  }
  commit(): Promise<void> {
    return this.flush();
  }
  flush(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  /** the batch commits: its writes become visible, its commit()/flush() promises resolve */
  async commitAll(): Promise<void> {
    for (const w of this.pending.splice(0)) w();
    this.batch = {};
    for (const r of this.waiting.splice(0)) r();
    await new Promise((r) => setImmediate(r));
  }
  entries(c: string): number {
    return this.queue(c).size;
  }
}

class RecordingLink implements SessionLink {
  sent: { n: number; id: number; dup: boolean }[] = [];
  readonly sendQuota = 4;
  congested = false;
  sendPublish(d: Delivery, packetId: number, dup: boolean): boolean {
    this.sent.push({ n: Number(d.message.payload.toString()), id: packetId, dup });
    return true;
  }
  sendPubrel(): void {}
}

const limits: QueueLimits = { maxQueuedMessages: 0, maxQueuedBytes: 0, queueQos0Messages: false, dropOldest: false };

/** Acknowledges the session's oldest send, or commits when none waits, until nothing is queued or in flight (at most `steps` rounds). */
async function drainAll(s: Session, store: ModelStore, steps: number): Promise<void> {
  for (let guard = 0; s.outbound.size > 0 || s.queuedCount > 0; guard++) {
    assert.ok(guard < steps, 'drains');
    const e = s.outbound.values().next().value;
    if (e !== undefined) s.puback(e.packetId, 0);
    else await store.commitAll();
  }
}

for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`[MQTT-4.6.0-6] a disk-backed queue sends every message, first sends in order, through random commits, attaches and acks (seed ${seed})`, async () => {
    const rng = new Rng(seed);
    const rnd = (): number => rng.u32() / 0x1_0000_0000;
    const store = new ModelStore();
    const journal = new Journal(store, 1, 1, () => {});
    const s = new Session('c', limits);
    s.journal = journal;
    let link: RecordingLink | undefined;
    const links: RecordingLink[] = [];
    let next = 0;
    // another stored session, offline for good, takes every tenth message first: this one's entry then refers to the log copy
    const other = new Session('other', limits);
    other.journal = journal;
    let mostOnDisk = 0;
    for (let step = 0; step < 3000; step++) {
      mostOnDisk = Math.max(mostOnDisk, s.queuedOnDisk);
      const r = rnd();
      if (r < 0.45) {
        // a message for this session; every tenth one shared with another (stored) session, so it goes to the log
        const n = next++;
        const m = createMessage('t', Buffer.from(String(n)), 1, false, undefined, 'p', 0);
        if (n % 10 === 0) other.deliver(createDelivery(m, 1, false, undefined), 0, false);
        s.deliver(createDelivery(m, 1, false, undefined), 0, false);
      } else if (r < 0.65) await store.commitAll();
      else if (r < 0.7) {
        if (link === undefined) {
          link = new RecordingLink();
          links.push(link);
          s.attach(link, 0);
        } else {
          s.detach(0);
          link = undefined;
        }
      } else if (link !== undefined) {
        const e = [...s.outbound.values()][Math.floor(rnd() * s.outbound.size)];
        if (e !== undefined) s.puback(e.packetId, 0);
      }
    }
    // a spill round waits for the commit after the one that settled its predecessor
    for (let i = 0; i < 3; i++) await store.commitAll();
    if (link === undefined) {
      // offline, everything committed: nothing queued stays in memory
      assert.equal(s.queuedOnDisk, s.queuedCount, `an offline session keeps its queue on disk only (${s.queuedOnDisk} of ${s.queuedCount})`);
      // nor the log copies its entries refer to: only those of its unacknowledged sends (in memory until the client comes back)
      const sentCopies = new Set([...s.outbound.values()].map((e) => e.delivery.mseq).filter((seq) => seq !== 0));
      assert.equal(journal.messagesInMemory, sentCopies.size, 'the log copies kept in memory are those of the sends awaiting acknowledgement');
      link = new RecordingLink();
      links.push(link);
      s.attach(link, 0);
    }
    await drainAll(s, store, 100000);
    assert.ok(other.queuedOnDisk > 0);
    other.clearMessages(); // its session ends: its entries (on disk) let go of the log copies
    await store.commitAll();
    assert.ok(mostOnDisk > 0, 'part of the queue was on disk');
    assert.ok(store.patched > 0, 'entries read back were sent without encoding them again');
    const firsts = links.flatMap((l) => l.sent.filter((x) => !x.dup).map((x) => x.n));
    assert.deepEqual(firsts, Array.from({ length: next }, (_, i) => i), 'each message is first sent once, in delivery order');
    assert.equal(store.entries('c'), 0, 'every acknowledged entry is deleted');
    assert.equal(journal.messages, 0, 'the log copies are let go of');
    assert.equal(s.queuedBytes, 0);
  });
}

test('a message whose log copy was deleted while the journal no longer kept it is stored afresh when delivered again (a retained message, say)', async () => {
  const store = new ModelStore();
  const journal = new Journal(store, 1, 1, () => {});
  const a = new Session('a', limits);
  const b = new Session('b', limits);
  a.journal = b.journal = journal;
  // one object, as the retained store keeps it: the first entry carries it inline, the second refers to its log copy
  const m = createMessage('t', Buffer.from('7'), 1, true, undefined, 'p', 0);
  a.deliver(createDelivery(m, 1, false, undefined), 0, false);
  b.deliver(createDelivery(m, 1, false, undefined), 0, false);
  for (let i = 0; i < 3; i++) await store.commitAll();
  assert.equal(b.queuedOnDisk, 1);
  assert.equal(journal.messagesInMemory, 0, 'both offline, on disk: the journal keeps no message');
  assert.ok(m.seq > 0, 'the object still names the log copy');
  // b comes back and acknowledges: the copy's last entry goes, and the copy with it
  const link = new RecordingLink();
  b.attach(link, 0);
  await drainAll(b, store, 100);
  await store.commitAll();
  assert.equal(journal.messages, 0, 'the log copy is deleted');
  // the same object delivered again (a new subscriber gets the retained message): a fresh inline entry
  const c = new Session('c', limits);
  c.journal = journal;
  c.deliver(createDelivery(m, 1, false, undefined), 0, false);
  await store.commitAll();
  const [row] = store.readQueued('c', 0, 10);
  assert.ok(row !== undefined && row.entry.m === 0 && row.entry.x !== undefined, 'stored inline, not under the deleted seq');
  const later = new RecordingLink();
  c.attach(later, 0);
  for (let i = 0; i < 3; i++) await store.commitAll();
  assert.deepEqual(later.sent.map((x) => x.n), [7]);
});

/** Worker 0 and worker 1 on one store (odd and even seqs), and three offline sessions on worker 0 given the same 20 messages: `first`'s entries carry them inline, `other`'s and `c`'s refer to one log copy each. */
async function sharedQueues(): Promise<{ store: ModelStore; a: Journal; b: Journal; s: Session; other: Session; disk: { after: number; last: number; count: number; bytes: number } }> {
  const store = new ModelStore();
  const a = new Journal(store, 1, 2, () => {});
  const b = new Journal(store, 2, 2, () => {});
  const s = new Session('c', limits);
  const first = new Session('first', limits);
  const other = new Session('other', limits);
  s.journal = first.journal = other.journal = a;
  for (let n = 0; n < 20; n++) {
    const m = createMessage('t', Buffer.from(String(n)), 1, false, undefined, 'p', 0);
    for (const to of [first, other, s]) to.deliver(createDelivery(m, 1, false, undefined), 0, false);
  }
  for (let i = 0; i < 3; i++) await store.commitAll();
  const disk = s.queueParts().disk!;
  assert.equal(disk.count, 20, 'offline: the whole queue is on disk');
  return { store, a, b, s, other, disk };
}

/** `c`'s session on the new owner `b`: the same disk segment, the lent counts adopted; drained there. Returns what the client got. */
async function drainMoved(store: ModelStore, b: Journal, disk: { after: number; last: number; count: number; bytes: number }, lent: MoveOut): Promise<number[]> {
  const moved = new Session('c', limits);
  moved.journal = b;
  moved.restoreQueuedOnDisk(disk.after, disk.last, disk.count, disk.bytes);
  b.adoptLent(lent.seqs, lent.counts);
  const link = new RecordingLink();
  moved.attach(link, 0);
  await drainAll(moved, store, 1000);
  await store.commitAll();
  return link.sent.map((x) => x.n);
}

test('a session moving to another worker takes its disk segment as it is: the counts of the messages only it refers to are lent, nothing is written (handover.ts)', async () => {
  const { store, a, b, s, other, disk } = await sharedQueues();
  other.clearMessages(); // its session ends: `c` alone refers to the log copies
  await store.commitAll();
  const lent = a.lendRange(s, disk.after, disk.last)!;
  assert.equal(lent.copies.length, 0);
  assert.deepEqual(lent.counts, new Array(20).fill(1));
  assert.equal(a.messages, 0, 'the lent counts leave the old owner\'s maps (a new entry cannot count them)');
  assert.deepEqual([...a.refTally().seqs], [...lent.seqs].sort((x, y) => x - y), 'a clean stop still writes them until the new owner answers');
  s.clearMessages(); // what the old owner does once the session is handed (its journal detached)
  assert.deepEqual(await drainMoved(store, b, disk, lent), Array.from({ length: 20 }, (_, i) => i), 'read back in order from the entries the old owner wrote');
  a.returned(lent.key);
  assert.equal(a.refTally().seqs.length, 0);
  assert.equal(store.entries('c'), 0);
  assert.equal(b.messages, 0, 'the new owner deleted the messages with their last entries');
  for (const seq of lent.seqs) assert.equal(store.getMessage(seq), undefined);
});

test('a moving session\'s entries that share a log message with another session are rewritten to a copy, lent once committed; the other session keeps the original', async () => {
  const { store, a, b, s, other, disk } = await sharedQueues();
  const originals = [...a.refTally().seqs];
  const lent = a.lendRange(s, disk.after, disk.last)!;
  assert.equal(lent.copies.length, 20);
  assert.equal(lent.seqs.length, 0, 'nothing lent before the copies are committed');
  await store.commitAll();
  a.moveSettled(lent, true);
  assert.deepEqual(lent.seqs, lent.copies.map(([, copy]) => copy));
  assert.deepEqual(store.readQueued('c', 0, 100).map((r) => r.entry.m), lent.seqs, 'the entries refer to the copies');
  s.clearMessages();
  assert.deepEqual(await drainMoved(store, b, disk, lent), Array.from({ length: 20 }, (_, i) => i));
  a.returned(lent.key);
  for (const seq of lent.seqs) assert.equal(store.getMessage(seq), undefined, 'the new owner deleted the copies');
  // the other session, still on the old owner, has the originals, counted once each
  assert.deepEqual([...a.refTally().counts], new Array(20).fill(1));
  const link = new RecordingLink();
  other.attach(link, 0);
  await drainAll(other, store, 1000);
  await store.commitAll();
  assert.deepEqual(link.sent.map((x) => x.n), Array.from({ length: 20 }, (_, i) => i));
  assert.equal(a.messages, 0);
  for (const seq of originals) assert.equal(store.getMessage(seq), undefined);
});

test('when the copies\' commit fails, the old owner counts originals and copies, so its entries read back whichever landed', async () => {
  const { store, a, s, disk } = await sharedQueues();
  const lent = a.lendRange(s, disk.after, disk.last)!;
  a.moveSettled(lent, false);
  assert.equal(a.readBack(s, disk.after, disk.last, 100, assert.fail).deliveries.length, 20, 'the rewrites not landed: the originals');
  await store.commitAll();
  assert.equal(a.readBack(s, disk.after, disk.last, 100, assert.fail).deliveries.length, 20, 'landed: the copies');
});

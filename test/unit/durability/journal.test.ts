/**
 * The journal of persistent sessions' queues (src/broker/journal.ts) driven through Session, on a
 * store that records the writes and commits when the test says so: what is written when, what
 * waits for a commit, and that nothing is deleted before the write it undoes is committed.
 * The broker as a whole is tested with real clients and real kill -9 in test/restart/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Journal, type JournalStore } from '../../../src/durability/journal.ts';
import { createMessage, type Message } from '../../../src/model/message.ts';
import type { MessageRecord } from '../../../src/records/message.ts';
import { createDelivery, type Delivery } from '../../../src/model/delivery.ts';
import { Session, type SessionLink } from '../../../src/broker/session.ts';
import type { QueueEntry } from '../../../src/records/stored.ts';

/**
 * Records writes; each `nextTurn()` starts a new transaction; `commitAll()` resolves every
 * commit() and flush() so far. `batch`: commit() resolves at once (persistence_durability batch).
 */
class RecordingStore implements JournalStore {
  ops: string[] = [];
  batch: unknown = {};
  healthy = true;
  private readonly batchMode: boolean;
  constructor(batchMode = false) {
    this.batchMode = batchMode;
  }
  private waiting: (() => void)[] = [];
  putMessage(seq: number, m: MessageRecord): void {
    this.ops.push(`putMessage ${seq} ${m.p.toString()}`);
  }
  deleteMessage(seq: number): void {
    this.ops.push(`deleteMessage ${seq}`);
  }
  putQueued(clientId: string, qseq: number, e: QueueEntry): void {
    this.ops.push(`putQueued ${clientId} ${qseq} ${e.x === undefined ? `m${e.m}` : `inline:${e.x.p.toString()}`} p${e.p} s${e.s}`);
  }
  deleteQueued(clientId: string, qseq: number): void {
    this.ops.push(`deleteQueued ${clientId} ${qseq}`);
  }
  putInbound(clientId: string, id: number): void {
    this.ops.push(`putInbound ${clientId} ${id}`);
  }
  deleteInbound(clientId: string, id: number): void {
    this.ops.push(`deleteInbound ${clientId} ${id}`);
  }
  readQueued(): { qseq: number; entry: QueueEntry; raw: Uint8Array }[] {
    return [];
  }
  scanQueued(): void {}
  putQueuedSent(): boolean {
    return false;
  }
  getMessage(): MessageRecord | undefined {
    return undefined;
  }
  commit(): Promise<void> {
    return this.batchMode ? Promise.resolve() : this.flush();
  }
  flush(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  nextTurn(): void {
    this.batch = {};
  }
  async commitAll(): Promise<void> {
    for (const r of this.waiting.splice(0)) r();
    await new Promise((r) => setImmediate(r));
  }
  take(): string[] {
    return this.ops.splice(0);
  }
}

/** A connection that sends at once, or once `after` resolved. */
class Link implements SessionLink {
  readonly sendQuota = 10;
  readonly congested = false;
  sent: string[] = [];
  sendPublish(d: Delivery, packetId: number, dup: boolean, after?: Promise<void>): boolean {
    const line = `PUBLISH ${d.message.payload.toString()} id${packetId}${dup ? ' dup' : ''}`;
    if (after === undefined) this.sent.push(line);
    else void after.then(() => this.sent.push(line));
    return true;
  }
  sendPubrel(packetId: number, after?: Promise<void>): void {
    if (after === undefined) this.sent.push(`PUBREL ${packetId}`);
    else void after.then(() => this.sent.push(`PUBREL ${packetId}`));
  }
}

const limits = { maxQueuedMessages: 0, maxQueuedBytes: 0, queueQos0Messages: false, dropOldest: false };
const msg = (payload: string, qos: 0 | 1 | 2): Message => createMessage('t', Buffer.from(payload), qos, false, undefined, 'pub', 0);

function storedSession(id: string, journal: Journal, link?: Link): Session {
  const s = new Session(id, limits);
  s.journal = journal;
  if (link !== undefined) s.attach(link, 0);
  return s;
}

test('a QoS 1 message to two persistent sessions: the first entry carries it inline, the second refers to one stored copy, deleted with its last entry', () => {
  const store = new RecordingStore();
  const journal = new Journal(store, 1, 1, () => {});
  const link = new Link();
  const online = storedSession('on', journal, link);
  const offline = storedSession('off', journal);
  const third = storedSession('third', journal);
  const m = msg('a', 1);
  online.deliver(createDelivery(m, 1, false, undefined), 0, true);
  offline.deliver(createDelivery(m, 1, false, undefined), 0, true);
  third.deliver(createDelivery(m, 1, false, undefined), 0, true);
  assert.deepEqual(store.take(), ['putQueued on 1 inline:a p1 s1', 'putMessage 1 a', 'putQueued off 1 m1 p0 s0', 'putQueued third 1 m1 p0 s0']);
  assert.deepEqual(link.sent, ['PUBLISH a id1'], 'QoS 1 does not wait for the commit');
  assert.notEqual(journal.scope.close(), undefined, 'the publisher’s PUBACK waits for the commit');
  online.puback(1, 0);
  assert.deepEqual(store.take(), ['deleteQueued on 1'], 'the inline copy goes with its entry');
  const later = new Link();
  offline.attach(later, 0);
  offline.puback(1, 0);
  assert.deepEqual(store.take(), ['putQueued off 1 m1 p1 s1', 'deleteQueued off 1'], 'the stored copy stays while an entry refers to it');
  third.clearMessages();
  assert.deepEqual(store.take(), ['deleteMessage 1']);
  assert.equal(journal.messages, 0);
});

test('[MQTT-4.3.3] QoS 2 to a persistent session: the PUBLISH leaves after its entry is committed, the PUBREL after the PUBREC state is', async () => {
  const store = new RecordingStore();
  const journal = new Journal(store, 1, 1, () => {});
  const link = new Link();
  const s = storedSession('c', journal, link);
  s.deliver(createDelivery(msg('x', 2), 2, false, undefined), 0, true);
  assert.deepEqual(link.sent, [], 'held until the entry is on disk');
  store.nextTurn();
  await store.commitAll();
  assert.deepEqual(store.take(), ['putQueued c 1 inline:x p0 s0', 'putQueued c 1 inline:x p1 s2']);
  assert.deepEqual(link.sent, [], 'the packet id is written before the PUBLISH goes');
  await store.commitAll();
  assert.deepEqual(link.sent, ['PUBLISH x id1']);
  s.pubrec(1, 0, 0);
  assert.deepEqual(store.take(), ['putQueued c 1 inline:x p1 s3']);
  assert.deepEqual(link.sent, ['PUBLISH x id1']);
  await store.commitAll();
  assert.deepEqual(link.sent, ['PUBLISH x id1', 'PUBREL 1']);
  s.pubcomp(1, 0);
  assert.deepEqual(store.take(), ['deleteQueued c 1']);
});

test('entries another worker must write are handed back and held; a drop while held waits for the release before deleting', () => {
  const store = new RecordingStore();
  const journal = new Journal(store, 2, 4, () => {});
  const link = new Link();
  const s = storedSession('c', journal, link);
  const { item } = journal.routeRemote(0, undefined, () => s.deliver(createDelivery(msg('r', 1), 1, false, [7]), 0, true));
  assert.deepEqual(item, { s: 2, e: [['c', 1, 1, false, [7]]], x: true }, 'the first seq of worker 2 of 4; its one entry here carries the message');
  assert.deepEqual(store.take(), [], 'this worker writes nothing: the publishing worker does');
  assert.deepEqual(link.sent, [], 'held until the publishing worker has committed');
  s.detach(0);
  s.attach(link, 0); // a reconnect pumps the queue: the held delivery still waits
  assert.deepEqual(link.sent, []);
  journal.released(2, true);
  assert.deepEqual(link.sent, ['PUBLISH r id1']);
  assert.deepEqual(store.take(), ['putQueued c 1 inline:r p1 s1'], 'from now on this worker updates the entry');
  assert.equal(journal.messages, 0, 'no log copy to count');

  const { item: second } = journal.routeRemote(0, undefined, () => s.deliver(createDelivery(msg('q', 1), 1, false, undefined), 0, true));
  s.clearMessages(); // the session ends (its record and entries are deleted with it) before the release
  assert.deepEqual(store.take(), [], 'inline entries: no log copy goes with them');
  journal.released(second.s, true);
  assert.deepEqual(store.take(), ['deleteQueued c 2'], 'deleted only after the write it undoes');
});

test('two entries here for one record of another worker refer to one log copy, which the publishing worker writes', () => {
  const store = new RecordingStore();
  const journal = new Journal(store, 2, 4, () => {});
  const a = storedSession('a', journal, new Link());
  const b = storedSession('b', journal, new Link());
  const m = msg('two', 1);
  const { item } = journal.routeRemote(0, undefined, () => {
    a.deliver(createDelivery(m, 1, false, undefined), 0, true);
    b.deliver(createDelivery(m, 1, false, undefined), 0, true);
  });
  assert.deepEqual(item, { s: 2, e: [['a', 1, 1, false, null], ['b', 1, 1, false, null]] });
  assert.equal(journal.messages, 1, 'the copy is counted here, by its two entries');
  journal.released(2, true);
  a.clearMessages();
  b.clearMessages();
  assert.deepEqual(store.take(), ['putQueued a 1 m2 p1 s1', 'putQueued b 1 m2 p1 s1', 'deleteMessage 2'], 'sent once released, and the copy deleted with the last entry');
});

test('a publish that other workers also deliver: its local entries, the answers and the inbound id are written together once all have answered', async () => {
  const store = new RecordingStore();
  const journal = new Journal(store, 1, 2, () => {});
  const link = new Link();
  const s = storedSession('local', journal, link);
  const releases: string[] = [];
  journal.sendRelease = (w, seq, ok) => releases.push(`${w}:${seq}:${ok}`);
  const m = msg('t', 1);
  journal.beginPublish(m, { clientId: 'pub', packetId: 9 });
  const ticket = journal.ticket();
  ticket.waiting = 1; // the cluster sent one durable record
  s.deliver(createDelivery(m, 1, false, undefined), 0, true);
  assert.equal(journal.endPublish(), ticket);
  assert.deepEqual(store.take(), [], 'nothing yet: the other worker has not answered');
  assert.deepEqual(link.sent, [], 'the local delivery waits for the same transaction');
  let acked = false;
  void ticket.promise().then(() => (acked = true));
  store.nextTurn();
  ticket.waiting++; // and a second one
  journal.answered(ticket, 1, { s: 4, e: [['remote', 3, 1, false, null], ['remote2', 1, 1, false, null]] });
  journal.answered(ticket, 3, { s: 7, e: [['alone', 5, 1, false, null]], x: true });
  assert.deepEqual(store.take(), ['putQueued local 1 inline:t p0 s0', 'putMessage 4 t', 'putQueued remote 3 m4 p0 s0', 'putQueued remote2 1 m4 p0 s0', 'putQueued alone 5 inline:t p0 s0', 'putInbound pub 9']);
  assert.equal(acked, false);
  await store.commitAll();
  assert.equal(acked, true);
  assert.deepEqual(releases, ['1:4:true', '3:7:true']);
  assert.deepEqual(link.sent, ['PUBLISH t id1']);
});

test('at durability batch the publisher is acknowledged at once, but the other workers are released only once the entries are written (they write the same keys later)', async () => {
  const store = new RecordingStore(true);
  const journal = new Journal(store, 1, 2, () => {});
  const releases: string[] = [];
  journal.sendRelease = (w, seq, ok) => releases.push(`${w}:${seq}:${ok}`);
  const m = msg('b', 2);
  journal.beginPublish(m, { clientId: 'pub', packetId: 3 });
  const ticket = journal.ticket();
  ticket.waiting = 1;
  journal.endPublish();
  let acked = false;
  void ticket.promise().then(() => (acked = true));
  journal.answered(ticket, 1, { s: 6, e: [['remote', 1, 2, false, null]] });
  await new Promise((r) => setImmediate(r));
  assert.equal(acked, true, 'batch: the acknowledgement does not wait for the write');
  assert.deepEqual(releases, [], 'the receiving worker must not write the entry’s next state before this write is committed');
  await store.commitAll();
  assert.deepEqual(releases, ['1:6:true']);
});

test('a delivery a session handover takes to another worker: the publish waits until the new owner has committed its entry', async () => {
  const store = new RecordingStore();
  const journal = new Journal(store, 1, 2, () => {});
  // published on this worker
  journal.beginPublish(msg('h', 1), undefined);
  const done = journal.late()!;
  const ticket = journal.endPublish();
  assert.ok(ticket !== undefined, 'the acknowledgement waits');
  let acked = false;
  void ticket.promise().then(() => (acked = true));
  await store.commitAll();
  assert.equal(acked, false);
  done(true);
  await store.commitAll();
  assert.equal(acked, true);
  // published on another worker: the answer waits, and a failed late write makes it a failed one
  const routed = journal.routeRemote(1, undefined, () => [journal.late()!, journal.late()!] as const);
  const [first, second] = routed.routed;
  assert.deepEqual(routed.item, { s: 0, e: [] });
  const late = routed.late!;
  first(true);
  assert.equal(late.done, false);
  second(false);
  assert.equal(late.done, true);
  assert.equal(late.failed, true);
  // nothing being routed: nothing waits
  assert.equal(journal.late(), undefined);
});

test('a worker that never answers fails the ticket: the publisher is not told "stored"', async () => {
  const store = new RecordingStore();
  const journal = new Journal(store, 1, 1, () => {});
  journal.beginPublish(msg('z', 1), undefined);
  const ticket = journal.ticket();
  ticket.waiting = 1;
  journal.endPublish();
  const outcome = ticket.promise().then(() => 'stored', () => 'refused');
  journal.answered(ticket, 1, undefined);
  assert.equal(await outcome, 'refused');
});

test('a publish no other worker answers for makes no ticket; its inbound id is written at once', () => {
  const store = new RecordingStore();
  const journal = new Journal(store, 1, 1, () => {});
  journal.beginPublish(msg('n', 2), { clientId: 'pub', packetId: 4 });
  assert.equal(journal.endPublish(), undefined);
  assert.deepEqual(store.take(), ['putInbound pub 4']);
  assert.notEqual(journal.scope.close(), undefined, 'the acknowledgement waits for the commit');
});

test('the acknowledgement scope: nothing written, nothing to wait for; a stored entry waits for this turn’s commit; a publish other workers answer for waits for its ticket', async () => {
  const store = new RecordingStore();
  const journal = new Journal(store, 1, 2, () => {});
  const scope = journal.scope;
  const clean = new Session('clean', limits); // not stored: the journal never sees it
  clean.attach(new Link(), 0);

  // QoS 1 to an online clean session only: the PUBACK goes at once
  scope.open();
  journal.beginPublish(msg('a', 1), undefined);
  clean.deliver(createDelivery(msg('a', 1), 1, false, undefined), 0, true);
  assert.equal(journal.endPublish(), undefined);
  assert.equal(scope.close(), undefined, 'no write, no wait (and no promise made)');

  // QoS 1 to a stored session: the PUBACK waits for the commit of the turn that wrote its entry
  const stored = storedSession('stored', journal);
  scope.open();
  const m = msg('b', 1);
  journal.beginPublish(m, undefined);
  stored.deliver(createDelivery(m, 1, false, undefined), 0, true);
  scope.waitFor(journal.endPublish());
  const commit = scope.close();
  assert.ok(commit !== undefined);
  let acked = false;
  void commit.then(() => (acked = true));
  await turn();
  assert.equal(acked, false, 'not before the commit');
  await store.commitAll();
  assert.equal(acked, true);
  assert.equal(scope.close(), undefined, 'close() consumed the write: the next packet does not wait for it');

  // a publish another worker also delivers: the PUBACK waits for the one transaction of all entries
  scope.open();
  const n = msg('c', 1);
  journal.beginPublish(n, { clientId: 'pub', packetId: 5 });
  const ticket = journal.ticket();
  ticket.waiting = 1;
  scope.waitFor(journal.endPublish());
  const waiting = scope.close();
  assert.ok(waiting !== undefined);
  let stored2 = false;
  void waiting.then(() => (stored2 = true));
  store.nextTurn();
  journal.answered(ticket, 1, { s: 8, e: [['elsewhere', 1, 1, false, null]] });
  await turn();
  assert.equal(stored2, false, 'answered, not yet committed');
  await store.commitAll();
  assert.equal(stored2, true);

  // a ticket left by a publish nobody acknowledges (a will) is forgotten by the next open()
  journal.beginPublish(msg('will', 1), undefined);
  const orphan = journal.ticket();
  orphan.waiting = 1;
  scope.waitFor(journal.endPublish());
  scope.open();
  assert.equal(scope.close(), undefined);
});

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test("a clean stop's reference counts: a log message is deleted with its last entry, counted from the table until then; refTally lists table and map together, seqs ascending", () => {
  const store = new RecordingStore();
  const journal = new Journal(store, 101, 1, () => {});
  journal.adoptRefTally({ seqs: Float64Array.from([3, 5, 7]), counts: Float64Array.from([1, 2, 1]) });
  assert.equal(journal.messages, 3);
  journal.unrefSeqs([5]);
  assert.deepEqual(store.ops, [], 'one of two entries of message 5 gone: it stays');
  journal.unrefSeqs([5, 3]);
  assert.deepEqual(store.ops, ['deleteMessage 5', 'deleteMessage 3']);
  assert.equal(journal.messages, 1);
  journal.unrefSeqs([3]);
  assert.deepEqual(store.ops, ['deleteMessage 5', 'deleteMessage 3'], 'a message already gone is not deleted twice');
  const tally = journal.refTally();
  assert.deepEqual([...tally.seqs], [7]);
  assert.deepEqual([...tally.counts], [1]);
});

test("refTally merges the map's counts among millions of the table's, seqs ascending: below, between, above and taken from the table", () => {
  const store = new RecordingStore();
  const journal = new Journal(store, 101, 1, () => {});
  const n = 1_000_000;
  // the table: even seqs 2 … 2n, count 1 each
  const seqs = new Float64Array(n);
  for (let i = 0; i < n; i++) seqs[i] = 2 * (i + 1);
  journal.adoptRefTally({ seqs, counts: new Float64Array(n).fill(1) });
  journal.countRef(4); // taken from the table: 2 now, in the map
  journal.countRef(1); // below every seq of the table
  journal.countRef(7); // between two
  journal.countRef(7);
  journal.countRef(2 * n + 5); // above
  const tally = journal.refTally();
  assert.equal(tally.seqs.length, n + 3);
  assert.deepEqual([...tally.seqs.subarray(0, 7)], [1, 2, 4, 6, 7, 8, 10]);
  assert.deepEqual([...tally.counts.subarray(0, 7)], [1, 1, 2, 1, 2, 1, 1]);
  assert.deepEqual([...tally.seqs.subarray(n + 1)], [2 * n, 2 * n + 5]);
  for (let i = 1; i < tally.seqs.length; i++) assert.ok(tally.seqs[i]! > tally.seqs[i - 1]!, `ascending at ${i}`);
  // with nothing in the map the table comes back as it is, a copy
  const quiet = new Journal(new RecordingStore(), 101, 1, () => {});
  const table = { seqs: Float64Array.from([3, 9]), counts: Float64Array.from([2, 1]) };
  quiet.adoptRefTally(table);
  const copy = quiet.refTally();
  assert.deepEqual([...copy.seqs], [3, 9]);
  assert.deepEqual([...copy.counts], [2, 1]);
  copy.counts[0] = 0;
  assert.equal(table.counts[0], 2, 'the caller may change the copy');
});

/**
 * A whole Session to and from its SessionRecord: what a handover sends to the session's new
 * worker (src/workers/handover.ts).
 * called from: worker
 */
import { deliveryFromRecord, deliveryToRecord, willFromRecord, willToRecord, type SessionRecord } from '../records/session.ts';
import type { Will } from '../model/will.ts';
import { Session, type QueueLimits } from './session.ts';
import type { Journal, JournalSession, MoveOut } from '../durability/journal.ts';

/**
 * `split`: a stored session's disk segment is left out, as numbers (`disk`, `tail`), for
 * withDiskSegment() to complete once the old owner's writes are committed; otherwise every
 * queued delivery is in the record, those on disk read back.
 */
export function sessionToRecord(s: Session, delayedWill: Will | undefined, split = false): SessionRecord {
  const will = delayedWill === undefined ? undefined : willToRecord(delayedWill);
  const { head, disk: segment, tail } = s.queueParts();
  const disk = split ? segment : undefined;
  return {
    id: s.clientId,
    user: s.username,
    l: s.listenerIndex,
    expiry: s.expiryInterval,
    subs: [...s.subscriptions.values()].map((x) => ({ f: x.filter, o: x.options })),
    out: [...s.outbound.values()].map((e) => ({ i: e.packetId, s: e.state, d: deliveryToRecord(e.delivery) })),
    lastId: s.outbound.lastAllocated,
    in: [...s.inbound.ids()],
    queue: disk !== undefined ? [...head].map(deliveryToRecord) : [...s.queued()].map(deliveryToRecord),
    disk: disk !== undefined ? { a: disk.after, l: disk.last, c: disk.count, b: disk.bytes, k: 0, s: [], n: [] } : undefined,
    tail: disk !== undefined ? [...tail].map(deliveryToRecord) : undefined,
    will,
    st: s.stored,
    lq: s.lastQseq,
  };
}

/**
 * Completes a record that sessionToRecord() split, on the old owner: its disk segment stays in
 * the store with the counts `lent` to the new owner (Journal.lendRange, its copies settled), or,
 * without them, its deliveries are read into the record.
 */
export function withDiskSegment(r: SessionRecord, journal: Journal, session: JournalSession, lent: MoveOut | undefined, warn: (text: string) => void): void {
  const disk = r.disk;
  if (disk === undefined) return;
  if (lent !== undefined) {
    r.disk = { ...disk, k: lent.key, s: lent.seqs, n: lent.counts };
    return;
  }
  for (const d of journal.readRange(session, disk.a, disk.l, warn)) {
    r.queue.push(deliveryToRecord(d));
    journal.spilled(d); // it leaves this worker: the message is not kept for it
  }
  r.queue.push(...r.tail!);
  r.disk = r.tail = undefined;
}

/** Rebuilds a session (detached, subscriptions not yet in any topic tree) and its delayed will. */
export function sessionFromRecord(r: SessionRecord, limits: QueueLimits, originWorker: number): { session: Session; will: Will | undefined; stored: boolean } {
  const s = new Session(r.id, limits);
  s.lastQseq = r.lq ?? 0;
  s.username = r.user ?? undefined;
  s.listenerIndex = r.l ?? undefined;
  s.expiryInterval = r.expiry;
  for (const x of r.subs) s.setSubscription({ raw: x.f.raw, filter: x.f.filter, group: x.f.group ?? undefined }, x.o);
  for (const e of r.out) s.outbound.restore(e.i, deliveryFromRecord(e.d, originWorker), e.s);
  s.outbound.lastAllocated = r.lastId;
  for (const id of r.in) s.inbound.receive(id);
  for (const d of r.queue) s.restoreQueued(deliveryFromRecord(d, originWorker));
  // the disk segment's entries stay in the store: the deliveries after them join the tail
  if (r.disk) s.restoreQueuedOnDisk(r.disk.a, r.disk.l, r.disk.c, r.disk.b);
  for (const d of r.tail ?? []) s.restoreQueued(deliveryFromRecord(d, originWorker));
  const will = r.will ? willFromRecord(r.will) : undefined;
  return { session: s, will, stored: r.st === true };
}

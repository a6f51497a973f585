/**
 * A whole Session to and from its SessionRecord: what a handover sends to the session's new
 * worker (src/workers/handover.ts).
 * called from: worker
 */
import { deliveryFromRecord, deliveryToRecord, willFromRecord, willToRecord, type SessionRecord } from '../records/session.ts';
import type { Will } from '../model/will.ts';
import { Session, type QueueLimits } from './session.ts';

export function sessionToRecord(s: Session, delayedWill: Will | undefined): SessionRecord {
  const will = delayedWill === undefined ? undefined : willToRecord(delayedWill);
  return {
    id: s.clientId,
    user: s.username,
    l: s.listenerIndex,
    expiry: s.expiryInterval,
    subs: [...s.subscriptions.values()].map((x) => ({ f: x.filter, o: x.options })),
    out: [...s.outbound.values()].map((e) => ({ i: e.packetId, s: e.state, d: deliveryToRecord(e.delivery) })),
    lastId: s.outbound.lastAllocated,
    in: [...s.inbound.ids()],
    queue: [...s.queued()].map(deliveryToRecord),
    will,
    st: s.stored,
    lq: s.lastQseq,
  };
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
  const will = r.will ? willFromRecord(r.will) : undefined;
  return { session: s, will, stored: r.st === true };
}

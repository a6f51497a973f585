import { messageFromRecord, messageToRecord, propertiesFromRecord, propertiesToRecord, asBuffer, type MessageRecord } from './messageRecord.ts';
import type { Delivery, OutStateValue } from './qos/outbound.ts';
import { Session, type QueueLimits } from './session.ts';
import type { ParsedFilter, SubscriptionOptions } from './subscription.ts';
import type { Will } from './will.ts';

/**
 * A whole session as one plain record (msgpackr-safe): what moves when a client id is taken
 * over on another worker. Queued and inflight messages keep their order and packet ids, so
 * nothing is lost or duplicated by the move [MQTT-4.4.0-1].
 * called from: worker
 */
export interface SessionRecord {
  id: string;
  user: string | undefined;
  expiry: number;
  subs: { f: ParsedFilter; o: SubscriptionOptions }[];
  /** outbound entries in send order: packet id, state, delivery */
  out: { i: number; s: OutStateValue; d: DeliveryRecord }[];
  lastId: number;
  /** inbound QoS 2 packet ids awaiting PUBREL */
  in: number[];
  queue: DeliveryRecord[];
  /** a will waiting for its Will Delay Interval */
  will: WillRecord | undefined;
}

export interface DeliveryRecord {
  m: MessageRecord;
  q: 0 | 1 | 2;
  r: boolean;
  i: readonly number[] | undefined;
}

type WillRecord = Omit<Will, 'payload' | 'properties'> & { payload: Uint8Array; pr: MessageRecord['pr']; up: MessageRecord['up'] };

export function deliveryToRecord(d: Delivery): DeliveryRecord {
  return { m: messageToRecord(d.message), q: d.qos, r: d.retain, i: d.subscriptionIds };
}

export function deliveryFromRecord(r: DeliveryRecord, originWorker: number): Delivery {
  return { message: messageFromRecord(r.m, originWorker), qos: r.q, retain: r.r, subscriptionIds: r.i ?? undefined };
}

export function sessionToRecord(s: Session, delayedWill: Will | undefined): SessionRecord {
  let will: WillRecord | undefined;
  if (delayedWill !== undefined) {
    const { payload, properties, ...rest } = delayedWill;
    will = { ...rest, payload, ...propertiesToRecord(properties) };
  }
  return {
    id: s.clientId,
    user: s.username,
    expiry: s.expiryInterval,
    subs: [...s.subscriptions.values()].map((x) => ({ f: x.filter, o: x.options })),
    out: [...s.outbound.values()].map((e) => ({ i: e.packetId, s: e.state, d: deliveryToRecord(e.delivery) })),
    lastId: s.outbound.lastAllocated,
    in: [...s.inbound.ids()],
    queue: [...s.queued()].map(deliveryToRecord),
    will,
  };
}

/** Rebuilds a session (detached, subscriptions not yet in any topic tree) and its delayed will. */
export function sessionFromRecord(r: SessionRecord, limits: QueueLimits, originWorker: number): { session: Session; will: Will | undefined } {
  const s = new Session(r.id, limits);
  s.username = r.user ?? undefined;
  s.expiryInterval = r.expiry;
  for (const x of r.subs) s.subscriptions.set(x.f.raw, { filter: { raw: x.f.raw, filter: x.f.filter, group: x.f.group ?? undefined }, options: x.o });
  for (const e of r.out) s.outbound.restore(e.i, deliveryFromRecord(e.d, originWorker), e.s);
  s.outbound.lastAllocated = r.lastId;
  for (const id of r.in) s.inbound.receive(id);
  for (const d of r.queue) s.restoreQueued(deliveryFromRecord(d, originWorker));
  let will: Will | undefined;
  if (r.will) {
    const { payload, pr, up, ...rest } = r.will;
    will = { ...rest, username: rest.username ?? undefined, payload: asBuffer(payload), properties: propertiesFromRecord({ pr, up }) };
  }
  return { session: s, will };
}

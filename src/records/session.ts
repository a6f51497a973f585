import { messageFromRecord, messageToRecord, propertiesFromRecord, propertiesToRecord, asBuffer, type MessageRecord } from './message.ts';
import { createDelivery, type Delivery, type OutStateValue } from '../model/delivery.ts';
import type { ParsedFilter, SubscriptionOptions } from '../model/subscription.ts';
import type { Will } from '../model/will.ts';

/**
 * A whole session as one plain record (msgpackr-safe): what moves when a client id is taken
 * over on another worker. Queued and inflight messages keep their order and packet ids, so
 * nothing is lost or duplicated by the move [MQTT-4.4.0-1].
 * called from: worker
 */
export interface SessionRecord {
  id: string;
  user: string | undefined;
  /** Session.listenerIndex */
  l?: number | undefined;
  expiry: number;
  subs: { f: ParsedFilter; o: SubscriptionOptions }[];
  /** outbound entries in send order: packet id, state, delivery */
  out: { i: number; s: OutStateValue; d: DeliveryRecord }[];
  lastId: number;
  /** inbound QoS 2 packet ids awaiting PUBREL */
  in: number[];
  /** queued deliveries in memory: all of them, or with `disk` those before its entries */
  queue: DeliveryRecord[];
  /**
   * a stored session's entries that stay in the store (after < qseq ≤ last: count, payload
   * bytes), and the counts of the log messages they refer to, lent by the old owner until the
   * new one answers Adopted {k} (src/durability/journal.ts, lendRange): seqs `s`, counts `n`
   */
  disk?: { a: number; l: number; c: number; b: number; k: number; s: number[]; n: number[] } | undefined;
  /** with `disk`: the queued deliveries in memory after its entries */
  tail?: DeliveryRecord[] | undefined;
  /** a will waiting for its Will Delay Interval */
  will: WillRecord | undefined;
  /** the session has a record in the store: its entries stay where they are and the new owner takes them over */
  st: boolean;
  /** last queue sequence number (stored entries) */
  lq: number;
}

export interface DeliveryRecord {
  m: MessageRecord;
  q: 0 | 1 | 2;
  r: boolean;
  i: readonly number[] | undefined;
  /** stored entry: qseq and the seq of the stored message it refers to (0: inline; absent: not stored) */
  qs?: number;
  ms?: number;
}

type WillRecord = Omit<Will, 'payload' | 'properties'> & { payload: Uint8Array; pr: MessageRecord['pr']; up: MessageRecord['up']; due?: number };

export function deliveryToRecord(d: Delivery): DeliveryRecord {
  const r: DeliveryRecord = { m: messageToRecord(d.message), q: d.qos, r: d.retain, i: d.subscriptionIds };
  if (d.qseq !== 0) {
    r.qs = d.qseq;
    r.ms = d.mseq;
  }
  return r;
}

/** A delivery rebuilt from a record; a stored one keeps its qseq and message seq (journal.adopt() takes it in). */
export function deliveryFromRecord(r: DeliveryRecord, originWorker: number): Delivery {
  const d = createDelivery(messageFromRecord(r.m, originWorker), r.q, r.r, r.i ?? undefined);
  if (r.qs !== undefined && r.qs > 0) {
    d.qseq = r.qs;
    d.mseq = r.ms ?? 0;
  }
  return d;
}

/** A will as a plain record (msgpackr-safe); `due`: when a delayed will is to be published (ms since the epoch). */
export function willToRecord(w: Will, due?: number): WillRecord {
  const { payload, properties, ...rest } = w;
  const r: WillRecord = { ...rest, payload, ...propertiesToRecord(properties) };
  if (due !== undefined) r.due = due;
  return r;
}

export function willFromRecord(r: WillRecord): Will {
  const { payload, pr, up, due: _due, ...rest } = r;
  return { ...rest, username: rest.username ?? undefined, payload: asBuffer(payload), properties: propertiesFromRecord({ pr, up }) };
}

/**
 * The shapes the store keeps per persistent session: a queue entry and the session's own record
 * (src/persistence/format.ts encodes them, src/persistence/FORMAT.md documents the keyspaces).
 * Leaf module: types and constants only.
 * called from: worker | main
 */
import type { ParsedFilter, SubscriptionOptions } from '../model/subscription.ts';
import type { MessageRecord } from './message.ts';
import type { SessionRecord } from './session.ts';

/** Outbound state of a queue entry. Values 1–3 are those of OutState in src/model/delivery.ts. */
export const QueueState = { Queued: 0, AwaitPuback: 1, AwaitPubrec: 2, AwaitPubcomp: 3 } as const;
export type QueueStateValue = (typeof QueueState)[keyof typeof QueueState];

/** One message in a session's queue: its message (inline, or a reference to the log) plus this delivery's own fields. */
export interface QueueEntry {
  /** message seq (key in `messages`); 0 = the message is inline in `x` */
  m: number;
  /** the message itself, when it is not in the log (version 2) */
  x?: MessageRecord | undefined;
  /** QoS of this delivery */
  q: 0 | 1 | 2;
  /** retain flag of this delivery */
  r: boolean;
  /** subscription identifiers of this delivery */
  i: readonly number[] | undefined;
  /** packet id, 0 = not sent yet */
  p: number;
  s: QueueStateValue;
}

/** A delayed will as SessionRecord carries it (payload bytes, properties split like a MessageRecord). */
export type StoredWill = NonNullable<SessionRecord['will']>;

/** Session expiry meaning "never". */
export const NEVER_EXPIRES = 0xffffffff;

/** What the store keeps of a persistent session besides its queue and inbound ids. */
export interface SessionMeta {
  /** index of the worker that owns the session */
  owner: number;
  user: string | undefined;
  /** index of the listener the client last came in through (per_listener_settings ACLs); absent in older records */
  l?: number | undefined;
  /** Session Expiry Interval, seconds; NEVER_EXPIRES = never */
  expiry: number;
  /** ms since the epoch when the session expires; 0 while the client is online or when it never expires */
  expiresAt: number;
  subs: { f: ParsedFilter; o: SubscriptionOptions }[];
  /** last outbound packet id allocated */
  lastId: number;
  /** a will waiting for its Will Delay Interval */
  will: StoredWill | undefined;
}


/** One persistent session as the store reads it back at start-up. */
export interface LoadedSession {
  clientId: string;
  meta: SessionMeta;
  /**
   * queued and inflight messages in qseq order: all of them, or (a worker's load) the inflight
   * ones only, the queued ones being summed up in `disk`
   */
  queue: { qseq: number; entry: QueueEntry }[];
  /** the queued (not sent) entries left in the store: count, payload bytes, qseq range (after, last], and the log seqs they refer to */
  disk?: { after: number; last: number; count: number; bytes: number; refs: number[] } | undefined;
  /** inbound QoS 2 packet ids awaiting PUBREL, ascending */
  inbound: number[];
}

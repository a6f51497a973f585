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
  /** the queue as the session's worker left it at a clean stop; trusted only with that stop's mark (CleanStopMark) */
  q?: QueueTally | undefined;
}

/**
 * A persistent session's stored queue summed up by its worker at a clean stop, so that the next
 * start reads neither the queued entries nor their messages. Written in the session's record
 * (SessionMeta.q); valid only when run `r` left a CleanStopMark on every worker and the store's
 * entry counts add up (src/persistence/cleanStop.ts): any write since would have made it stale.
 */
export interface QueueTally {
  /** the run that wrote it (CleanStopMark.run) */
  r: number;
  /** the queued (not sent) entries have a < qseq ≤ l (sent ones may sit between them) */
  a: number;
  l: number;
  /** how many queued entries, and their payload bytes */
  c: number;
  b: number;
  /** qseqs of the entries sent and not yet acknowledged (packet id and state set: read at start-up) */
  s: number[];
}

/**
 * How many stored entries refer to each log message one worker owns: seqs ascending, counts at
 * the same index (a clean stop's meta `['refs', worker]`).
 */
export interface RefTally {
  seqs: Float64Array;
  counts: Float64Array;
}

/**
 * What each worker writes last at a clean stop (meta `['clean', worker]`), beside the reference
 * counts of its log messages (meta `['refs', worker]`). The next start trusts the queue tallies
 * of run `run` only if every worker of that run left one and the sums match the store's entry
 * counts; it deletes the marks before anything else writes.
 */
export interface CleanStopMark {
  run: number;
  /** the run's worker count (a start with another count reads every entry: sessions change owner) */
  workers: number;
  /** this worker's stored sessions */
  sessions: number;
  /** their queue entries, queued and sent */
  entries: number;
  /** log messages this worker owns (distinct seqs its entries refer to) */
  messages: number;
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
  /**
   * the queued (not sent) entries left in the store: count, payload bytes, qseq range (after,
   * last], and the log seqs they refer to (empty when `tallied`: the worker's reference counts
   * come whole from the clean stop, LoadedSessions.refs)
   */
  disk?: { after: number; last: number; count: number; bytes: number; refs: number[]; tallied?: boolean } | undefined;
  /** inbound QoS 2 packet ids awaiting PUBREL, ascending */
  inbound: number[];
}

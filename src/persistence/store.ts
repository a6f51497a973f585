/**
 * The persistent store: one LMDB environment (lmdb-js) at `persistence_location`, opened by
 * every worker thread of the process (lmdb-js shares one native environment between the
 * threads; LMDB serialises their write transactions). Keyspaces, keys and values are described
 * in FORMAT.md beside this file. This file is the Store's entry point: Store.open, the start-up
 * reads and close(); the rest is split by role, and everything the store exports is exported
 * from here:
 * - open.ts: the options, the checks before opening, the environment and its format record;
 * - commits.ts: the base class: commit()/flush() per durability mode (`sync`, `batch`, `off`),
 *   `healthy`, following lmdb-js's write batches, probing while unhealthy;
 * - writes.ts: `put*`/`delete*`, buffered into the current event turn's batch (deferred in
 *   memory while unhealthy), and the free-space reserve checked once per turn;
 * - load.ts and quarantine.ts: reading sessions, queues, inbound ids, messages and retained
 *   messages back, and moving bad records aside.
 *
 * Invariants (each file states its own; these hold for the whole):
 * - transactions of one Store settle in the order they were issued;
 * - `healthy` is false exactly while writes are being deferred;
 * - every promise lmdb-js returns gets a rejection handler (an unhandled one would end the process);
 * - read transactions are short: every range iterator is consumed to the end at once;
 * - a record that cannot be decoded at load is moved to `quarantine` and logged, never dropped.
 * called from: worker | main
 */
import type { Key, RootDatabase } from 'lmdb';
import type { MessageRecord } from '../records/message.ts';
import type { QueueEntry, SessionMeta } from '../records/stored.ts';
import { openEnvironment } from './open.ts';
import type { Keyspaces, StoreOptions } from './open.ts';
import { StoreWrites } from './writes.ts';
import { Loader } from './load.ts';
import type { EntryVisitor } from './load.ts';
import type { LoadedSession, RefTally } from '../records/stored.ts';
import { readQuarantine } from './quarantine.ts';
import { entryCount, takeCleanStop, type CleanStopCheck } from './cleanStop.ts';
import type { QuarantinedRecord } from './quarantine.ts';

export { KEYSPACES } from './open.ts';
export type { Durability, Keyspace, StoreLog, StoreOptions } from './open.ts';
export type { StoreStats } from './commits.ts';
export type { LoadedSession } from '../records/stored.ts';
export type { QuarantinedRecord } from './quarantine.ts';
export type { CleanStopCheck } from './cleanStop.ts';
export type { EntryVisitor } from './load.ts';

/** The LMDB store of one thread. See the module comment. */
export class Store extends StoreWrites {
  private readonly loader: Loader;

  private constructor(options: StoreOptions, dir: string, root: RootDatabase<Buffer, Key>, dbs: Keyspaces) {
    super(options, dir, root, dbs);
    this.loader = new Loader(root, dbs, dir, this.log);
  }

  /**
   * Opens (creating when missing) the store at `options.path` and checks that it can write there
   * with one small synchronous transaction. Call once per thread.
   * @throws StoreError `STORE_UNWRITABLE` (cannot create or write the directory), `STORE_FULL`,
   *   `STORE_CORRUPT` (the data file is not LMDB's or is damaged), `STORE_INCOMPATIBLE` (written by
   *   a newer format), `STORE_IO`; the message names the path and the cause.
   */
  static open(options: StoreOptions): Store {
    const env = openEnvironment(options);
    return new Store(options, env.dir, env.root, env.dbs);
  }

  // ---- start-up reads (synchronous; load.ts)

  /**
   * One stored message (start-up: the messages a worker's sessions refer to); undefined when
   * absent or unreadable. An unreadable one is moved to quarantine and logged.
   */
  getMessage(seq: number): MessageRecord | undefined {
    this.open_();
    return this.loader.getMessage(seq);
  }

  /**
   * Up to `limit` entries of `clientId`'s queue with qseq > `after`, in qseq order, from a fresh
   * read snapshot (a disk-backed queue reading its next batch while the broker runs), each with
   * its stored bytes (`raw`, for putQueuedSent). An undecodable entry is quarantined and skipped.
   */
  readQueued(clientId: string, after: number, limit: number): { qseq: number; entry: QueueEntry; raw: Uint8Array }[] {
    this.open_();
    return this.loader.readQueued(clientId, after, limit);
  }

  /** See JournalStore.scanQueued. */
  scanQueued(clientId: string, after: number, to: number, visit: (qseq: number, m: number, p: number, s: number) => void): void {
    this.open_();
    this.loader.scanQueued(clientId, after, to, visit);
  }

  /** Entry `qseq` of `clientId`'s queue, read by key; undefined when absent or undecodable (left in place). */
  getQueued(clientId: string, qseq: number): QueueEntry | undefined {
    this.open_();
    return this.loader.getQueued(clientId, qseq);
  }

  /**
   * All persistent sessions with their queues (qseq order) and inbound ids. Undecodable records,
   * and queue or inbound entries without a session, are moved to quarantine and logged.
   * `owned`: only the sessions it accepts (a worker's share), whose queues and inbound ids are
   * then read by client id, without going through the others'.
   */
  loadSessions(owned?: (meta: SessionMeta) => boolean): LoadedSession[] {
    this.open_();
    return this.loader.loadSessions(owned);
  }

  /**
   * Worker `worker`'s share of the persistent sessions (`owned`), as loadSessions(owned) reads
   * them, or, when `cleanRun` is the run whose clean stop takeCleanStop() accepted, from the
   * queue tallies that run left (no queued entry read; `refs`: the reference counts of this
   * worker's log messages, which the sessions' `disk` then leaves out). Falls back to reading
   * the entries when a session has no tally of that run. `refs`: those counts when the main
   * thread's pass after a crash made them (they are not in the store), else read from it.
   */
  loadOwnSessions(owned: (meta: SessionMeta) => boolean, worker: number, cleanRun: number | undefined, refs?: RefTally): { sessions: LoadedSession[]; refs: RefTally | undefined } {
    this.open_();
    const tallied = cleanRun === undefined ? undefined : this.loader.loadTallied(owned, worker, cleanRun, refs);
    return tallied ?? { sessions: this.loader.loadSessions(owned), refs: undefined };
  }

  /**
   * Takes the marks of the last run's clean stop out of the store (cleanStop.ts) and says whether
   * a start with `workers` workers may use its tallies (the run), or why not. Main thread, before
   * the workers open the store.
   */
  takeCleanStop(workers: number): CleanStopCheck {
    const dbs = this.open_();
    return takeCleanStop(this.root, dbs, workers);
  }

  /**
   * The owning worker recorded in the session of `clientId` (a worker index, possibly of a run
   * with more workers); undefined when there is no such session (or it cannot be read).
   */
  sessionOwner(clientId: string): number | undefined {
    this.open_();
    return this.loader.sessionOwner(clientId);
  }

  /**
   * How many sessions and queue entries there are, reading the sessions but only the keys of
   * their queues and inbound ids: a key that is not [client id, number], or has no session, is
   * quarantined; the values are checked by the worker that loads them (loadSessions(owned)).
   */
  countSessions(): { sessions: number; queued: number } {
    this.open_();
    return this.loader.countSessions();
  }

  /** Every session record by its key (queues and inbound ids left unread). Undecodable ones are quarantined. */
  sessionRecords(): Map<string, LoadedSession> {
    this.open_();
    return this.loader.sessionRecords();
  }

  /**
   * The message log's seqs (ascending, `count` of them) and each message's payload bytes, each
   * value scanned in place (scan.ts), not decoded. Bad keys and values are quarantined and left out.
   */
  scanMessages(): { seqs: Float64Array; sizes: Int32Array; count: number } {
    this.open_();
    return this.loader.scanMessages();
  }

  /**
   * Every queue entry in key order, scanned in place (message seq, packet id, state, inline
   * payload bytes; nothing decoded), handed to `visit` with the value `owners` holds for its
   * session's key. Bad entries and inbound ids, and those without a session in `owners`, are
   * quarantined and not visited.
   */
  scanQueues<T>(owners: ReadonlyMap<string, T>, visit: EntryVisitor<T>): void {
    this.open_();
    this.loader.scanQueues(owners, visit);
  }

  /** How many records keyspace `ks` holds, as LMDB counts them (no record read). */
  entryCount(ks: 'queue' | 'messages'): number {
    return entryCount(this.open_()[ks]);
  }

  /** The seqs of the message log (ascending), without reading the messages. Keys that are not seqs are quarantined. */
  messageSeqs(): number[] {
    this.open_();
    return this.loader.messageSeqs();
  }

  /** The message log by seq (ascending). Undecodable records are quarantined and logged. */
  loadMessages(): Map<number, MessageRecord> {
    this.open_();
    return this.loader.loadMessages();
  }

  /** All retained messages (topic order). Undecodable records are quarantined and logged. */
  loadRetained(): MessageRecord[] {
    this.open_();
    return this.loader.loadRetained();
  }

  /** The greatest message seq stored, 0 when there is none: continue the sequence above it. */
  maxMessageSeq(): number {
    this.open_();
    return this.loader.maxMessageSeq();
  }

  /** What the quarantine holds (for operators and tests). */
  loadQuarantine(): QuarantinedRecord[] {
    return readQuarantine(this.open_().quarantine);
  }

  /** Waits for outstanding transactions, then closes this thread's handle on the environment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.deferred !== undefined && this.deferred.length > 0) {
      this.log.error(`persistence store ${this.path}: closing while unhealthy; ${this.deferred.length} deferred write(s) are lost`);
    }
    if (this.probeTimer !== undefined) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    await this.root.close();
  }
}

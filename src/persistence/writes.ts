/**
 * The writes of the store (`put*`, `delete*`): each is buffered into lmdb-js's write batch of the
 * current event turn and returns nothing; lmdb-js commits each batch as one transaction on its
 * write thread, and commit() (commits.ts) says when the writes issued before it are durable.
 * While the store is unhealthy, writes wait in memory, in order (at most MAX_DEFERRED; later ones
 * are dropped and counted), and recover() replays them into the current batch once a write
 * succeeds again. Before the first write of each event turn, free space is compared with the
 * reserve: below it the store stops writing, as after a failed commit.
 * Invariants:
 * - per write, only its key and encoded value are allocated here (lmdb-js's promise aside): a
 *   Batch is allocated once per transaction (track() returns at once for the batch it already
 *   follows), and a DeferredWrite only while unhealthy;
 * - at most one statfs per event turn with writes;
 * - deferred writes are replayed in the order they were issued, deleteSession included.
 * called from: worker | main
 */
import type { Database, Key } from 'lmdb';
import type { MessageRecord } from '../records/message.ts';
import type { CleanStopMark, QueueEntry, RefTally, SessionMeta } from '../records/stored.ts';
import { counters } from '../metrics/counters.ts';
import { StoreError, freeBytes } from './errors.ts';
import { clientRange, keyString } from './keys.ts';
import { encodeCleanStopMark, encodeInbound, encodeMessage, encodeQueueEntry, encodeRefTally, encodeRetained, encodeSession, queueEntrySent } from './format.ts';
import { cleanStopKey, refTallyKey } from './cleanStop.ts';
import { StoreCommits } from './commits.ts';
import type { DeferredWrite } from './commits.ts';
import type { Keyspaces } from './open.ts';

/** While unhealthy, at most this many writes wait in memory for the store to recover. */
const MAX_DEFERRED = 1_000_000;

/** The write methods of Store (see the module comment); Store (store.ts) adds opening, reads and close. */
export abstract class StoreWrites extends StoreCommits {
  /** free space was checked in this event turn (one statfs per turn with writes) */
  private spaceChecked = false;
  private droppedDeferred = 0;

  /** Stores a message of the log under its broker-wide sequence number. */
  putMessage(seq: number, message: MessageRecord): void {
    this.put(this.open_().messages, seq, encodeMessage(message));
  }

  deleteMessage(seq: number): void {
    this.put(this.open_().messages, seq, undefined);
  }

  /** Adds or replaces (new packet id or state) one entry of a session's queue. */
  putQueued(clientId: string, qseq: number, entry: QueueEntry): void {
    this.put(this.open_().queue, [keyString(clientId), qseq], encodeQueueEntry(entry));
  }

  /**
   * The entry `raw` (as read back, not sent yet) now sent with `packetId` in `state`, written
   * without encoding it again. False, having written nothing, when `raw` is not such an entry.
   */
  putQueuedSent(clientId: string, qseq: number, raw: Uint8Array, packetId: number, state: number): boolean {
    const value = queueEntrySent(raw, packetId, state);
    if (value === undefined) return false;
    this.put(this.open_().queue, [keyString(clientId), qseq], value);
    return true;
  }

  deleteQueued(clientId: string, qseq: number): void {
    this.put(this.open_().queue, [keyString(clientId), qseq], undefined);
  }

  putSession(clientId: string, meta: SessionMeta): void {
    this.put(this.open_().sessions, keyString(clientId), encodeSession(clientId, meta));
  }

  /**
   * Removes a session with all of its queue entries and inbound ids, in one transaction. The
   * entries are found inside the write transaction, so writes of the same batch are included.
   * (This runs a callback on this thread while lmdb-js holds the write lock: fine for a rare
   * operation, not for the publish path.)
   */
  deleteSession(clientId: string): void {
    const dbs = this.open_();
    if (this.deferred === undefined && !this.spaceChecked) this.checkSpace();
    if (this.deferred !== undefined) {
      this.defer({ deleteSession: clientId });
      return;
    }
    this.removeSession(dbs, clientId);
  }

  private removeSession(dbs: Keyspaces, clientId: string): void {
    const idKey = keyString(clientId);
    this.track(dbs.sessions.remove(idKey));
    const range = clientRange(idKey);
    dbs.queue
      .transaction(() => {
        for (const db of [dbs.queue, dbs.inbound]) {
          const keys: Key[] = [];
          for (const key of db.getKeys(range)) if (Array.isArray(key) && key[0] === idKey) keys.push(key);
          for (const key of keys) void db.remove(key);
        }
      })
      .catch((err: unknown) => {
        // the transaction's own failure is reported through the batch tracked above
        if (!(err instanceof Error && err.message.startsWith('Commit failed'))) this.log.error(`persistence store ${this.path}: deleting the queue of ${clientId} failed`, err);
      });
  }

  /** Records an inbound QoS 2 packet id awaiting PUBREL. */
  putInbound(clientId: string, packetId: number): void {
    this.put(this.open_().inbound, [keyString(clientId), packetId], encodeInbound());
  }

  deleteInbound(clientId: string, packetId: number): void {
    this.put(this.open_().inbound, [keyString(clientId), packetId], undefined);
  }

  putRetained(topic: string, message: MessageRecord): void {
    this.put(this.open_().retained, keyString(topic), encodeRetained(message));
  }

  deleteRetained(topic: string): void {
    this.put(this.open_().retained, keyString(topic), undefined);
  }

  /**
   * The last writes of worker `worker` at a clean stop (cleanStop.ts), after its sessions'
   * tallies: the reference counts of its log messages, then its mark.
   */
  putCleanStop(worker: number, mark: CleanStopMark, refs: RefTally): void {
    this.putRefTally(worker, mark.run, refs);
    this.put(this.open_().meta, cleanStopKey(worker), encodeCleanStopMark(mark));
  }

  /**
   * Worker `worker`'s reference counts for `run` without a mark: the tallies the main thread
   * writes after reading every entry (startup.ts); trusted only by the start it hands `run` to.
   */
  putRefTally(worker: number, run: number, refs: RefTally): void {
    this.put(this.open_().meta, refTallyKey(worker), encodeRefTally(run, refs));
  }

  /** A put (value) or delete (undefined) into the current batch, or into the deferred list while unhealthy. */
  private put(db: Database<Buffer, Key>, key: Key, value: Buffer | undefined): void {
    counters.storeWrites++;
    if (this.deferred === undefined && !this.spaceChecked) this.checkSpace();
    if (this.deferred !== undefined) this.defer({ db, key, value });
    else this.track(value === undefined ? db.remove(key) : db.put(key, value));
  }

  /**
   * Before the first write of an event turn: with less free space than the reserve, the store
   * stops writing now, as after a failed commit (writes wait in memory, a probe checks for
   * room). LMDB never meets a full disk that way, which matters: lmdb-js 3.5.6 overflows a heap
   * buffer reporting a failed page write (FORMAT.md, "lmdb-js 3.5.6 behaviour").
   */
  private checkSpace(): void {
    this.spaceChecked = true;
    setImmediate(this.endTurn);
    const free = freeBytes(this.path);
    if (free === undefined || free >= this.reserveBytes) return;
    // the file system is nearly full: free pages inside the data file count too (room.ts)
    const room = this.room();
    if (room === undefined || room >= this.reserveBytes) return;
    const err = new StoreError('STORE_FULL', this.path, `persistence store ${this.path}: no space left: ${room} bytes free (file system and free pages of the data file), below the reserve of ${this.reserveBytes}`);
    this.failures++;
    this.lastError = err;
    this.deferred = [];
    this.log.error(`${err.message}; refusing durable work and keeping writes in memory until there is room`);
    this.scheduleProbe();
  }

  private readonly endTurn = (): void => {
    this.spaceChecked = false;
  };

  private defer(op: DeferredWrite): void {
    const list = this.deferred!;
    if (list.length < MAX_DEFERRED) {
      list.push(op);
    } else if (this.droppedDeferred++ === 0) {
      this.log.error(`persistence store ${this.path}: ${MAX_DEFERRED} writes are waiting for the store to recover; dropping further writes`);
    }
  }

  protected override replaySome(maxBytes: number): void {
    const list = this.deferred!;
    const dbs = this.open_();
    let n = 0;
    // a page's worth per write bounds the pages a transaction of small writes may copy
    for (let bytes = 0; n < list.length && bytes < maxBytes; n++) {
      const op = list[n]!;
      if ('deleteSession' in op) {
        this.removeSession(dbs, op.deleteSession);
        bytes += 4096;
      } else {
        this.track(op.value === undefined ? op.db.remove(op.key) : op.db.put(op.key, op.value));
        bytes += (op.value?.length ?? 0) + 256;
      }
    }
    list.splice(0, n);
  }

  /** Healthy again: writes the deferred ones, in order, into the current batch. */
  protected override recover(): void {
    const list = this.deferred!;
    const dropped = this.droppedDeferred;
    this.deferred = undefined;
    this.droppedDeferred = 0;
    this.probes = 0;
    for (const op of list) {
      if ('deleteSession' in op) this.deleteSession(op.deleteSession);
      else this.put(op.db, op.key, op.value);
    }
    this.log.warning(`persistence store ${this.path}: writes succeed again; ${list.length} deferred write(s) replayed${dropped > 0 ? `, ${dropped} dropped` : ''}`);
  }
}

/**
 * The persistent store: one LMDB environment (lmdb-js) at `persistence_location`, opened by
 * every worker thread of the process (lmdb-js shares one native environment between the
 * threads; LMDB serialises their write transactions). Keyspaces, keys and values are described
 * in FORMAT.md beside this file.
 *
 * Writes (`put*`, `delete*`) are buffered into lmdb-js's write batch of the current event turn
 * and return nothing; lmdb-js commits each batch as one transaction on its write thread. The
 * store follows each batch and `commit()` resolves when every write issued before the call is
 * as durable as the configured mode promises (group commit: all calls in a turn wait for the
 * same transaction). `sync`: committed and on disk (LMDB's synchronous commit, fsync/fdatasync,
 * `overlappingSync: false`), so an acknowledgement sent after it survives kill -9 and power
 * loss. `batch`: resolves at once while the oldest unsettled transaction is younger than
 * `batchWindowMs`; otherwise it waits for that transaction, so acknowledged-but-not-yet-durable
 * data never spans more than the window. `off`: resolves at once.
 *
 * A failed transaction (disk full, I/O error) makes the store unhealthy: commit() rejects, the
 * writes issued from then on wait in memory, in order, and a timer probes (only once statfs
 * shows free space) with a tiny write; when a write succeeds the waiting writes are replayed and
 * the store is healthy again. The writes of the failed transaction itself are lost (their
 * commit() rejected, so nothing that depended on them was acknowledged).
 *
 * Invariants:
 * - transactions of one Store settle in the order they were issued;
 * - `healthy` is false exactly while writes are being deferred;
 * - commit() rejects when a transaction after the last one known good at the time of the call,
 *   up to the one holding the caller's writes, failed (so a rejection may cover writes that were
 *   stored: it errs on the side of not acknowledging);
 * - every promise lmdb-js returns gets a rejection handler (an unhandled one would end the process);
 * - read transactions are short: every range iterator is consumed to the end at once;
 * - a record that cannot be decoded at load is moved to `quarantine` and logged, never dropped.
 * called from: worker | main
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import * as lmdb from 'lmdb';
import type { Database, Key, RootDatabase } from 'lmdb';
import type { MessageRecord } from '../records/message.ts';
import type { PersistenceDurability } from '../config/types.ts';
import { counters } from '../metrics/counters.ts';
import { StoreError, fileSystemBytes, freeBytes, storeErrorFrom } from './errors.ts';
import { checkDataFile } from './dataFile.ts';
import { clientNumberKey, clientRange, isSeq, keyString, keyText, rawKeyOf, utf8Prefix } from './keys.ts';
import {
  STORE_FORMAT,
  checkInbound,
  decodeFormat,
  decodeMessage,
  decodeQuarantine,
  decodeQueueEntry,
  decodeRetained,
  decodeSession,
  encodeFormat,
  encodeInbound,
  encodeMessage,
  encodeMetaRecord,
  encodeQueueEntry,
  encodeQuarantine,
  encodeRetained,
  encodeSession,
} from './format.ts';
import type { QueueEntry, SessionMeta } from '../records/stored.ts';

/** `persistence_durability` (src/config/types.ts) */
export type Durability = PersistenceDurability;

/** Where the store reports what it could not do (Logger from src/log.ts fits). */
export interface StoreLog {
  warning(message: string): void;
  error(message: string, err?: unknown): void;
}

export interface StoreOptions {
  /** the directory of the LMDB environment; created when missing */
  readonly path: string;
  readonly durability: Durability;
  /** `batch`: the longest a transaction may stay unsettled before commit() waits for it */
  readonly batchWindowMs: number;
  readonly log?: StoreLog;
  /** initial LMDB map size in bytes (default 1 GiB); lmdb-js doubles it when it fills */
  readonly mapSize?: number;
  /** while unhealthy, how often to try a small write to see whether the store recovered (default 1000 ms) */
  readonly probeIntervalMs?: number;
  /**
   * free space kept in reserve: below it the store stops writing (as after a failed commit)
   * before LMDB meets a full disk (default: 16 MiB or a tenth of the file system, the smaller)
   */
  readonly reserveBytes?: number;
}

/** One persistent session as read back at start-up. */
export interface LoadedSession {
  clientId: string;
  meta: SessionMeta;
  /** queued and inflight messages in qseq order */
  queue: { qseq: number; entry: QueueEntry }[];
  /** inbound QoS 2 packet ids awaiting PUBREL, ascending */
  inbound: number[];
}

/** A record found in the quarantine keyspace. */
export interface QuarantinedRecord {
  keyspace: string;
  /** the original key, as readable text (JSON) */
  key: string;
  /** the original key, ordered-binary bytes */
  rawKey: Uint8Array;
  /** the original value */
  raw: Uint8Array;
  reason: string;
  at: number;
}

export interface StoreStats {
  /** id of the environment's last committed transaction (all threads) */
  lastTxnId: number;
  /** current size of the memory map, bytes */
  mapSize: number;
  /** transactions of this Store that committed */
  committed: number;
  /** transactions of this Store that failed */
  failed: number;
  /** writes waiting in memory while the store is unhealthy */
  deferred: number;
}

/** The keyspaces, by their LMDB database names. */
export const KEYSPACES = ['messages', 'queue', 'sessions', 'inbound', 'retained', 'quarantine', 'meta'] as const;
export type Keyspace = (typeof KEYSPACES)[number];

const DEFAULT_MAP_SIZE = 1 << 30;
/** Reader slots of the environment (lock file): ~2 per worker thread for up to 512 workers. */
const MAX_READERS = 1024;
/** Quarantine warnings logged one by one per load; the rest are summed up. */
const WARN_EACH = 20;
/** While unhealthy, at most this many writes wait in memory for the store to recover. */
const MAX_DEFERRED = 1_000_000;
/** Default free-space reserve: the smaller of this and a tenth of the file system. */
const DEFAULT_RESERVE_BYTES = 16 << 20;
/** Failed probes back off (doubling) up to this interval. */
const MAX_PROBE_INTERVAL_MS = 30_000;

/** A write batch of lmdb-js = one LMDB transaction, as this Store follows it. */
interface Batch {
  readonly n: number;
  readonly promise: Promise<unknown>;
  /** performance.now() of its first write */
  readonly started: number;
  settled: boolean;
  error: StoreError | undefined;
  /** the Store's failure count once this batch settled (counting itself) */
  failuresThrough: number;
  /** resolves once settled and, after a failure, classified; never rejects */
  done: Promise<void>;
}

/** A write issued while the store is unhealthy: a put (value) or delete (undefined), or a session delete. */
type DeferredWrite = { db: Database<Buffer, Key>; key: Key; value: Buffer | undefined } | { deleteSession: string };

interface BadRecord {
  ks: Keyspace;
  key: Key;
  raw: Uint8Array;
  reason: string;
}

const RESOLVED: Promise<void> = Promise.resolve();
const ignore = (): void => {};
const defaultLog: StoreLog = {
  warning: (m) => console.warn(m),
  error: (m, err) => console.error(m, err ?? ''),
};


/** The LMDB store of one thread. See the module comment. */
export class Store {
  /** the directory, resolved */
  readonly path: string;
  readonly durability: Durability;
  private readonly batchWindowMs: number;
  private readonly probeIntervalMs: number;
  /** below this much free space nothing is written (see StoreOptions.reserveBytes) */
  private readonly reserveBytes: number;
  /** free space was checked in this event turn (one statfs per turn with writes) */
  private spaceChecked = false;
  private readonly log: StoreLog;
  private readonly root: RootDatabase<Buffer, Key>;
  private readonly dbs: Record<Keyspace, Database<Buffer, Key>>;

  private closed = false;
  private issued = 0;
  /** the latest batch this Store wrote into */
  private last: Batch | undefined;
  /** issued batches not yet settled, oldest first (from `head`) */
  private unsettled: Batch[] = [];
  private head = 0;
  private failures = 0;
  private failuresAtLastOk = 0;
  private committedCount = 0;
  private lastError: StoreError | undefined;
  /** writes issued while unhealthy, in order; undefined = healthy */
  private deferred: DeferredWrite[] | undefined;
  private droppedDeferred = 0;
  /** probe writes tried since the store became unhealthy (each failure doubles the wait) */
  private probes = 0;
  private probeTimer: NodeJS.Timeout | undefined;

  private constructor(options: StoreOptions, dir: string, root: RootDatabase<Buffer, Key>, dbs: Record<Keyspace, Database<Buffer, Key>>) {
    this.path = dir;
    this.durability = options.durability;
    this.batchWindowMs = options.batchWindowMs;
    this.probeIntervalMs = options.probeIntervalMs ?? 1000;
    this.reserveBytes = options.reserveBytes ?? defaultReserve(dir);
    this.log = options.log ?? defaultLog;
    this.root = root;
    this.dbs = dbs;
  }

  /**
   * Opens (creating when missing) the store at `options.path` and checks that it can write there
   * with one small synchronous transaction. Call once per thread.
   * @throws StoreError `STORE_UNWRITABLE` (cannot create or write the directory), `STORE_FULL`,
   *   `STORE_CORRUPT` (the data file is not LMDB's or is damaged), `STORE_INCOMPATIBLE` (written by
   *   a newer format), `STORE_IO`; the message names the path and the cause.
   */
  static open(options: StoreOptions): Store {
    const dir = path.resolve(options.path);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new StoreError('STORE_UNWRITABLE', dir, `persistence store ${dir}: cannot create the directory (${(err as Error).message})`, err);
    }
    if (!statSync(dir).isDirectory()) throw new StoreError('STORE_UNWRITABLE', dir, `persistence store ${dir}: not a directory`);
    try {
      accessSync(dir, constants.W_OK | constants.X_OK); // (root passes; the probe write below still checks)
    } catch (err) {
      throw new StoreError('STORE_UNWRITABLE', dir, `persistence store ${dir}: the directory is not writable (${(err as Error).message})`, err);
    }
    // LMDB maps its lock file: on a full file system touching it is SIGBUS, not an error
    const reserve = options.reserveBytes ?? defaultReserve(dir);
    const free = freeBytes(dir);
    if (free !== undefined && free < reserve) {
      throw new StoreError('STORE_FULL', dir, `persistence store ${dir}: no space left: ${free} bytes free, below the reserve of ${reserve} bytes the store keeps`);
    }
    const damage = checkDataFile(dir);
    if (damage !== undefined) throw new StoreError('STORE_CORRUPT', dir, `persistence store ${dir}: ${damage}; move it aside or restore a backup`);

    let root: RootDatabase<Buffer, Key>;
    try {
      root = lmdb.open<Buffer, Key>({
        path: dir,
        maxDbs: 16,
        maxReaders: MAX_READERS,
        mapSize: options.mapSize ?? DEFAULT_MAP_SIZE,
        // commit = durable: the fsync happens inside the commit, so the commit promise is the
        // durability signal and a failed flush fails the commit (see FORMAT.md, "lmdb-js settings")
        overlappingSync: false,
        noSync: options.durability === 'off',
        encoding: 'binary',
        compression: false,
        cache: false,
      });
    } catch (err) {
      throw storeErrorFrom(err, dir, 'opening the LMDB environment');
    }
    try {
      const dbs = {} as Record<Keyspace, Database<Buffer, Key>>;
      for (const name of KEYSPACES) dbs[name] = root.openDB<Buffer, Key>(name, { encoding: 'binary', compression: false, cache: false });
      const store = new Store(options, dir, root, dbs);
      store.checkFormatAndProbe();
      return store;
    } catch (err) {
      void root.close().catch(ignore);
      throw storeErrorFrom(err, dir, 'the first write');
    }
  }

  /** Creates or checks the format record, and writes the `opened` probe synchronously (to disk). */
  private checkFormatAndProbe(): void {
    const meta = this.dbs.meta;
    this.root.transactionSync(() => {
      const raw = meta.getBinary('format');
      if (raw === undefined) {
        meta.putSync('format', encodeFormat({ format: STORE_FORMAT, created: Date.now() }));
      } else {
        const d = decodeFormat(raw);
        if (!d.ok) throw new StoreError('STORE_CORRUPT', this.path, `persistence store ${this.path}: unreadable format record (${d.reason})`);
        if (d.value.format > STORE_FORMAT) {
          throw new StoreError('STORE_INCOMPATIBLE', this.path, `persistence store ${this.path}: format ${d.value.format} was written by a newer culex (this one reads format ${STORE_FORMAT})`);
        }
      }
      meta.putSync('opened', encodeMetaRecord({ at: Date.now(), pid: process.pid }));
    });
  }

  // ---- writes: buffered into the current batch; commit() says when they are durable

  /** Stores a message of the log under its broker-wide sequence number. */
  putMessage(seq: number, message: MessageRecord): void {
    this.put(this.open_().messages, seq, encodeMessage(message));
  }

  /**
   * One stored message (start-up: the messages a worker's sessions refer to); undefined when
   * absent or unreadable. An unreadable one is moved to quarantine and logged.
   */
  getMessage(seq: number): MessageRecord | undefined {
    const raw = this.open_().messages.getBinary(seq);
    if (raw === undefined) return undefined;
    const d = decodeMessage(raw);
    if (d.ok) return d.value;
    this.quarantine([{ ks: 'messages', key: seq, raw, reason: d.reason }]);
    return undefined;
  }

  deleteMessage(seq: number): void {
    this.put(this.open_().messages, seq, undefined);
  }

  /** Adds or replaces (new packet id or state) one entry of a session's queue. */
  putQueued(clientId: string, qseq: number, entry: QueueEntry): void {
    this.put(this.open_().queue, [keyString(clientId), qseq], encodeQueueEntry(entry));
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
    const err = new StoreError('STORE_FULL', this.path, `persistence store ${this.path}: no space left: ${free} bytes free, below the reserve of ${this.reserveBytes}`);
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

  // ---- durability

  /**
   * Resolves when every write issued before the call is durable for the configured mode (see the
   * module comment); many calls share one transaction.
   * @throws StoreError (as a rejection) `STORE_FULL` / `STORE_IO` when a transaction failed or
   *   while the store is unhealthy, `STORE_CLOSED` after close().
   */
  commit(): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.durability === 'off') return RESOLVED;
    if (this.durability === 'sync') return this.flush();
    // batch
    if (this.deferred !== undefined) return Promise.reject(this.lastError);
    const base = this.failuresAtLastOk;
    if (this.failures > base) return Promise.reject(this.lastError);
    const oldest = this.oldestUnsettled();
    if (oldest === undefined || performance.now() - oldest.started <= this.batchWindowMs) return RESOLVED;
    return oldest.done.then(() => this.check(oldest, base));
  }

  /**
   * Resolves when every write issued before the call is committed, whatever the mode (for a
   * graceful stop in `batch` mode); rejects like commit() does in `sync` mode.
   */
  flush(): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.deferred !== undefined) return Promise.reject(this.lastError);
    const target = this.last;
    if (target === undefined) return RESOLVED;
    const base = this.failuresAtLastOk;
    if (target.settled && target.failuresThrough <= base) return RESOLVED;
    return target.done.then(() => this.check(target, base));
  }

  /** The transaction the latest write joined (its identity changes once per event turn). */
  get batch(): unknown {
    return this.last;
  }

  /**
   * False from a failed transaction until a later write succeeds (the store probes for that
   * itself). While false the broker refuses QoS 1/2 publishes; writes issued meanwhile are kept in
   * memory, in order, and written when the store recovers.
   */
  get healthy(): boolean {
    return this.deferred === undefined;
  }

  stats(): StoreStats {
    const info = this.root.getStats() as { lastTxnId?: number; mapSize?: number };
    return { lastTxnId: info.lastTxnId ?? 0, mapSize: info.mapSize ?? 0, committed: this.committedCount, failed: this.failures, deferred: this.deferred?.length ?? 0 };
  }

  private check(target: Batch, base: number): void {
    if (target.failuresThrough > base) throw target.error ?? this.lastError;
  }

  private oldestUnsettled(): Batch | undefined {
    const q = this.unsettled;
    while (this.head < q.length && q[this.head]!.settled) this.head++;
    if (this.head > 64 && this.head * 2 > q.length) {
      this.unsettled = q.slice(this.head);
      this.head = 0;
    }
    return this.unsettled[this.head];
  }

  /** Follows the lmdb-js promise of a write: one Batch per distinct promise (= transaction). */
  private track(p: Promise<unknown>): void {
    if (this.last !== undefined && this.last.promise === p) return;
    const b: Batch = { n: ++this.issued, promise: p, started: performance.now(), settled: false, error: undefined, failuresThrough: 0, done: RESOLVED };
    b.done = p.then(
      () => this.settleOk(b),
      (err: unknown) => this.settleFailed(b, err),
    );
    this.last = b;
    this.unsettled.push(b);
    this.oldestUnsettled(); // trims the settled head now and then
    // lmdb-js's end-of-turn task (a setImmediate queued by this batch's first write, so it runs
    // before ours) may create a second commit promise for the same transaction that nobody
    // awaits; when the transaction fails it would be an unhandled rejection, which ends the
    // thread. `committed` hands us the latest commit promise: give it a handler.
    setImmediate(this.handleLatestCommit);
  }

  private readonly handleLatestCommit = (): void => {
    if (!this.closed) this.root.committed.then(undefined, ignore);
  };

  private settleOk(b: Batch): void {
    b.settled = true;
    b.failuresThrough = this.failures;
    this.failuresAtLastOk = this.failures;
    this.committedCount++;
    counters.storeCommits++;
    // writes work again; replay what waited, once nothing older is still in flight (keeps the order)
    if (this.deferred !== undefined && this.oldestUnsettled() === undefined) this.recover();
  }

  /** Counts the failure at once (settlement order), then waits briefly for lmdb-js's cause to classify it. */
  private async settleFailed(b: Batch, err: unknown): Promise<void> {
    b.settled = true;
    b.failuresThrough = ++this.failures;
    const provisional = storeErrorFrom(err, this.path, 'commit');
    b.error = provisional;
    this.lastError = provisional;
    const first = this.deferred === undefined;
    this.deferred ??= [];
    // lmdb-js rejects with "Commit failed (see commitError for details)"; commitError is a promise
    // rejected with the LMDB error (errno / MDB code) right after
    const cause = (err as { commitError?: Promise<unknown> } | undefined)?.commitError;
    if (cause !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const real = await Promise.race([
        cause.then(() => undefined, (e: unknown) => e),
        new Promise<undefined>((resolve) => (timer = setTimeout(resolve, 1000, undefined))),
      ]);
      clearTimeout(timer);
      if (real !== undefined) {
        b.error = storeErrorFrom(real, this.path, 'commit');
        if (this.lastError === provisional) this.lastError = b.error;
      }
    }
    if (first) this.log.error(`${b.error.message}; refusing durable work and keeping writes in memory until a write succeeds`);
    this.scheduleProbe();
  }

  /**
   * While unhealthy: after probeIntervalMs (doubling after each failed probe, up to 30 s), once
   * nothing is in flight and the file system has room again (statfs), one tiny write; its
   * success replays the deferred writes. No write is
   * tried while the disk is still full (lmdb-js 3.5.6 can corrupt its heap reporting a failed
   * write of fewer than 3 pages; see FORMAT.md).
   */
  private scheduleProbe(): void {
    if (this.probeTimer !== undefined || this.closed) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      if (this.closed || this.deferred === undefined) return;
      const free = freeBytes(this.path);
      if (this.oldestUnsettled() === undefined && (free === undefined || free >= this.reserveBytes)) {
        this.probes++;
        this.track(this.dbs.meta.put('probe', encodeMetaRecord({ at: Date.now(), pid: process.pid })));
      }
      this.scheduleProbe();
    }, Math.min(this.probeIntervalMs * 2 ** Math.min(this.probes, 16), Math.max(this.probeIntervalMs, MAX_PROBE_INTERVAL_MS)));
    this.probeTimer.unref();
  }

  /** Healthy again: writes the deferred ones, in order, into the current batch. */
  private recover(): void {
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

  // ---- recovery reads (start-up; synchronous)

  /**
   * All persistent sessions with their queues (qseq order) and inbound ids. Undecodable records,
   * and queue or inbound entries without a session, are moved to quarantine and logged.
   * `owned`: only the sessions it accepts (a worker's share), whose queues and inbound ids are
   * then read by client id, without going through the others'.
   */
  loadSessions(owned?: (meta: SessionMeta) => boolean): LoadedSession[] {
    const dbs = this.open_();
    const bad: BadRecord[] = [];
    const sessions = this.readSessions(owned, bad);
    if (owned === undefined) {
      this.readQueues(dbs.queue.getRange(), dbs.inbound.getRange(), sessions, bad);
    } else {
      for (const key of sessions.keys()) {
        const range = clientRange(key);
        this.readQueues(dbs.queue.getRange(range), dbs.inbound.getRange(range), sessions, bad);
      }
    }
    this.quarantine(bad);
    return [...sessions.values()];
  }

  /**
   * How many sessions and queue entries there are, reading the sessions but only the keys of
   * their queues and inbound ids: a key that is not [client id, number], or has no session, is
   * quarantined; the values are checked by the worker that loads them (loadSessions(owned)).
   */
  countSessions(): { sessions: number; queued: number } {
    const dbs = this.open_();
    const bad: BadRecord[] = [];
    const sessions = this.readSessions(undefined, bad);
    let queued = 0;
    for (const [ks, db] of [['queue', dbs.queue], ['inbound', dbs.inbound]] as const) {
      for (const key of db.getKeys()) {
        let reason: string | undefined;
        if (!clientNumberKey(key) || (ks === 'inbound' && (key[1] < 1 || key[1] > 0xffff))) reason = ks === 'queue' ? 'key is not [client id, qseq]' : 'key is not [client id, packet id]';
        else if (!sessions.has(key[0])) reason = 'orphan: no session with this client id';
        if (reason !== undefined) bad.push({ ks, key, raw: db.getBinary(key) ?? Buffer.alloc(0), reason });
        else if (ks === 'queue') queued++;
      }
    }
    this.quarantine(bad);
    return { sessions: sessions.size, queued };
  }

  private readSessions(owned: ((meta: SessionMeta) => boolean) | undefined, bad: BadRecord[]): Map<string, LoadedSession> {
    const sessions = new Map<string, LoadedSession>();
    for (const { key, value } of this.open_().sessions.getRange()) {
      if (typeof key !== 'string') {
        bad.push({ ks: 'sessions', key, raw: value, reason: 'key is not a client id' });
        continue;
      }
      const d = decodeSession(value);
      if (!d.ok) bad.push({ ks: 'sessions', key, raw: value, reason: d.reason });
      else if (keyString(d.value.clientId) !== key) bad.push({ ks: 'sessions', key, raw: value, reason: `key does not match client id ${JSON.stringify(utf8Prefix(d.value.clientId, 100))}` });
      else if (owned === undefined || owned(d.value.meta)) sessions.set(key, { clientId: d.value.clientId, meta: d.value.meta, queue: [], inbound: [] });
    }
    return sessions;
  }

  private readQueues(queue: Iterable<{ key: Key; value: Buffer }>, inbound: Iterable<{ key: Key; value: Buffer }>, sessions: Map<string, LoadedSession>, bad: BadRecord[]): void {
    for (const { key, value } of queue) {
      const owner = clientNumberKey(key) ? sessions.get(key[0]) : undefined;
      const d = decodeQueueEntry(value);
      if (!clientNumberKey(key)) bad.push({ ks: 'queue', key, raw: value, reason: 'key is not [client id, qseq]' });
      else if (!d.ok) bad.push({ ks: 'queue', key, raw: value, reason: d.reason });
      else if (owner === undefined) bad.push({ ks: 'queue', key, raw: value, reason: 'orphan: no session with this client id' });
      else owner.queue.push({ qseq: key[1], entry: d.value });
    }
    for (const { key, value } of inbound) {
      const problem = checkInbound(value);
      const owner = clientNumberKey(key) ? sessions.get(key[0]) : undefined;
      if (!clientNumberKey(key) || key[1] < 1 || key[1] > 0xffff) bad.push({ ks: 'inbound', key, raw: value, reason: 'key is not [client id, packet id]' });
      else if (problem !== undefined) bad.push({ ks: 'inbound', key, raw: value, reason: problem });
      else if (owner === undefined) bad.push({ ks: 'inbound', key, raw: value, reason: 'orphan: no session with this client id' });
      else owner.inbound.push(key[1]);
    }
  }

  /** The seqs of the message log (ascending), without reading the messages. Keys that are not seqs are quarantined. */
  messageSeqs(): number[] {
    const bad: BadRecord[] = [];
    const out: number[] = [];
    const messages = this.open_().messages;
    for (const key of messages.getKeys()) {
      if (isSeq(key)) out.push(key);
      else bad.push({ ks: 'messages', key, raw: messages.getBinary(key) ?? Buffer.alloc(0), reason: 'key is not a message seq' });
    }
    this.quarantine(bad);
    return out;
  }

  /** The message log by seq (ascending). Undecodable records are quarantined and logged. */
  loadMessages(): Map<number, MessageRecord> {
    const bad: BadRecord[] = [];
    const out = new Map<number, MessageRecord>();
    for (const { key, value } of this.open_().messages.getRange()) {
      if (!isSeq(key)) {
        bad.push({ ks: 'messages', key, raw: value, reason: 'key is not a message seq' });
        continue;
      }
      const d = decodeMessage(value);
      if (d.ok) out.set(key, d.value);
      else bad.push({ ks: 'messages', key, raw: value, reason: d.reason });
    }
    this.quarantine(bad);
    return out;
  }

  /** All retained messages (topic order). Undecodable records are quarantined and logged. */
  loadRetained(): MessageRecord[] {
    const bad: BadRecord[] = [];
    const out: MessageRecord[] = [];
    for (const { key, value } of this.open_().retained.getRange()) {
      const d = decodeRetained(value);
      if (typeof key !== 'string') bad.push({ ks: 'retained', key, raw: value, reason: 'key is not a topic' });
      else if (!d.ok) bad.push({ ks: 'retained', key, raw: value, reason: d.reason });
      else if (keyString(d.value.t) !== key) bad.push({ ks: 'retained', key, raw: value, reason: `key does not match topic ${JSON.stringify(utf8Prefix(d.value.t, 100))}` });
      else out.push(d.value);
    }
    this.quarantine(bad);
    return out;
  }

  /** The greatest message seq stored, 0 when there is none: continue the sequence above it. */
  maxMessageSeq(): number {
    for (const key of this.open_().messages.getKeys({ reverse: true })) {
      if (isSeq(key)) return key; // returning ends the iterator (and its read transaction)
    }
    return 0;
  }

  /** What the quarantine holds (for operators and tests). */
  loadQuarantine(): QuarantinedRecord[] {
    const out: QuarantinedRecord[] = [];
    for (const { key, value } of this.open_().quarantine.getRange()) {
      const d = decodeQuarantine(value);
      const k = key as unknown[];
      if (d.ok) out.push({ keyspace: d.value.ks, key: String(k[1]), rawKey: d.value.key, raw: d.value.raw, reason: d.value.reason, at: d.value.at });
      else out.push({ keyspace: String(k[0]), key: String(k[1]), rawKey: new Uint8Array(0), raw: value, reason: `unreadable quarantine record: ${d.reason}`, at: Number(k[2]) });
    }
    return out;
  }

  /** Moves `bad` records to quarantine in one transaction (only those still unchanged), then logs each. */
  private quarantine(bad: BadRecord[]): void {
    if (bad.length === 0) return;
    const at = Date.now();
    const texts = bad.map((b) => keyText(b.key));
    try {
      this.root.transactionSync(() => {
        bad.forEach((b, i) => {
          const db = this.dbs[b.ks];
          const current = db.getBinary(b.key);
          if (current === undefined || !current.equals(b.raw)) return; // changed since it was read: not ours to move
          this.dbs.quarantine.putSync([b.ks, texts[i]!, at, i], encodeQuarantine({ ks: b.ks, key: rawKeyOf(b.key), raw: b.raw, reason: b.reason, at }));
          db.removeSync(b.key);
        });
      });
    } catch (err) {
      this.log.error(`persistence store ${this.path}: could not move ${bad.length} bad record(s) to quarantine; they stay in place and are skipped`, err);
    }
    bad.slice(0, WARN_EACH).forEach((b, i) => this.log.warning(`persistence store ${this.path}: ${b.ks} record ${texts[i]} moved to quarantine: ${b.reason}`));
    if (bad.length > WARN_EACH) this.log.warning(`persistence store ${this.path}: ... and ${bad.length - WARN_EACH} more record(s) moved to quarantine`);
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

  private open_(): Record<Keyspace, Database<Buffer, Key>> {
    if (this.closed) throw this.closedError();
    return this.dbs;
  }

  private closedError(): StoreError {
    return new StoreError('STORE_CLOSED', this.path, `persistence store ${this.path}: used after close()`);
  }
}

/** The free-space reserve of a store in `dir` (StoreOptions.reserveBytes). */
function defaultReserve(dir: string): number {
  return Math.min(DEFAULT_RESERVE_BYTES, Math.floor((fileSystemBytes(dir) ?? Infinity) / 10));
}

/**
 * Commits and health of the store: the base class of Store (writes.ts, then store.ts, build on
 * it), holding the handles of the LMDB environment and following lmdb-js's write batches.
 *
 * lmdb-js commits each event turn's write batch as one transaction on its write thread. The
 * store follows each batch (track()) and `commit()` resolves when every write issued before the
 * call is as durable as the configured mode promises (group commit: all calls in a turn wait for
 * the same transaction). `sync`: committed and on disk (LMDB's synchronous commit,
 * fsync/fdatasync, `overlappingSync: false`), so an acknowledgement sent after it survives
 * kill -9 and power loss. `batch`: resolves at once while the oldest unsettled transaction is
 * younger than `batchWindowMs`; otherwise it waits for that transaction, so
 * acknowledged-but-not-yet-durable data never spans more than the window. `off`: resolves at once.
 *
 * A failed transaction (disk full, I/O error) makes the store unhealthy: commit() rejects, the
 * writes issued from then on wait in memory, in order (writes.ts), and a timer probes (only once
 * statfs shows free space) with a tiny write; when a write succeeds the waiting writes are
 * replayed (recover(), writes.ts) and the store is healthy again. The writes of the failed
 * transaction itself are lost (their commit() rejected, so nothing that depended on them was
 * acknowledged).
 *
 * Invariants:
 * - transactions of one Store settle in the order they were issued;
 * - `healthy` is false exactly while writes are being deferred (`deferred` is defined);
 * - commit() rejects when a transaction after the last one known good at the time of the call,
 *   up to the one holding the caller's writes, failed (so a rejection may cover writes that were
 *   stored: it errs on the side of not acknowledging);
 * - every promise lmdb-js returns gets a rejection handler (an unhandled one would end the process).
 * called from: worker | main
 */
import type { Database, Key, RootDatabase } from 'lmdb';
import { counters } from '../metrics/counters.ts';
import { StoreError, freeBytes, storeErrorFrom } from './errors.ts';
import { roomBytes } from './room.ts';
import { encodeMetaRecord } from './format.ts';
import { defaultLog, defaultReserve } from './open.ts';
import type { Durability, Keyspaces, StoreLog, StoreOptions } from './open.ts';

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

/** A write issued while the store is unhealthy: a put (value) or delete (undefined), or a session delete. */
export type DeferredWrite = { db: Database<Buffer, Key>; key: Key; value: Buffer | undefined } | { deleteSession: string };

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

const RESOLVED: Promise<void> = Promise.resolve();
const ignore = (): void => {};

/** The environment of one thread's Store, and its commits and health. See the module comment. */
export abstract class StoreCommits {
  /** the directory, resolved */
  readonly path: string;
  readonly durability: Durability;
  private readonly batchWindowMs: number;
  private readonly probeIntervalMs: number;
  /** below this much free space nothing is written (see StoreOptions.reserveBytes) */
  protected readonly reserveBytes: number;
  protected readonly log: StoreLog;
  protected readonly root: RootDatabase<Buffer, Key>;
  protected readonly dbs: Keyspaces;

  protected closed = false;
  private issued = 0;
  /** the latest batch this Store wrote into */
  private last: Batch | undefined;
  /** issued batches not yet settled, oldest first (from `head`) */
  private unsettled: Batch[] = [];
  private head = 0;
  protected failures = 0;
  private failuresAtLastOk = 0;
  private committedCount = 0;
  protected lastError: StoreError | undefined;
  /** writes issued while unhealthy, in order; undefined = healthy */
  protected deferred: DeferredWrite[] | undefined;
  /** probe writes tried since the store became unhealthy (each failure doubles the wait) */
  protected probes = 0;
  protected probeTimer: NodeJS.Timeout | undefined;

  protected constructor(options: StoreOptions, dir: string, root: RootDatabase<Buffer, Key>, dbs: Keyspaces) {
    this.path = dir;
    this.durability = options.durability;
    this.batchWindowMs = options.batchWindowMs;
    this.probeIntervalMs = options.probeIntervalMs ?? 1000;
    this.reserveBytes = options.reserveBytes ?? defaultReserve(dir);
    this.log = options.log ?? defaultLog;
    this.root = root;
    this.dbs = dbs;
  }

  /** Free space for the store: the file system's and the data file's free pages (room.ts). */
  protected room(): number | undefined {
    return roomBytes(this.path, this.root, Object.values(this.dbs));
  }

  /** Healthy again (a write succeeded): replays the deferred writes, in order (writes.ts). */
  protected abstract recover(): void;

  /**
   * Still short of the reserve: writes the oldest deferred writes, in order, up to about
   * `maxBytes`, into the current batch, and forgets them (writes.ts).
   */
  protected abstract replaySome(maxBytes: number): void;

  /**
   * What an unhealthy store does once nothing is in flight: with room for the reserve, replay
   * everything (`committed`: a write just succeeded) or first prove writes work with a probe
   * write (whose success comes back here); short of it but with half the reserve free on the
   * file system, the next deferred writes in a bounded transaction. Deletes among them (a queue
   * draining) free pages inside the data file, which count as room: the store gets out of
   * "full" by itself, though the file never shrinks.
   */
  private tryToRecover(committed: boolean): void {
    const room = this.room();
    if (room === undefined || room >= this.reserveBytes) {
      if (committed) {
        this.recover();
        return;
      }
      this.probes++;
      this.track(this.dbs.meta.put('probe', encodeMetaRecord({ at: Date.now(), pid: process.pid })));
      return;
    }
    const free = freeBytes(this.path);
    if (free !== undefined && free >= this.reserveBytes / 2) this.replaySome(this.reserveBytes / 4);
  }

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

  /** a transaction of this Store is still being written (its writes issued, not yet settled) */
  get writing(): boolean {
    return this.oldestUnsettled() !== undefined;
  }

  /** unhealthy because the disk is full (not an I/O error): v5 publishers are told 0x97 */
  get full(): boolean {
    return this.deferred !== undefined && this.lastError?.code === 'STORE_FULL';
  }

  stats(): StoreStats {
    const info = this.root.getStats() as { lastTxnId?: number; mapSize?: number };
    return { lastTxnId: info.lastTxnId ?? 0, mapSize: info.mapSize ?? 0, committed: this.committedCount, failed: this.failures, deferred: this.deferred?.length ?? 0 };
  }

  /** The keyspaces, or STORE_CLOSED after close(). */
  protected open_(): Keyspaces {
    if (this.closed) throw this.closedError();
    return this.dbs;
  }

  protected closedError(): StoreError {
    return new StoreError('STORE_CLOSED', this.path, `persistence store ${this.path}: used after close()`);
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
  protected track(p: Promise<unknown>): void {
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
    // writes work again; replay what waited, once nothing older is still in flight (keeps the order),
    // when there is room for the reserve; short of it, the next deferred writes (tryToRecover)
    if (this.deferred === undefined || this.oldestUnsettled() !== undefined || this.closed) return;
    this.tryToRecover(true);
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
  protected scheduleProbe(): void {
    if (this.probeTimer !== undefined || this.closed) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      if (this.closed || this.deferred === undefined) return;
      if (this.oldestUnsettled() === undefined) this.tryToRecover(false);
      this.scheduleProbe();
    }, Math.min(this.probeIntervalMs * 2 ** Math.min(this.probes, 16), Math.max(this.probeIntervalMs, MAX_PROBE_INTERVAL_MS)));
    this.probeTimer.unref();
  }
}

/**
 * Opening the store: the options, the checks made before LMDB touches the location (a writable
 * directory, free space above the reserve, a plausible data file), opening the LMDB environment
 * (lmdb-js; one native environment shared by the threads of a process) with one named database
 * per keyspace, and the format record checked (or created) by one small synchronous transaction
 * that also proves the store can write. Keyspaces, keys and values: FORMAT.md beside this file.
 * Invariant: openEnvironment() either returns an environment that passed every check, or throws
 * a StoreError naming the path and the cause and leaves no environment open.
 * called from: worker | main (Store.open)
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import * as lmdb from 'lmdb';
import type { Database, Key, RootDatabase } from 'lmdb';
import type { PersistenceDurability } from '../config/types.ts';
import { StoreError, fileSystemBytes, freeBytes, storeErrorFrom } from './errors.ts';
import { checkDataFile } from './dataFile.ts';
import { reusableBytes } from './room.ts';
import { STORE_FORMAT, decodeFormat, encodeFormat, encodeMetaRecord } from './format.ts';

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

/** The keyspaces, by their LMDB database names. */
export const KEYSPACES = ['messages', 'queue', 'sessions', 'inbound', 'retained', 'quarantine', 'meta'] as const;
export type Keyspace = (typeof KEYSPACES)[number];

/** The open named database of each keyspace. */
export type Keyspaces = Record<Keyspace, Database<Buffer, Key>>;

/** What openEnvironment() returns: the resolved directory and the open environment. */
export interface OpenedEnvironment {
  readonly dir: string;
  readonly root: RootDatabase<Buffer, Key>;
  readonly dbs: Keyspaces;
}

const DEFAULT_MAP_SIZE = 1 << 30;
/** Reader slots of the environment (lock file): ~2 per worker thread for up to 512 workers. */
const MAX_READERS = 1024;
/** Default free-space reserve: the smaller of this and a tenth of the file system. */
const DEFAULT_RESERVE_BYTES = 16 << 20;

const ignore = (): void => {};

/**
 * Values written as they are, and read by copying them out of lmdb-js's shared read buffer into
 * a Buffer of Node's pool: a range read with `encoding: 'binary'` alone gives every value its own
 * ArrayBuffer, which cost 7% of a draining worker's time (allocation and its garbage).
 * lmdb-js passes the shared buffer only to a decoder that copies (`needsStableBuffer` false).
 */
const copyOut = {
  needsStableBuffer: false,
  encode: (value: Buffer): Buffer => value,
  decode(bytes: Uint8Array, size?: unknown): Buffer {
    // the shared buffer is longer than the value: its size comes as `size` from a range read
    const n = typeof size === 'number' ? size : bytes.length;
    const out = Buffer.allocUnsafe(n);
    out.set(bytes.subarray(0, n));
    return out;
  },
};

/** The log used when StoreOptions.log is not given. */
export const defaultLog: StoreLog = {
  warning: (m) => console.warn(m),
  error: (m, err) => console.error(m, err ?? ''),
};

/** The free-space reserve of a store in `dir` (StoreOptions.reserveBytes). */
export function defaultReserve(dir: string): number {
  return Math.min(DEFAULT_RESERVE_BYTES, Math.floor((fileSystemBytes(dir) ?? Infinity) / 10));
}

/**
 * Opens (creating when missing) the LMDB environment at `options.path` and checks that it can
 * write there with one small synchronous transaction (see Store.open).
 * @throws StoreError `STORE_UNWRITABLE`, `STORE_FULL`, `STORE_CORRUPT`, `STORE_INCOMPATIBLE`,
 *   `STORE_IO`; the message names the path and the cause.
 */
export function openEnvironment(options: StoreOptions): OpenedEnvironment {
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
  // LMDB maps its lock file: on a full file system creating it is SIGBUS, not an error. An existing
  // store may still have room inside its data file (pages freed since the disk filled): judged once open
  const reserve = options.reserveBytes ?? defaultReserve(dir);
  const free = freeBytes(dir);
  const existing = existsSync(path.join(dir, 'data.mdb')) && existsSync(path.join(dir, 'lock.mdb'));
  if (free !== undefined && free < reserve && !existing) throw noRoom(dir, free, reserve);
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
    const dbs = {} as Keyspaces;
    for (const name of KEYSPACES) {
      // queue entries are read in ranges while a queue drains: copied out by copyOut (see there)
      const values = name === 'queue' ? { encoder: copyOut } : {};
      dbs[name] = root.openDB<Buffer, Key>(name, { encoding: 'binary', compression: false, cache: false, ...values });
    }
    if (free !== undefined && free < reserve) {
      const room = free + reusableBytes(root, Object.values(dbs));
      if (room < reserve) throw noRoom(dir, room, reserve);
    }
    checkFormatAndProbe(root, dbs.meta, dir);
    return { dir, root, dbs };
  } catch (err) {
    void root.close().catch(ignore);
    throw storeErrorFrom(err, dir, 'the first write');
  }
}

function noRoom(dir: string, room: number, reserve: number): StoreError {
  return new StoreError('STORE_FULL', dir, `persistence store ${dir}: no space left: ${room} bytes free (file system and free pages of the data file), below the reserve of ${reserve} bytes the store keeps`);
}

/** Creates or checks the format record, and writes the `opened` probe synchronously (to disk). */
function checkFormatAndProbe(root: RootDatabase<Buffer, Key>, meta: Database<Buffer, Key>, dir: string): void {
  root.transactionSync(() => {
    const raw = meta.getBinary('format');
    if (raw === undefined) {
      meta.putSync('format', encodeFormat({ format: STORE_FORMAT, created: Date.now() }));
    } else {
      const d = decodeFormat(raw);
      if (!d.ok) throw new StoreError('STORE_CORRUPT', dir, `persistence store ${dir}: unreadable format record (${d.reason})`);
      if (d.value.format > STORE_FORMAT) {
        throw new StoreError('STORE_INCOMPATIBLE', dir, `persistence store ${dir}: format ${d.value.format} was written by a newer culex (this one reads format ${STORE_FORMAT})`);
      }
    }
    meta.putSync('opened', encodeMetaRecord({ at: Date.now(), pid: process.pid }));
  });
}

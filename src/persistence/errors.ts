/**
 * Errors of the LMDB store, and the one place where a low-level failure (an errno from the file
 * system, an LMDB return code) is sorted into what the broker must do about it: a full disk
 * (free space, then the store recovers), an I/O error, a location it cannot use, a corrupt or
 * foreign file. Every message names the store's path and the cause.
 * Invariant: a StoreError's `code` is one of {@link StoreErrorCode}; `cause` keeps the original
 * error when there was one.
 * called from: worker | main
 */
import { statfsSync } from 'node:fs';

/**
 * - `STORE_UNWRITABLE`: the location cannot be created, opened or written (permissions, a file in
 *   the way, a read-only file system);
 * - `STORE_FULL`: no space left (ENOSPC, EDQUOT, EFBIG, LMDB MDB_MAP_FULL, or EIO while the file
 *   system has almost no free space: LMDB reports a short write as EIO);
 * - `STORE_IO`: any other failure of a write or commit;
 * - `STORE_CORRUPT`: the data file is not a readable LMDB environment;
 * - `STORE_INCOMPATIBLE`: the store was written by a newer culex (its format version is unknown);
 * - `STORE_CLOSED`: the store was used after close();
 * - `STORE_LOCKED`: another running broker uses the location (lock.ts).
 */
export type StoreErrorCode =
  | 'STORE_UNWRITABLE' | 'STORE_FULL' | 'STORE_IO' | 'STORE_CORRUPT' | 'STORE_INCOMPATIBLE' | 'STORE_CLOSED' | 'STORE_LOCKED';

/** A failure of the persistent store, with a message ready for the operator. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;
  /** the store's directory */
  readonly path: string;

  constructor(code: StoreErrorCode, path: string, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'StoreError';
    this.code = code;
    this.path = path;
  }
}

// LMDB return codes (lmdb.h)
const MDB_CORRUPTED = -30796;
const MDB_PANIC = -30795;
const MDB_VERSION_MISMATCH = -30794;
const MDB_INVALID = -30793;
const MDB_MAP_FULL = -30792;
const MDB_TXN_FULL = -30788;
const MDB_PAGE_FULL = -30786;
const MDB_INCOMPATIBLE = -30784;
const MDB_BAD_CHECKSUM = -30778;

// errno values (Linux), as LMDB hands them back in the numeric `code` of lmdb-js errors
const ERRNO: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 5: 'EIO', 13: 'EACCES', 20: 'ENOTDIR', 21: 'EISDIR', 27: 'EFBIG', 28: 'ENOSPC', 30: 'EROFS', 122: 'EDQUOT' };

/** Below this much free space, an EIO from a commit is taken for a full disk. */
const NEARLY_FULL_BYTES = 1 << 20;

/** The symbolic code of an error from node:fs (string `code`) or lmdb-js (numeric `code`). */
export function errorCodeOf(err: unknown): string | number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  if (typeof code === 'number') return ERRNO[code] ?? code;
  return undefined;
}

/** Free bytes for unprivileged users on the file system holding `path`; undefined when unknown. */
export function freeBytes(path: string): number | undefined {
  return space(path, 'free');
}

/** Size of the file system holding `path`, bytes (undefined when statfs fails). */
export function fileSystemBytes(path: string): number | undefined {
  return space(path, 'size');
}

function space(path: string, which: 'free' | 'size'): number | undefined {
  try {
    const s = statfsSync(path);
    return (which === 'free' ? s.bavail : s.blocks) * s.bsize;
  } catch {
    return undefined;
  }
}

/**
 * Sorts a failure of a write or commit into a StoreError. `during` says what failed (for the
 * message): e.g. "commit".
 */
export function storeErrorFrom(err: unknown, path: string, during: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = errorCodeOf(err);
  const detail = err instanceof Error ? err.message : String(err);
  let kind: StoreErrorCode;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_PAGE_FULL:
      kind = 'STORE_FULL';
      break;
    case 'EIO': {
      const free = freeBytes(path);
      kind = free !== undefined && free < NEARLY_FULL_BYTES ? 'STORE_FULL' : 'STORE_IO';
      break;
    }
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
    case 'ENOTDIR':
    case 'EISDIR':
    case 'ENOENT':
      kind = 'STORE_UNWRITABLE';
      break;
    case MDB_CORRUPTED:
    case MDB_PANIC:
    case MDB_INVALID:
    case MDB_BAD_CHECKSUM:
      kind = 'STORE_CORRUPT';
      break;
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
      kind = 'STORE_INCOMPATIBLE';
      break;
    default:
      kind = 'STORE_IO';
  }
  const what = kind === 'STORE_FULL' ? 'no space left' : kind === 'STORE_UNWRITABLE' ? 'cannot write' : kind === 'STORE_CORRUPT' ? 'corrupt data file' : kind === 'STORE_INCOMPATIBLE' ? 'incompatible data file' : 'I/O error';
  const suffix = code !== undefined && !detail.includes(String(code)) ? `, ${code}` : '';
  return new StoreError(kind, path, `persistence store ${path}: ${during} failed: ${what} (${detail}${suffix})`, err);
}

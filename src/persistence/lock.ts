/**
 * One broker per persistence_location: a lock file holding the pid of the broker that uses the
 * directory. Two brokers on one LMDB environment would both deliver the same sessions, and what
 * one acknowledged the other could delete.
 * Invariant: while a broker runs, `culex.lock` in its directory names its pid. A lock left by a
 * process that no longer runs (kill -9, a crash, a reboot) is taken over; one whose pid runs a
 * program that is not Node is stale too (a pid reused after a reboot).
 * called from: main
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { StoreError, storeErrorFrom } from './errors.ts';

export const LOCK_FILE = 'culex.lock';

/** Directories locked by this process (a second broker in one process is refused too). */
const heldHere = new Set<string>();

export interface DirectoryLock {
  /** Removes the lock file (a broker that stops). Idempotent. */
  release(): void;
}

/**
 * Takes the lock on `dir` (created when missing).
 * @throws StoreError `STORE_LOCKED` naming the holder's pid, or `STORE_UNWRITABLE`
 */
export function lockDirectory(location: string): DirectoryLock {
  const dir = path.resolve(location);
  const file = path.join(dir, LOCK_FILE);
  if (heldHere.has(dir)) throw locked(dir, file, process.pid);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new StoreError('STORE_UNWRITABLE', dir, `persistence store ${dir}: cannot create the directory (${(err as Error).message})`, err);
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw storeErrorFrom(err, dir, `creating ${file}`);
      const holder = readHolder(file);
      if (holder !== undefined && holder !== process.pid && runsNode(holder)) throw locked(dir, file, holder);
      // stale: its process is gone (or is this one, restarted under the same pid in a container)
      try {
        unlinkSync(file);
      } catch {
        // another starting broker removed it first: try again
      }
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } catch (err) {
      unlinkSync(file);
      throw storeErrorFrom(err, dir, `writing ${file}`); // ENOSPC: STORE_FULL, "no space left"
    } finally {
      closeSync(fd);
    }
    heldHere.add(dir);
    let held = true;
    return {
      release() {
        if (!held) return;
        held = false;
        heldHere.delete(dir);
        try {
          if (readHolder(file) === process.pid) unlinkSync(file);
        } catch {
          // already gone
        }
      },
    };
  }
  throw locked(dir, file, readHolder(file) ?? 0);
}

function locked(dir: string, file: string, pid: number): StoreError {
  return new StoreError(
    'STORE_LOCKED',
    dir,
    `persistence_location ${dir} is in use by another culex (pid ${pid}, lock file ${file}): ` +
      'stop that broker first, or remove the file if no such process runs',
  );
}

/** The pid in the lock file; undefined when it cannot be read (being written: treated as held by nobody). */
function readHolder(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Does `pid` run, and (where /proc tells) run Node? */
function runsNode(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: no such process
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    return /node|culex/.test(cmdline);
  } catch {
    return true; // no /proc: a running process holds it
  }
}

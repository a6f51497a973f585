/**
 * Full-disk helpers for tests that run on a small tmpfs.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';

/** Fills the file system holding `dir` with one file until ENOSPC; returns the file. */
export function fillUp(dir: string): string {
  const file = path.join(dir, 'filler');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(16 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return file;
}

/** Mounts a tmpfs of `size` (e.g. '6m') on `dir`; false when that is not allowed here (needs root). */
export function mountTmpfs(dir: string, size: string): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Unmounts (lazily) the tmpfs mounts a test made; one already gone is skipped. For after() hooks. */
export function unmountAll(mounts: readonly string[]): void {
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch { /* already gone */ }
  }
}

/**
 * How much a store can still write: the file system's free space plus the pages inside the data
 * file that LMDB will reuse. The data file never shrinks, so after a full disk and a drained
 * queue the file system stays nearly full while the file is mostly free pages: the reserve is
 * judged on both, or the store would refuse durable work for ever.
 * Invariant: reusable = pages up to the file's last page − pages in use (every keyspace's tree,
 * the main tree, the free list, the two meta pages); an estimate that may count pages a
 * long-running reader still holds, never pages in use.
 * called from: worker | main (through the Store)
 */
import type { Database, RootDatabase } from 'lmdb';
import type { Key } from 'lmdb';
import { freeBytes } from './errors.ts';

interface TreeStats {
  readonly treeBranchPageCount?: number;
  readonly treeLeafPageCount?: number;
  readonly overflowPages?: number;
}
interface EnvStats extends TreeStats {
  readonly pageSize?: number;
  readonly lastPageNumber?: number;
  readonly free?: TreeStats;
}

function pages(s: TreeStats | undefined): number {
  return s === undefined ? 0 : (s.treeBranchPageCount ?? 0) + (s.treeLeafPageCount ?? 0) + (s.overflowPages ?? 0);
}

/** Bytes of free pages inside the data file; 0 when LMDB does not say. */
export function reusableBytes(root: RootDatabase<Buffer, Key>, dbs: readonly Database<Buffer, Key>[]): number {
  const env = root.getStats() as EnvStats;
  const pageSize = env.pageSize ?? 4096;
  if (env.lastPageNumber === undefined) return 0;
  let used = 2 + pages(env) + pages(env.free);
  for (const db of dbs) used += pages(db.getStats() as TreeStats);
  return Math.max(0, env.lastPageNumber + 1 - used) * pageSize;
}

/** File-system free space plus reusable pages; undefined when the file system does not say. */
export function roomBytes(path: string, root: RootDatabase<Buffer, Key>, dbs: readonly Database<Buffer, Key>[]): number | undefined {
  const free = freeBytes(path);
  if (free === undefined) return undefined;
  return free + reusableBytes(root, dbs);
}

/**
 * The start-up shortcut after a clean stop. Reading every queued entry at start-up costs seconds
 * per million entries, so at a clean stop each worker writes what that read would have found:
 * every stored session's queue summed up in its record (SessionMeta.q, a QueueTally), the
 * reference counts of its log messages (meta `['refs', worker]`) and, last, its mark (meta
 * `['clean', worker]`, a CleanStopMark). The next start (main thread, before any worker opens the
 * store) takes the marks, deleting them whatever they say, and trusts the tallies of that run
 * only when every worker of it left a mark, the worker count is unchanged and the marks' sums
 * equal the store's own entry counts (LMDB keeps them per keyspace: no entry is read). Anything
 * else, a crash above all, means reading every entry, as before. Kafka's clean-shutdown marker
 * plays the same part for its log recovery.
 * Invariant: a mark is never left in the store once a broker has started on it, so a crash
 * after that start can never be mistaken for a clean stop.
 * called from: main (takeCleanStop) | worker (readRefTally; Store writes the records)
 */
import type { Database, Key, RootDatabase } from 'lmdb';
import type { CleanStopMark, RefTally } from '../records/stored.ts';
import { decodeCleanStopMark, decodeRefTally } from './format.ts';
import type { Keyspaces } from './open.ts';

/** The meta key of worker `w`'s mark, and of its reference counts. */
export const cleanStopKey = (w: number): Key => ['clean', w];
export const refTallyKey = (w: number): Key => ['refs', w];

/** takeCleanStop's reason when there are no marks at all: a crash, a first start, a store written by another program */
const NOT_CLEAN = 'the last run did not stop cleanly';

/** takeCleanStop's answer: the run whose tallies hold, or why every entry must be read. */
export type CleanStopCheck = { readonly run: number; readonly sessions: number; readonly entries: number; readonly messages: number } | { readonly reason: string };

/**
 * Reads and deletes every clean-stop mark (synchronously: before it returns, a crash can no
 * longer find them), then says whether a start with `workers` workers may trust the tallies.
 */
export function takeCleanStop(root: RootDatabase<Buffer, Key>, dbs: Keyspaces, workers: number): CleanStopCheck {
  const marks = new Map<number, CleanStopMark>();
  let unreadable = 0;
  const range = { start: ['clean'], end: ['clean', '\uffff'] };
  root.transactionSync(() => {
    const found = [...dbs.meta.getRange(range)];
    for (const { key, value } of found) {
      const w = Array.isArray(key) ? key[1] : undefined;
      const d = decodeCleanStopMark(value);
      if (typeof w === 'number' && d.ok) marks.set(w, d.value);
      else unreadable++;
      dbs.meta.removeSync(key);
    }
  });
  if (marks.size === 0 && unreadable === 0) return { reason: NOT_CLEAN };
  if (unreadable > 0) return { reason: `${unreadable} unreadable clean-stop mark(s)` };
  const first = marks.values().next().value!;
  const total = { sessions: 0, entries: 0, messages: 0 };
  for (const [w, m] of marks) {
    if (m.run !== first.run || m.workers !== first.workers || w >= m.workers) return { reason: 'the clean-stop marks are of different runs' };
    total.sessions += m.sessions;
    total.entries += m.entries;
    total.messages += m.messages;
  }
  if (marks.size !== first.workers) return { reason: `${first.workers - marks.size} of the last run's ${first.workers} workers did not stop cleanly` };
  if (first.workers !== workers) return { reason: `the last run had ${first.workers} workers, this one ${workers}` };
  const counted = { sessions: entryCount(dbs.sessions), entries: entryCount(dbs.queue), messages: entryCount(dbs.messages) };
  for (const k of ['sessions', 'entries', 'messages'] as const) {
    if (counted[k] !== total[k]) return { reason: `the store holds ${counted[k]} ${k === 'entries' ? 'queue entries' : k}, the clean stop counted ${total[k]}` };
  }
  return { run: first.run, ...total };
}

/** The reference counts worker `w` wrote at the clean stop of `run`; undefined when absent, unreadable or of another run. */
export function readRefTally(meta: Database<Buffer, Key>, w: number, run: number): RefTally | undefined {
  const raw = meta.getBinary(refTallyKey(w));
  if (raw === undefined) return undefined;
  const d = decodeRefTally(raw);
  return d.ok && d.value.run === run ? d.value.tally : undefined;
}

/** Entries in one keyspace, as LMDB counts them (no read of the entries). */
export function entryCount(db: Database<Buffer, Key>): number {
  return (db.getStats() as { entryCount: number }).entryCount;
}

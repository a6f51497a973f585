/**
 * The main thread's one pass over every queue entry when the last run left no clean stop (a
 * crash): it tidies the message log for the workers that will run, and makes what a clean stop
 * would have written (cleanStop.ts), so that the workers start from tallies and read no queued
 * entry again. Each entry is scanned in place (scan.ts: message seq, packet id, state, payload
 * bytes); nothing is decoded unless the scanner refuses it.
 * - tidy (journal.ts: every log message is counted and deleted by one worker): a message no entry
 *   refers to is deleted, and one referred to by sessions that different workers will own is
 *   copied, the entries of the later workers rewritten to the copy;
 * - tallies: every session's record again with its queue tally (`q` of `run`: count, payload
 *   bytes and qseq range of the queued entries, the qseqs of the sent ones), without marks: a
 *   crash before the workers start leaves nothing a later start would trust. Each worker's
 *   reference counts are handed to it in shared memory rather than written (10,000,000 counts
 *   are 160 MB: encoding, writing and reading them back cost seconds of a start).
 * Invariants: an entry whose message is not stored counts in its queue with 0 bytes and no
 * reference (the worker drops it, with a warning, when it reads it back); the reference counts
 * hold queued entries only (a sent entry is counted when its worker restores it), as a clean
 * stop's do.
 * called from: main (startup.ts)
 */
import type { LoadedSession, QueueTally, RefTally } from '../records/stored.ts';
import type { Store, StoreLog } from './store.ts';
import { scanMessagesAside } from './messageScan.ts';
import { doubled } from './load.ts';

/** One session's tally while its entries are scanned. */
interface Tallying {
  readonly session: LoadedSession;
  /** its place in the pass's list of sessions */
  readonly index: number;
  /** the worker that will own it */
  readonly w: number;
  after: number;
  last: number;
  count: number;
  bytes: number;
  readonly sent: number[];
}

/** What the pass found and did. */
export interface QueuesTallied {
  readonly sessions: number;
  /** queue entries */
  readonly queued: number;
  /** log messages after the tidy */
  readonly messages: number;
  readonly orphans: number;
  /** messages copied for sessions on different workers */
  readonly copied: number;
  /** each worker's reference counts, in shared memory (the tallies of `run` leave them out of the store) */
  readonly refs: RefTally[];
}

/**
 * The pass (see the module comment) for `workers` workers; the tallies are of `run`. Call before
 * the workers open the store (at `path`). The log is scanned on a thread of its own meanwhile
 * (messageScan.ts); the entries that refer to it are noted and joined with it afterwards.
 */
export async function tallyQueues(store: Store, path: string, log: StoreLog, workers: number, run: number): Promise<QueuesTallied> {
  const scanning = scanMessagesAside(path, store, log);
  const tallies: Tallying[] = [];
  const sessions = new Map<string, Tallying>();
  for (const [key, session] of store.sessionRecords()) {
    const t: Tallying = { session, index: tallies.length, w: session.meta.owner % workers, after: 0, last: 0, count: 0, bytes: 0, sent: [] };
    tallies.push(t);
    sessions.set(key, t);
  }
  // sized for every entry referring to the log: growing by doubling cost 0.8 s of 10,000,000 (copies and fresh pages)
  const noted = new NotedRefs(store.entryCount('queue'));
  let queued = 0;
  store.scanQueues(sessions, (t, qseq, m, p, s, inlineBytes) => {
    queued++;
    const sent = p !== 0 && s !== 0;
    if (m !== 0) noted.add(t.index, qseq, m, sent);
    if (sent) t.sent.push(qseq);
    else {
      if (t.count === 0) t.after = qseq - 1;
      t.last = qseq;
      t.count++;
      t.bytes += inlineBytes;
    }
  });
  const { seqs, sizes, count } = await scanning;
  /** by index in seqs: the worker owning the message (-1: none yet), and its queued entries */
  const ownerOf = new Int32Array(count).fill(-1);
  const refs = new Int32Array(count);
  /** seq → (worker → its copy) for messages that sessions of several workers refer to */
  const copies = new Map<number, Map<number, { seq: number; refs: number }>>();
  let next = store.maxMessageSeq();
  let copied = 0;
  let hint = 0;
  /** index of `seq` in seqs, or -1; entries mostly refer to the seq after the last one found */
  const find = (seq: number): number => {
    if (hint + 1 < count && seqs[hint + 1] === seq) return ++hint;
    if (hint < count && seqs[hint] === seq) return hint;
    let lo = 0;
    let hi = count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const s = seqs[mid]!;
      if (s === seq) return (hint = mid);
      if (s < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  };
  // in scan order: the first session to refer to a message makes its worker the owner
  for (let k = 0; k < noted.length; k++) {
    const t = tallies[noted.session[k]!]!;
    const m = noted.m[k]!;
    const sent = noted.sent[k] === 1;
    const i = find(m);
    if (i < 0) continue; // not stored: counted with 0 bytes, dropped when read back
    let counted = true;
    if (ownerOf[i] === -1 || ownerOf[i] === t.w) {
      ownerOf[i] = t.w;
      if (!sent) refs[i]!++;
    } else {
      const copy = copyFor(t, noted.qseq[k]!, m);
      if (copy === undefined) counted = false;
      else if (!sent) copy.refs++;
    }
    if (counted && !sent) t.bytes += sizes[i]!;
  }

  /** worker t.w's copy of message `m` (made on first need), entry `qseq` rewritten to refer to it; undefined when unreadable */
  function copyFor(t: Tallying, qseq: number, m: number): { seq: number; refs: number } | undefined {
    const perWorker = copies.get(m) ?? new Map<number, { seq: number; refs: number }>();
    copies.set(m, perWorker);
    let copy = perWorker.get(t.w);
    if (copy === undefined) {
      const record = store.getMessage(m);
      if (record === undefined) return undefined; // unreadable (now in quarantine): dropped when read back
      copy = { seq: ++next, refs: 0 };
      perWorker.set(t.w, copy);
      store.putMessage(copy.seq, record);
      copied++;
    }
    const entry = store.getQueued(t.session.clientId, qseq);
    if (entry !== undefined) store.putQueued(t.session.clientId, qseq, { ...entry, m: copy.seq });
    return copy;
  }

  let orphans = 0;
  for (let i = 0; i < count; i++) {
    if (ownerOf[i] !== -1) continue;
    store.deleteMessage(seqs[i]!);
    orphans++;
  }
  for (const t of tallies) {
    const q: QueueTally = { r: run, a: t.count === 0 ? 0 : t.after, l: t.count === 0 ? 0 : t.last, c: t.count, b: t.bytes, s: t.sent };
    store.putSession(t.session.clientId, { ...t.session.meta, q });
  }
  await store.flush();
  return { sessions: tallies.length, queued, messages: count - orphans + copied, orphans, copied, refs: refTallies(workers, seqs, ownerOf, refs, copies) };
}

/**
 * Each worker's reference counts, seqs ascending (copies have seqs above every original), in
 * SharedArrayBuffers (a worker gets them without a copy): two passes over the log's messages
 * whatever the worker count.
 */
function refTallies(workers: number, seqs: Float64Array, ownerOf: Int32Array, refs: Int32Array, copies: Map<number, Map<number, { seq: number; refs: number }>>): RefTally[] {
  const extra: { seq: number; refs: number }[][] = Array.from({ length: workers }, () => []);
  for (const perWorker of copies.values()) for (const [w, c] of perWorker) if (c.refs > 0) extra[w]!.push(c);
  const sizes = new Int32Array(workers);
  for (let i = 0; i < ownerOf.length; i++) if (refs[i]! > 0) sizes[ownerOf[i]!]!++;
  const out = extra.map((e, w) => {
    e.sort((a, b) => a.seq - b.seq);
    const n = sizes[w]! + e.length;
    return { seqs: new Float64Array(new SharedArrayBuffer(n * 8)), counts: new Float64Array(new SharedArrayBuffer(n * 8)) };
  });
  const at = new Int32Array(workers);
  for (let i = 0; i < ownerOf.length; i++) {
    if (!(refs[i]! > 0)) continue;
    const w = ownerOf[i]!;
    const o = at[w]!++;
    out[w]!.seqs[o] = seqs[i]!;
    out[w]!.counts[o] = refs[i]!;
  }
  extra.forEach((e, w) => {
    for (const c of e) {
      const o = at[w]!++;
      out[w]!.seqs[o] = c.seq;
      out[w]!.counts[o] = c.refs;
    }
  });
  return out;
}

/** The queue entries that refer to the log, in scan order, until the log's scan is in: typed arrays that grow, no object per entry. */
class NotedRefs {
  length = 0;
  session: Int32Array;
  qseq: Float64Array;
  m: Float64Array;
  sent: Uint8Array;

  /** `capacity`: the most entries expected (the queue's entry count); more still fit, by growing */
  constructor(capacity: number) {
    const n = Math.max(1024, capacity);
    this.session = new Int32Array(n);
    this.qseq = new Float64Array(n);
    this.m = new Float64Array(n);
    this.sent = new Uint8Array(n);
  }

  add(session: number, qseq: number, m: number, sent: boolean): void {
    const k = this.length;
    if (k === this.m.length) this.grow();
    this.session[k] = session;
    this.qseq[k] = qseq;
    this.m[k] = m;
    this.sent[k] = sent ? 1 : 0;
    this.length = k + 1;
  }

  private grow(): void {
    this.session = doubled(this.session);
    this.qseq = doubled(this.qseq);
    this.m = doubled(this.m);
    this.sent = doubled(this.sent);
  }
}

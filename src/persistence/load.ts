/**
 * Reading the store back at start-up: sessions with their queues and inbound QoS 2 ids, the
 * message log, retained messages. Reads are synchronous. A record that cannot be decoded, or
 * does not belong (a key of the wrong shape, a queue entry or inbound id without a session, a
 * key that does not match its record), is moved to quarantine and logged (quarantine.ts).
 * Invariants: read transactions are short: every range iterator is consumed to the end at once
 * (or returned from, which ends it); a bad record is never silently dropped.
 * called from: worker | main (through Store; the main thread in startup.ts, each worker for its
 * own sessions)
 */
import type { Database, Key, RootDatabase } from 'lmdb';
import type { MessageRecord } from '../records/message.ts';
import type { LoadedSession, QueueEntry, RefTally, SessionMeta } from '../records/stored.ts';
import { clientNumberKey, clientRange, isSeq, keyString, utf8Prefix } from './keys.ts';
import { VERSION, checkInbound, decodeMessage, decodeQueueEntry, decodeRetained, decodeSession } from './format.ts';
import { SCAN_REFUSED, scanMessagePayload, scanQueueEntry, scanned } from './scan.ts';
import { queueKeyScan, scannedKey } from './keyScan.ts';
import type { KeyCodec } from './keyScan.ts';
import { moveToQuarantine } from './quarantine.ts';
import { entryCount, readRefTally } from './cleanStop.ts';
import type { BadRecord } from './quarantine.ts';
import type { Keyspaces, StoreLog } from './open.ts';

/**
 * One queue entry as the start-up tally sees it (Loader.scanQueues): its session's `owner`
 * value, qseq, message seq (0: inline), packet id, state and inline payload bytes.
 */
export type EntryVisitor<T> = (owner: T, qseq: number, m: number, p: number, s: number, bytes: number) => void;

/**
 * lmdb-js decoders for the start-up scans: lmdb-js hands a decoder that copies
 * (`needsStableBuffer` false) its shared read buffer and the value's size; these scan it in
 * place (scan.ts) and return a number, so a range read allocates no Buffer per value.
 */
const entryScan = { needsStableBuffer: false, encode: (v: Buffer): Buffer => v, decode: (b: Uint8Array, size?: number): number => scanQueueEntry(b, size ?? b.length) };
const payloadScan = { needsStableBuffer: false, encode: (v: Buffer): Buffer => v, decode: (b: Uint8Array, size?: number): number => scanMessagePayload(b, size ?? b.length, VERSION.messages) };

/** The start-up reads of one Store (see the module comment); Store checks it is open first. */
export class Loader {
  private readonly root: RootDatabase<Buffer, Key>;
  private readonly dbs: Keyspaces;
  private readonly path: string;
  private readonly log: StoreLog;
  /** payload sizes of log messages, kept during one loadSessions() */
  private sizes = new Map<number, number>();
  /** the queue keyspace read by scanning (scanQueued), opened at its first use */
  private queueScan: Database<number, number> | undefined;

  constructor(root: RootDatabase<Buffer, Key>, dbs: Keyspaces, dir: string, log: StoreLog) {
    this.root = root;
    this.dbs = dbs;
    this.path = dir;
    this.log = log;
  }

  /** Store.loadSessions */
  loadSessions(owned?: (meta: SessionMeta) => boolean): LoadedSession[] {
    const dbs = this.dbs;
    const bad: BadRecord[] = [];
    const sessions = this.readSessions(owned, bad);
    if (owned === undefined) {
      this.readQueues(dbs.queue.getRange(), dbs.inbound.getRange(), sessions, bad);
    } else {
      for (const key of sessions.keys()) {
        const range = clientRange(key);
        this.readQueues(dbs.queue.getRange(range), dbs.inbound.getRange(range), sessions, bad, true);
      }
    }
    this.sizes = new Map();
    this.quarantine(bad);
    return [...sessions.values()];
  }

  /**
   * Store.loadOwnSessions after a clean stop of `run`: the sessions `owned`, their inbound ids
   * and the entries their tallies list as sent, read by key; the queued entries stay unread.
   * Undefined (read the entries instead) when a session has no tally of that run, a sent entry
   * is not where its tally says, or this worker's reference counts are missing (`given`, else
   * read from the store).
   */
  loadTallied(owned: (meta: SessionMeta) => boolean, worker: number, run: number, given?: RefTally): { sessions: LoadedSession[]; refs: RefTally } | undefined {
    const dbs = this.dbs;
    const refs = given ?? readRefTally(dbs.meta, worker, run);
    if (refs === undefined) return undefined;
    const bad: BadRecord[] = [];
    const sessions = this.readSessions(owned, bad);
    if (bad.length > 0) {
      this.quarantine(bad);
      return undefined;
    }
    for (const [key, s] of sessions) {
      const q = s.meta.q;
      if (q === undefined || q === null || q.r !== run) return undefined;
      for (const qseq of q.s) {
        const raw = dbs.queue.getBinary([key, qseq]);
        const d = raw === undefined ? undefined : decodeQueueEntry(raw);
        if (d === undefined || !d.ok || d.value.p === 0 || d.value.s === 0) return undefined;
        s.queue.push({ qseq, entry: d.value });
      }
      s.queue.sort((x, y) => x.qseq - y.qseq);
      if (q.c > 0) s.disk = { after: q.a, last: q.l, count: q.c, bytes: q.b, refs: [], tallied: true };
      this.readQueues([], dbs.inbound.getRange(clientRange(key)), sessions, bad, true);
    }
    this.quarantine(bad);
    return { sessions: [...sessions.values()], refs };
  }

  /** Store.sessionRecords */
  sessionRecords(): Map<string, LoadedSession> {
    const bad: BadRecord[] = [];
    const sessions = this.readSessions(undefined, bad);
    this.quarantine(bad);
    return sessions;
  }

  /**
   * Store.scanMessages: the log's seqs (ascending) and each message's payload bytes, scanned in
   * place; a value the scanner refuses is decoded in full, and quarantined (left out) when bad.
   */
  scanMessages(): { seqs: Float64Array; sizes: Int32Array; count: number } {
    const bad: BadRecord[] = [];
    let seqs = new Float64Array(Math.max(16, entryCount(this.dbs.messages)));
    let sizes = new Int32Array(seqs.length);
    let count = 0;
    const scan = this.scanDb('messages', payloadScan);
    for (const { key, value } of scan.getRange()) {
      let size = value as unknown as number;
      if (!isSeq(key)) {
        bad.push({ ks: 'messages', key, raw: this.dbs.messages.getBinary(key) ?? Buffer.alloc(0), reason: 'key is not a message seq' });
        continue;
      }
      if (size === SCAN_REFUSED) {
        const raw = this.dbs.messages.getBinary(key) ?? Buffer.alloc(0);
        const d = decodeMessage(raw);
        if (!d.ok) {
          bad.push({ ks: 'messages', key, raw, reason: d.reason });
          continue;
        }
        size = d.value.p.length;
      }
      if (count === seqs.length) {
        seqs = doubled(seqs);
        sizes = doubled(sizes);
      }
      seqs[count] = key;
      sizes[count++] = size;
    }
    this.quarantine(bad);
    return { seqs, sizes, count };
  }

  /**
   * Store.scanQueues: every queue entry, in key order (a session's entries together, qseq
   * ascending), scanned in place and handed to `visit` with `owners`' value for its session. An
   * entry the scanner refuses is decoded in full; a bad one, one with a bad key or no owner, and
   * a bad inbound id are quarantined (and not visited).
   */
  scanQueues<T>(owners: ReadonlyMap<string, T>, visit: EntryVisitor<T>): void {
    const bad: BadRecord[] = [];
    const queue = this.dbs.queue;
    let lastId: string | undefined;
    let owner: T | undefined;
    // keys come as the qseq, the client id key in scannedKey (keyScan.ts); values as scan.ts's answer
    const keys = queueKeyScan(queue as unknown as KeyCodec);
    for (const { key: qseq, value } of this.scanDb('queue', entryScan, keys).getRange()) {
      if (qseq < 0) {
        const key = scannedKey.bad;
        bad.push({ ks: 'queue', key, raw: queue.getBinary(key) ?? Buffer.alloc(0), reason: 'key is not [client id, qseq]' });
        continue;
      }
      if (scannedKey.id !== lastId) {
        lastId = scannedKey.id;
        owner = owners.get(lastId);
      }
      if (owner === undefined || value === SCAN_REFUSED) {
        const key: Key = [scannedKey.id, qseq];
        const raw = queue.getBinary(key) ?? Buffer.alloc(0);
        const d = decodeQueueEntry(raw);
        if (!d.ok) bad.push({ ks: 'queue', key, raw, reason: d.reason });
        else if (owner === undefined) bad.push({ ks: 'queue', key, raw, reason: 'orphan: no session with this client id' });
        else visit(owner, qseq, d.value.m, d.value.p, d.value.s, d.value.x === undefined ? 0 : d.value.x.p.length);
        continue;
      }
      visit(owner, qseq, scanned.m, scanned.p, scanned.s, scanned.bytes);
    }
    for (const { key, value } of this.dbs.inbound.getRange()) {
      const problem = checkInbound(value);
      if (!clientNumberKey(key) || key[1] < 1 || key[1] > 0xffff) bad.push({ ks: 'inbound', key, raw: value, reason: 'key is not [client id, packet id]' });
      else if (problem !== undefined) bad.push({ ks: 'inbound', key, raw: value, reason: problem });
      else if (!owners.has(key[0])) bad.push({ ks: 'inbound', key, raw: value, reason: 'orphan: no session with this client id' });
    }
    this.quarantine(bad);
  }

  /**
   * Store.scanQueued: `clientId`'s committed entries with `after` < qseq ≤ `to`, in order, each
   * scanned in place for its message seq, packet id and state; one the scanner refuses is
   * decoded in full, and skipped when bad (readQueued, which a read back uses, quarantines it).
   */
  scanQueued(clientId: string, after: number, to: number, visit: (qseq: number, m: number, p: number, s: number) => void): void {
    const idKey = keyString(clientId);
    const queue = this.dbs.queue;
    this.root.resetReadTxn();
    this.queueScan ??= this.scanDb('queue', entryScan, queueKeyScan(queue as unknown as KeyCodec));
    for (const { key: qseq, value } of this.queueScan.getRange({ start: [idKey, after + 1], end: [idKey, to + 1] })) {
      if (qseq < 0 || scannedKey.id !== idKey) continue;
      if (value !== SCAN_REFUSED) {
        visit(qseq, scanned.m, scanned.p, scanned.s);
        continue;
      }
      const raw = queue.getBinary([idKey, qseq]);
      const d = raw === undefined ? undefined : decodeQueueEntry(raw);
      if (d?.ok === true) visit(qseq, d.value.x === undefined ? d.value.m : 0, d.value.p, d.value.s);
    }
  }

  /**
   * A second handle on keyspace `name` whose values `decoder` scans (see entryScan), and whose
   * keys `keys` reads when given (keyScan.ts: then every key comes as a number).
   */
  private scanDb(name: 'queue' | 'messages', decoder: typeof entryScan, keys?: KeyCodec): Database<number, number> {
    // lmdb-js takes `encoder` (its DatabaseOptions type does not declare it)
    const options = { encoding: 'binary' as const, compression: false, cache: false, encoder: decoder, ...(keys === undefined ? {} : { keyEncoder: keys }) };
    return this.root.openDB<number, number>(name, options);
  }

  /** Store.sessionOwner */
  sessionOwner(clientId: string): number | undefined {
    const raw = this.dbs.sessions.getBinary(keyString(clientId));
    if (raw === undefined) return undefined;
    const d = decodeSession(raw);
    return d.ok && d.value.clientId === clientId ? d.value.meta.owner : undefined;
  }

  /** Store.countSessions */
  countSessions(): { sessions: number; queued: number } {
    const dbs = this.dbs;
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
    for (const { key, value } of this.dbs.sessions.getRange()) {
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

  /**
   * `windowed` (a worker's load): entries already sent (packet id and state set) are read in
   * full; queued ones stay on disk, summed up in LoadedSession.disk (the session reads them back
   * in order as its client takes them).
   */
  private readQueues(queue: Iterable<{ key: Key; value: Buffer }>, inbound: Iterable<{ key: Key; value: Buffer }>, sessions: Map<string, LoadedSession>, bad: BadRecord[], windowed = false): void {
    for (const { key, value } of queue) {
      const owner = clientNumberKey(key) ? sessions.get(key[0]) : undefined;
      const d = decodeQueueEntry(value);
      if (!clientNumberKey(key)) bad.push({ ks: 'queue', key, raw: value, reason: 'key is not [client id, qseq]' });
      else if (!d.ok) bad.push({ ks: 'queue', key, raw: value, reason: d.reason });
      else if (owner === undefined) bad.push({ ks: 'queue', key, raw: value, reason: 'orphan: no session with this client id' });
      else if (!windowed || (d.value.p !== 0 && d.value.s !== 0)) owner.queue.push({ qseq: key[1], entry: d.value });
      else {
        const disk = (owner.disk ??= { after: key[1] - 1, last: 0, count: 0, bytes: 0, refs: [] });
        disk.last = key[1];
        disk.count++;
        const e = d.value;
        if (e.x !== undefined) disk.bytes += e.x.p.length;
        else {
          disk.refs.push(e.m);
          disk.bytes += this.messageBytes(e.m);
        }
      }
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

  /** Store.getQueued */
  getQueued(clientId: string, qseq: number): QueueEntry | undefined {
    const raw = this.dbs.queue.getBinary([keyString(clientId), qseq]);
    const d = raw === undefined ? undefined : decodeQueueEntry(raw);
    return d?.ok === true ? d.value : undefined;
  }

  /** Store.readQueued */
  readQueued(clientId: string, after: number, limit: number): { qseq: number; entry: QueueEntry; raw: Uint8Array }[] {
    const idKey = keyString(clientId);
    const out: { qseq: number; entry: QueueEntry; raw: Uint8Array }[] = [];
    const bad: BadRecord[] = [];
    // a fresh snapshot: entries committed by this turn's commits (or another thread's) must be seen
    this.root.resetReadTxn();
    for (const { key, value } of this.dbs.queue.getRange({ start: [idKey, after + 1], end: [idKey, '\uffff'], limit })) {
      const d = decodeQueueEntry(value);
      if (!clientNumberKey(key)) bad.push({ ks: 'queue', key, raw: value, reason: 'key is not [client id, qseq]' });
      else if (!d.ok) bad.push({ ks: 'queue', key, raw: value, reason: d.reason });
      else out.push({ qseq: key[1], entry: d.value, raw: value });
    }
    if (bad.length > 0) this.quarantine(bad);
    return out;
  }

  /** payload bytes of log message `seq` (read once per load: sizes, by seq) */
  private messageBytes(seq: number): number {
    let n = this.sizes.get(seq);
    if (n === undefined) {
      n = this.getMessage(seq)?.p.length ?? 0;
      this.sizes.set(seq, n);
    }
    return n;
  }

  /** Store.getMessage */
  getMessage(seq: number): MessageRecord | undefined {
    const raw = this.dbs.messages.getBinary(seq);
    if (raw === undefined) return undefined;
    const d = decodeMessage(raw);
    if (d.ok) return d.value;
    this.quarantine([{ ks: 'messages', key: seq, raw, reason: d.reason }]);
    return undefined;
  }

  /** Store.messageSeqs */
  messageSeqs(): number[] {
    const bad: BadRecord[] = [];
    const out: number[] = [];
    const messages = this.dbs.messages;
    for (const key of messages.getKeys()) {
      if (isSeq(key)) out.push(key);
      else bad.push({ ks: 'messages', key, raw: messages.getBinary(key) ?? Buffer.alloc(0), reason: 'key is not a message seq' });
    }
    this.quarantine(bad);
    return out;
  }

  /** Store.loadMessages */
  loadMessages(): Map<number, MessageRecord> {
    const bad: BadRecord[] = [];
    const out = new Map<number, MessageRecord>();
    for (const { key, value } of this.dbs.messages.getRange()) {
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

  /** Store.loadRetained */
  loadRetained(): MessageRecord[] {
    const bad: BadRecord[] = [];
    const out: MessageRecord[] = [];
    for (const { key, value } of this.dbs.retained.getRange()) {
      const d = decodeRetained(value);
      if (typeof key !== 'string') bad.push({ ks: 'retained', key, raw: value, reason: 'key is not a topic' });
      else if (!d.ok) bad.push({ ks: 'retained', key, raw: value, reason: d.reason });
      else if (keyString(d.value.t) !== key) bad.push({ ks: 'retained', key, raw: value, reason: `key does not match topic ${JSON.stringify(utf8Prefix(d.value.t, 100))}` });
      else out.push(d.value);
    }
    this.quarantine(bad);
    return out;
  }

  /** Store.maxMessageSeq */
  maxMessageSeq(): number {
    for (const key of this.dbs.messages.getKeys({ reverse: true })) {
      if (isSeq(key)) return key; // returning ends the iterator (and its read transaction)
    }
    return 0;
  }

  private quarantine(bad: BadRecord[]): void {
    moveToQuarantine(this.root, this.dbs, this.path, this.log, bad);
  }
}

/** A typed array twice as long as `a`, starting with `a`'s values. */
export function doubled<A extends Float64Array | Int32Array | Uint8Array>(a: A): A {
  const b = new (a.constructor as new (length: number) => A)(a.length * 2);
  b.set(a as ArrayLike<number>);
  return b;
}

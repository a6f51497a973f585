/**
 * Value formats of the store's keyspaces (see FORMAT.md): each value is one version byte, then a
 * msgpackr body (plain maps: `useRecords: false`, so no shared structures between threads or
 * processes) or nothing. Decoding checks the version byte and the shape of the body and returns
 * a reason instead of throwing, so that the loader can move a bad record aside.
 * Invariants: `decodeX(encodeX(v))` is deep-equal to v (user-property pairs keep their order,
 * byte fields come back as Buffers that own their memory); a decoder never throws.
 * Pure; called from: worker | main
 */
import { Packr } from 'msgpackr';
import type { MessageRecord } from '../records/message.ts';
import type { CleanStopMark, QueueEntry, RefTally, SessionMeta } from '../records/stored.ts';

/** Current version byte of each keyspace's values. A value with another first byte is quarantined at load. */
export const VERSION = {
  messages: 1,
  /** 2: an entry may carry its message inline (`x`, with m = 0); 1 is still read */
  queue: 2,
  sessions: 1,
  inbound: 1,
  retained: 1,
  quarantine: 1,
  meta: 1,
  /** meta `['refs', worker]` (encodeRefTally); 1 (seq, count pairs) is still read */
  refTally: 2,
} as const;

/** Version of the store as a whole (meta keyspace, key 'format'); a newer one refuses to open. */
export const STORE_FORMAT = 1;

/** A record moved aside at load. */
export interface QuarantineRecord {
  /** keyspace the record came from */
  ks: string;
  /** the original key, ordered-binary bytes */
  key: Uint8Array;
  /** the original value, as found */
  raw: Uint8Array;
  reason: string;
  /** ms since the epoch */
  at: number;
}

/** meta 'format': the store's format version, written once when the store is created. */
export interface FormatRecord {
  format: number;
  created: number;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Plain maps, no shared structures. Decoded byte fields are views of the value given to decode():
 * the store hands it only values that are copies already (lmdb-js `getBinary`, and `getRange` with
 * `encoding: 'binary'`, copy out of the map), never views of LMDB's memory.
 */
const packr = new Packr({ useRecords: false });

function encode(version: number, body: unknown): Buffer {
  const packed = packr.pack(body);
  const out = Buffer.allocUnsafe(packed.length + 1);
  out[0] = version;
  out.set(packed, 1);
  return out;
}

function decode<T>(raw: Uint8Array, version: number, check: (v: Record<string, unknown>) => string | undefined): Decoded<T> {
  if (raw.length === 0) return { ok: false, reason: 'empty value' };
  if (raw[0] !== version) return { ok: false, reason: `unknown version byte ${raw[0]} (expected ${version})` };
  let body: unknown;
  try {
    body = packr.unpack(raw, { start: 1, end: raw.length });
  } catch (err) {
    return { ok: false, reason: `undecodable msgpack: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, reason: `not a map: ${typeof body}` };
  const problem = check(body as Record<string, unknown>);
  return problem === undefined ? { ok: true, value: body as T } : { ok: false, reason: problem };
}

// ---- shape checks: each returns undefined when fine, else what is wrong

const isQos = (v: unknown): boolean => v === 0 || v === 1 || v === 2;
const isUint = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isOptString = (v: unknown): boolean => v === undefined || typeof v === 'string';

function checkProps(pr: unknown, up: unknown): string | undefined {
  if (pr !== undefined && (typeof pr !== 'object' || pr === null || Array.isArray(pr))) return 'pr is not a map';
  if (up !== undefined) {
    if (!Array.isArray(up)) return 'up is not an array';
    for (const pair of up) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') return 'up holds a bad pair';
    }
  }
  return undefined;
}

function checkMessage(v: Record<string, unknown>): string | undefined {
  if (typeof v.t !== 'string') return 't (topic) is not a string';
  if (!(v.p instanceof Uint8Array)) return 'p (payload) is not bytes';
  if (!isQos(v.q)) return 'q is not a QoS';
  if (typeof v.r !== 'boolean') return 'r is not a boolean';
  if (typeof v.x !== 'number') return 'x (expiry) is not a number';
  if (typeof v.o !== 'string') return 'o (origin) is not a string';
  if (typeof v.s !== 'number') return 's (stamp) is not a number';
  if (v.so !== undefined && v.so !== null) {
    const so = v.so as Record<string, unknown>;
    if (typeof so !== 'object' || Array.isArray(so) || !isOptString(so.u) || !(so.l === undefined || so.l === null || isUint(so.l))) return 'so (source) is malformed';
  }
  return checkProps(v.pr, v.up);
}

/** Version 1 entries always refer to the log; version 2 ones may carry their message inline (m = 0, x). */
function checkQueueEntryV1(v: Record<string, unknown>): string | undefined {
  if (v.x !== undefined) return 'x (inline message) in a version 1 entry';
  return checkQueueEntry(v);
}

function checkQueueEntry(v: Record<string, unknown>): string | undefined {
  if (!isUint(v.m)) return 'm (message seq) is not a non-negative integer';
  if (v.x === undefined ? v.m === 0 : v.m !== 0) return 'an entry needs exactly one of m (message seq) and x (inline message)';
  if (v.x !== undefined) {
    if (typeof v.x !== 'object' || v.x === null || Array.isArray(v.x)) return 'x (inline message) is not a map';
    const problem = checkMessage(v.x as Record<string, unknown>);
    if (problem !== undefined) return `x (inline message): ${problem}`;
  }
  if (!isQos(v.q)) return 'q is not a QoS';
  if (typeof v.r !== 'boolean') return 'r is not a boolean';
  if (v.i !== undefined && !(Array.isArray(v.i) && v.i.every(isUint))) return 'i is not a list of subscription ids';
  if (!isUint(v.p) || (v.p as number) > 0xffff) return 'p is not a packet id';
  if (v.s !== 0 && v.s !== 1 && v.s !== 2 && v.s !== 3) return 's is not an outbound state';
  return undefined;
}

function checkSubscription(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null) return 'a subscription is not a map';
  const { f, o } = x as { f?: Record<string, unknown>; o?: Record<string, unknown> };
  if (typeof f !== 'object' || f === null || typeof f.raw !== 'string' || typeof f.filter !== 'string' || !isOptString(f.group)) return 'a subscription filter is malformed';
  if (typeof o !== 'object' || o === null || !isQos(o.qos) || typeof o.noLocal !== 'boolean' || typeof o.retainAsPublished !== 'boolean' || !isQos(o.retainHandling) || !isUint(o.subscriptionId)) {
    return `subscription options of ${f.raw} are malformed`;
  }
  return undefined;
}

function checkWill(w: unknown): string | undefined {
  if (w === undefined) return undefined;
  if (typeof w !== 'object' || w === null) return 'will is not a map';
  const v = w as Record<string, unknown>;
  if (typeof v.topic !== 'string' || !(v.payload instanceof Uint8Array) || !isQos(v.qos) || typeof v.retain !== 'boolean' || typeof v.delay !== 'number' || typeof v.clientId !== 'string' || !isOptString(v.username) || !(v.listenerIndex === undefined || v.listenerIndex === null || isUint(v.listenerIndex))) {
    return 'will is malformed';
  }
  return checkProps(v.pr, v.up);
}

function checkSession(v: Record<string, unknown>): string | undefined {
  if (typeof v.id !== 'string') return 'id is not a string';
  if (!isUint(v.owner)) return 'owner is not a worker index';
  if (!isOptString(v.user)) return 'user is not a string';
  if (v.l !== undefined && v.l !== null && !isUint(v.l)) return 'l is not a listener index';
  if (!isUint(v.expiry)) return 'expiry is not a number of seconds';
  if (typeof v.expiresAt !== 'number') return 'expiresAt is not a number';
  if (!Array.isArray(v.subs)) return 'subs is not an array';
  for (const s of v.subs) {
    const problem = checkSubscription(s);
    if (problem !== undefined) return problem;
  }
  if (!isUint(v.lastId) || (v.lastId as number) > 0xffff) return 'lastId is not a packet id';
  if (v.q !== undefined && v.q !== null) {
    const q = v.q as Record<string, unknown>;
    if (typeof q !== 'object' || !isUint(q.r) || !isUint(q.a) || !isUint(q.l) || !isUint(q.c) || !isUint(q.b) || !Array.isArray(q.s) || !q.s.every(isUint)) return 'q is not a queue tally';
  }
  return checkWill(v.will);
}

function checkQuarantine(v: Record<string, unknown>): string | undefined {
  if (typeof v.ks !== 'string' || !(v.key instanceof Uint8Array) || !(v.raw instanceof Uint8Array) || typeof v.reason !== 'string' || typeof v.at !== 'number') return 'malformed quarantine record';
  return undefined;
}

// ---- the keyspaces

/** `messages` values: version byte + MessageRecord. */
export function encodeMessage(m: MessageRecord): Buffer {
  return encode(VERSION.messages, m);
}
export function decodeMessage(raw: Uint8Array): Decoded<MessageRecord> {
  return decode<MessageRecord>(raw, VERSION.messages, checkMessage);
}

/** `retained` values: version byte + MessageRecord (versioned apart from `messages`). */
export function encodeRetained(m: MessageRecord): Buffer {
  return encode(VERSION.retained, m);
}
export function decodeRetained(raw: Uint8Array): Decoded<MessageRecord> {
  return decode<MessageRecord>(raw, VERSION.retained, checkMessage);
}

/** `queue` values: version byte + QueueEntry. */
export function encodeQueueEntry(e: QueueEntry): Buffer {
  return encode(VERSION.queue, e);
}
/** msgpack of `p: 0, s: 0`, the end of every entry written before it is sent (encodeQueueEntry keeps key order) */
const UNSENT_TAIL = [0xa1, 0x70, 0x00, 0xa1, 0x73, 0x00];

/**
 * The stored entry `raw` (current version, not sent yet: ending in `p: 0, s: 0`) with packet id
 * `packetId` and state `state` instead: the bytes before the tail are kept as they are, so a
 * read-back entry is not encoded again with its message when it is sent. Undefined when `raw`
 * does not end that way (then encode the entry).
 */
export function queueEntrySent(raw: Uint8Array, packetId: number, state: number): Buffer | undefined {
  const cut = raw.length - UNSENT_TAIL.length;
  if (cut < 2 || raw[0] !== VERSION.queue || packetId < 1 || packetId > 0xffff || state < 0 || state > 0x7f) return undefined;
  for (let i = 0; i < UNSENT_TAIL.length; i++) if (raw[cut + i] !== UNSENT_TAIL[i]) return undefined;
  // msgpack uint: positive fixint below 0x80, else uint8 (0xcc) or uint16 (0xcd)
  const idBytes = packetId < 0x80 ? 1 : packetId <= 0xff ? 2 : 3;
  const out = Buffer.allocUnsafe(cut + 5 + idBytes);
  out.set(raw.subarray(0, cut), 0);
  let at = cut;
  out[at++] = 0xa1;
  out[at++] = 0x70;
  if (idBytes === 3) {
    out[at++] = 0xcd;
    out[at++] = packetId >> 8;
  } else if (idBytes === 2) out[at++] = 0xcc;
  out[at++] = packetId & 0xff;
  out[at++] = 0xa1;
  out[at++] = 0x73;
  out[at] = state;
  return out;
}
export function decodeQueueEntry(raw: Uint8Array): Decoded<QueueEntry> {
  if (raw.length > 0 && raw[0] === 1) return decode<QueueEntry>(raw, 1, checkQueueEntryV1);
  return decode<QueueEntry>(raw, VERSION.queue, checkQueueEntry);
}

/** `sessions` values: version byte + SessionMeta with the full client id as `id` (keys may be hashed). */
export function encodeSession(clientId: string, meta: SessionMeta): Buffer {
  return encode(VERSION.sessions, { id: clientId, ...meta });
}
export function decodeSession(raw: Uint8Array): Decoded<{ clientId: string; meta: SessionMeta }> {
  const d = decode<SessionMeta & { id: string }>(raw, VERSION.sessions, checkSession);
  if (!d.ok) return d;
  const { id, ...meta } = d.value;
  return { ok: true, value: { clientId: id, meta } };
}

/** `inbound` values: the version byte alone. */
const INBOUND_MARKER = Buffer.from([VERSION.inbound]);
export function encodeInbound(): Buffer {
  return INBOUND_MARKER;
}
export function checkInbound(raw: Uint8Array): string | undefined {
  if (raw.length === 0) return 'empty value';
  if (raw[0] !== VERSION.inbound) return `unknown version byte ${raw[0]} (expected ${VERSION.inbound})`;
  if (raw.length !== 1) return `inbound marker of ${raw.length} bytes (expected 1)`;
  return undefined;
}

export function encodeQuarantine(q: QuarantineRecord): Buffer {
  return encode(VERSION.quarantine, q);
}
export function decodeQuarantine(raw: Uint8Array): Decoded<QuarantineRecord> {
  return decode<QuarantineRecord>(raw, VERSION.quarantine, checkQuarantine);
}

/** Any other `meta` value ('opened', 'probe'): version byte + a small map. */
export function encodeMetaRecord(body: Record<string, string | number>): Buffer {
  return encode(VERSION.meta, body);
}

/** meta `['clean', worker]`: version byte + CleanStopMark. */
export function encodeCleanStopMark(mark: CleanStopMark): Buffer {
  return encode(VERSION.meta, mark);
}
export function decodeCleanStopMark(raw: Uint8Array): Decoded<CleanStopMark> {
  return decode<CleanStopMark>(raw, VERSION.meta, (v) =>
    isUint(v.run) && isUint(v.workers) && isUint(v.sessions) && isUint(v.entries) && isUint(v.messages) ? undefined : 'malformed clean-stop mark');
}

/**
 * meta `['refs', worker]`: a 16-byte header (version byte VERSION.refTally, 7 zero bytes, the run
 * as a float64), then the n seqs, then their n counts (float64 little-endian, seqs ascending,
 * counts of 0 left out). Each block is copied whole, not number by number: a tally of 10,000,000
 * messages is 160 MB, written at every clean stop and read at every start.
 */
export function encodeRefTally(run: number, tally: RefTally): Buffer {
  let { seqs, counts } = tally;
  let n = 0;
  for (let i = 0; i < counts.length; i++) if (counts[i]! > 0) n++;
  if (n < seqs.length) {
    const kept = { seqs: new Float64Array(n), counts: new Float64Array(n) };
    for (let i = 0, at = 0; i < seqs.length; i++) {
      if (!(counts[i]! > 0)) continue;
      kept.seqs[at] = seqs[i]!;
      kept.counts[at++] = counts[i]!;
    }
    ({ seqs, counts } = kept);
  }
  const out = Buffer.allocUnsafeSlow(REF_TALLY_HEADER + n * 16);
  out.fill(0, 0, REF_TALLY_HEADER);
  out[0] = VERSION.refTally;
  out.writeDoubleLE(run, 8);
  const body = new Uint8Array(out.buffer, out.byteOffset + REF_TALLY_HEADER, n * 16);
  body.set(new Uint8Array(seqs.buffer, seqs.byteOffset, n * 8));
  body.set(new Uint8Array(counts.buffer, counts.byteOffset, n * 8), n * 8);
  if (!LITTLE_ENDIAN) swapBytes8(body);
  return out;
}

/**
 * The tally in `raw`, which the caller hands over: where its body is 8-aligned, the arrays are
 * views of it (no copy of the 160 MB a 10,000,000-message tally weighs), else of one aligned copy.
 */
export function decodeRefTally(raw: Uint8Array): Decoded<{ run: number; tally: RefTally }> {
  if (raw[0] === 1) return decodePairTally(raw);
  if (raw.length < REF_TALLY_HEADER || (raw.length - REF_TALLY_HEADER) % 16 !== 0) return { ok: false, reason: `reference tally of ${raw.length} bytes` };
  if (raw[0] !== VERSION.refTally) return { ok: false, reason: `unknown version byte ${raw[0]} (expected ${VERSION.refTally})` };
  const n = (raw.length - REF_TALLY_HEADER) / 16;
  let body: Uint8Array = raw.subarray(REF_TALLY_HEADER);
  if (!LITTLE_ENDIAN || body.byteOffset % 8 !== 0) {
    body = new Uint8Array(n * 16);
    body.set(raw.subarray(REF_TALLY_HEADER));
    if (!LITTLE_ENDIAN) swapBytes8(body);
  }
  const seqs = new Float64Array(body.buffer, body.byteOffset, n);
  const counts = new Float64Array(body.buffer, body.byteOffset + n * 8, n);
  const bad = firstBadPair(seqs, counts);
  if (bad >= 0) return { ok: false, reason: `reference tally: bad pair ${bad}` };
  return { ok: true, value: { run: new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getFloat64(8, true), tally: { seqs, counts } } };
}

const REF_TALLY_HEADER = 16;

/** Version 1 of the tally (an earlier culex's clean stop): version byte, the run, then (seq, count) pairs. */
function decodePairTally(raw: Uint8Array): Decoded<{ run: number; tally: RefTally }> {
  if (raw.length < 9 || (raw.length - 9) % 16 !== 0) return { ok: false, reason: `reference tally of ${raw.length} bytes` };
  const n = (raw.length - 9) / 16;
  const pairs = new Float64Array(n * 2);
  new Uint8Array(pairs.buffer).set(raw.subarray(9));
  if (!LITTLE_ENDIAN) swapBytes8(new Uint8Array(pairs.buffer));
  const seqs = new Float64Array(n);
  const counts = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    seqs[i] = pairs[2 * i]!;
    counts[i] = pairs[2 * i + 1]!;
  }
  const bad = firstBadPair(seqs, counts);
  if (bad >= 0) return { ok: false, reason: `reference tally: bad pair ${bad}` };
  return { ok: true, value: { run: new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getFloat64(1, true), tally: { seqs, counts } } };
}

/** Index of the first pair that is not (safe integer seq above the one before, safe integer count ≥ 1), or -1. */
function firstBadPair(seqs: Float64Array, counts: Float64Array): number {
  let last = 0;
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i]!;
    const count = counts[i]!;
    // written out rather than Number.isSafeInteger: this loop runs once per start over millions of pairs
    if (!(seq > last && seq <= Number.MAX_SAFE_INTEGER && Math.floor(seq) === seq && count >= 1 && count <= Number.MAX_SAFE_INTEGER && Math.floor(count) === count)) return i;
    last = seq;
  }
  return -1;
}

/** Whether this machine stores a Float64Array's numbers little-endian (as the reference tally's are). */
const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

/** Reverses the bytes of each 8-byte number in `bytes` (little-endian ↔ big-endian). */
function swapBytes8(bytes: Uint8Array): void {
  for (let at = 0; at + 8 <= bytes.length; at += 8) bytes.subarray(at, at + 8).reverse();
}

export function encodeFormat(f: FormatRecord): Buffer {
  return encode(VERSION.meta, f);
}
export function decodeFormat(raw: Uint8Array): Decoded<FormatRecord> {
  return decode<FormatRecord>(raw, VERSION.meta, (v) => (isUint(v.format) && typeof v.created === 'number' ? undefined : 'malformed format record'));
}

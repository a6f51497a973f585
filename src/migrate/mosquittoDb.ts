/**
 * Reader of Mosquitto's persistence file (`mosquitto.db`), as written by Mosquitto 1.4–2.0
 * (eclipse/mosquitto src/persist_write*.c, read back by persist_read*.c, layouts in persist.h).
 *
 * File: the 15-byte magic `00 B5 00 "mosquitto db"`, a 4-byte CRC (always written as 0 and never
 * checked by Mosquitto: read, not checked), the database version (4 bytes, big endian), then
 * chunks. Versions 5 and 6 (Mosquitto 1.6 / 2.0) frame a chunk as type u32 + length u32 (big
 * endian) and its body is a fixed C struct (PF_* in persist.h, natural alignment and padding)
 * followed by strings, payload and a v5 property section; versions 2–4 (Mosquitto 1.4/1.5)
 * frame it as type u16 + length u32 with field-by-field bodies. Lengths and small counters are
 * big endian; the 64-bit store ids, expiry times and `last_db_id` are written in host order:
 * read as little endian (every machine Mosquitto 2 ships for: x86-64, arm64).
 *
 * Invariant: readMosquittoDb() either returns every chunk of the file or throws a
 * MosquittoDbError naming the file and what is wrong with it. As in Mosquitto, a known chunk is
 * read field by field (its length only bounds the v5 property section), and an unknown chunk
 * type is skipped by its length and counted.
 * Pure (apart from the values it returns); called from: main (culex import-mosquitto), tests
 */
import { PropertyKind, readProperties } from '../protocol/properties.ts';
import type { Properties } from '../protocol/properties.ts';
import { MOSQUITTO_DB_MAGIC } from '../persistence/mosquittoFile.ts';

/** The database versions this reader understands (Mosquitto 1.4: 2, 1.5: 3/4, 1.6: 5, 2.0: 6). */
export const READABLE_DB_VERSIONS: readonly number[] = [2, 3, 4, 5, 6];

const CHUNK = { Cfg: 1, MsgStore: 2, ClientMsg: 3, Retain: 4, Sub: 5, Client: 6 } as const;

/** Mosquitto's `enum mosquitto_msg_direction`. */
export const Direction = { In: 0, Out: 1 } as const;

/** Mosquitto's `enum mosquitto_msg_state` (lib/mosquitto_internal.h). */
export const MsgState = {
  Invalid: 0,
  PublishQos0: 1,
  PublishQos1: 2,
  WaitForPuback: 3,
  PublishQos2: 4,
  WaitForPubrec: 5,
  ResendPubrel: 6,
  WaitForPubrel: 7,
  ResendPubcomp: 8,
  WaitForPubcomp: 9,
  SendPubrec: 10,
  Queued: 11,
} as const;

/** Why a file cannot be read. */
export type MosquittoDbErrorCode = 'MOSQ_DB_MAGIC' | 'MOSQ_DB_VERSION' | 'MOSQ_DB_CORRUPT';

export class MosquittoDbError extends Error {
  readonly code: MosquittoDbErrorCode;
  constructor(code: MosquittoDbErrorCode, message: string) {
    super(message);
    this.name = 'MosquittoDbError';
    this.code = code;
  }
}

/** A DB_CHUNK_MSG_STORE: one message, referred to by client messages and retained entries. */
export interface MosquittoMessage {
  readonly storeId: bigint;
  /** absolute expiry, seconds since the epoch; 0 = none (the Message Expiry Interval is not in `properties`) */
  readonly expiryTime: number;
  readonly sourceId: string;
  readonly sourceUsername: string | undefined;
  /** port of the listener the source came in through (version 4 on); 0 = not known */
  readonly sourcePort: number;
  readonly topic: string;
  /** a view of the file's buffer */
  readonly payload: Buffer;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  /** v5 PUBLISH properties in mqtt-packet's shape (Binary values are views of the file's buffer) */
  readonly properties: Properties | undefined;
}

/** A DB_CHUNK_CLIENT: a persistent session. */
export interface MosquittoClient {
  readonly clientId: string;
  readonly username: string | undefined;
  /** seconds since the epoch when the session expires (set when the client went offline); 0 = not set */
  readonly sessionExpiryTime: number;
  /** seconds; 0xffffffff = never. Versions 2–4 did not store it: never */
  readonly sessionExpiryInterval: number;
  readonly lastMid: number;
  readonly listenerPort: number;
}

/** A DB_CHUNK_CLIENT_MSG: one message in a session's inflight or queued list, in list order. */
export interface MosquittoClientMessage {
  readonly clientId: string;
  readonly storeId: bigint;
  readonly mid: number;
  readonly qos: 0 | 1 | 2;
  /** a MsgState value */
  readonly state: number;
  readonly retain: boolean;
  readonly dup: boolean;
  /** a Direction value */
  readonly direction: number;
  /** per-delivery properties (subscription identifiers) */
  readonly properties: Properties | undefined;
}

/** A DB_CHUNK_SUB: one subscription of a persistent session (shared subscriptions are not saved by Mosquitto 2.0). */
export interface MosquittoSubscription {
  readonly clientId: string;
  readonly topic: string;
  readonly qos: 0 | 1 | 2;
  /** Subscription Identifier, 0 = none */
  readonly identifier: number;
  readonly noLocal: boolean;
  readonly retainAsPublished: boolean;
}

/** Everything in one file, chunks in file order. */
export interface MosquittoDb {
  readonly version: number;
  /** DB_CHUNK_CFG: the file was written at a clean shutdown */
  readonly shutdown: boolean;
  readonly messages: Map<bigint, MosquittoMessage>;
  readonly clients: MosquittoClient[];
  readonly clientMessages: MosquittoClientMessage[];
  /** store ids of retained messages */
  readonly retained: bigint[];
  readonly subscriptions: MosquittoSubscription[];
  /** chunks of a type this reader does not know, skipped */
  readonly unknownChunks: number;
}

const NEVER = 0xffffffff;

/** Reads the fields of one chunk, from its start; running past `end` (the file's) throws MOSQ_DB_CORRUPT. */
class ChunkReader {
  pos: number;
  private readonly buf: Buffer;
  private readonly end: number;
  private readonly what: () => string;
  constructor(buf: Buffer, pos: number, end: number, what: () => string) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.what = what;
  }
  private need(n: number): number {
    if (this.pos + n > this.end) throw new MosquittoDbError('MOSQ_DB_CORRUPT', `${this.what()}: ends ${this.pos + n - this.end} byte(s) early`);
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u8(): number { return this.buf[this.need(1)]!; }
  u16(): number { return this.buf.readUInt16BE(this.need(2)); }
  u32(): number { return this.buf.readUInt32BE(this.need(4)); }
  /** a host-order (little endian) 64-bit id */
  id64(): bigint { return this.buf.readBigUInt64LE(this.need(8)); }
  /** a host-order (little endian) signed 64-bit time, as a number */
  time64(): number { return Number(this.buf.readBigInt64LE(this.need(8))); }
  skip(n: number): void { this.need(n); }
  bytes(n: number): Buffer { const at = this.need(n); return this.buf.subarray(at, at + n); }
  text(n: number): string { return this.bytes(n).toString('utf8'); }
  /** a u16 length, then that many bytes (versions 2–4) */
  lengthText(): string { return this.text(this.u16()); }
  /**
   * The v5 property section (length varint + properties) that fills the rest of a chunk of
   * `chunkLength` bytes starting at `chunkStart`, if any (persist_read_v5.c: what the fixed part
   * and the strings leave of the chunk's length).
   */
  properties(chunkStart: number, chunkLength: number): Properties | undefined {
    const left = chunkStart + chunkLength - this.pos;
    if (left < 0) throw new MosquittoDbError('MOSQ_DB_CORRUPT', `${this.what()}: its length ${chunkLength} is shorter than its fields`);
    if (left === 0) return undefined;
    const at = this.need(left);
    try {
      return readProperties(this.buf, at, at + left, PropertyKind.Publish);
    } catch (err) {
      throw new MosquittoDbError('MOSQ_DB_CORRUPT', `${this.what()}: bad property section (${(err as Error).message})`);
    }
  }
}

const qosOf = (q: number, what: () => string): 0 | 1 | 2 => {
  if (q === 0 || q === 1 || q === 2) return q;
  throw new MosquittoDbError('MOSQ_DB_CORRUPT', `${what()}: QoS ${q}`);
};

/**
 * Parses a whole persistence file held in `buf`; `file` names it in errors.
 * @throws MosquittoDbError MOSQ_DB_MAGIC (not a Mosquitto persistence file), MOSQ_DB_VERSION (a
 *   version this reader does not know), MOSQ_DB_CORRUPT (truncated or inconsistent)
 */
export function readMosquittoDb(buf: Buffer, file: string): MosquittoDb {
  if (buf.length === 0) throw new MosquittoDbError('MOSQ_DB_MAGIC', `${file} is empty (Mosquitto had nothing to save): nothing to import`);
  if (buf.length < 23 || !buf.subarray(0, 15).equals(MOSQUITTO_DB_MAGIC)) {
    throw new MosquittoDbError('MOSQ_DB_MAGIC', `${file} is not a Mosquitto persistence file (it does not start with Mosquitto's header "\\0\\xb5\\0mosquitto db")`);
  }
  // buf[15..19): the CRC, always 0 and never checked by Mosquitto
  const version = buf.readUInt32BE(19);
  if (!READABLE_DB_VERSIONS.includes(version)) {
    throw new MosquittoDbError('MOSQ_DB_VERSION', `${file} is a Mosquitto persistence file of version ${version}; culex reads versions ${READABLE_DB_VERSIONS.join(', ')} (Mosquitto 1.4 to 2.0)`);
  }
  const v56 = version >= 5;
  const db = { version, shutdown: false, messages: new Map(), clients: [], clientMessages: [], retained: [], subscriptions: [], unknownChunks: 0 } as {
    -readonly [K in keyof MosquittoDb]: MosquittoDb[K];
  };
  let pos = 23;
  let index = 0;
  const headerSize = v56 ? 8 : 6;
  while (pos < buf.length) {
    index++;
    if (pos + headerSize > buf.length) break; // as Mosquitto: the chunks end where no whole header is left
    const type = v56 ? buf.readUInt32BE(pos) : buf.readUInt16BE(pos);
    const length = buf.readUInt32BE(pos + (v56 ? 4 : 2));
    const start = pos + headerSize;
    const at = pos;
    const what = () => `${file}: chunk ${index} (type ${type}) at byte ${at}`;
    // as Mosquitto: a known chunk is read field by field (its length decides only where v5
    // properties end), an unknown one is skipped by its length
    const r = new ChunkReader(buf, start, buf.length, what);
    switch (type) {
      case CHUNK.Cfg:
        db.shutdown = readCfg(r, v56, what);
        break;
      case CHUNK.MsgStore: {
        const m = v56 ? readMsgStore56(r, what, start, length) : readMsgStore234(r, version, what);
        db.messages.set(m.storeId, m);
        break;
      }
      case CHUNK.ClientMsg:
        db.clientMessages.push(v56 ? readClientMsg56(r, what, start, length) : readClientMsg234(r, what));
        break;
      case CHUNK.Retain:
        db.retained.push(r.id64());
        break;
      case CHUNK.Sub:
        db.subscriptions.push(v56 ? readSub56(r, what) : readSub234(r, what));
        break;
      case CHUNK.Client: {
        const c = v56 ? readClient56(r, version) : readClient234(r, version);
        if (c !== undefined) db.clients.push(c);
        break;
      }
      default:
        db.unknownChunks++; // Mosquitto: "Unsupported chunk ... Ignoring."
        if (start + length > buf.length) throw new MosquittoDbError('MOSQ_DB_CORRUPT', `${what()}: its length ${length} runs past the end of the file`);
        r.skip(length);
    }
    pos = r.pos;
  }
  return db;
}

/** PF_cfg: u64 last_db_id, u8 shutdown, u8 dbid_size (+6 padding) — v2–4: shutdown, dbid_size, last_db_id. */
function readCfg(r: ChunkReader, v56: boolean, what: () => string): boolean {
  let shutdown: number;
  let dbidSize: number;
  if (v56) {
    r.id64();
    shutdown = r.u8();
    dbidSize = r.u8();
    r.skip(6); // the struct's padding
  } else {
    shutdown = r.u8();
    dbidSize = r.u8();
    r.id64();
  }
  if (dbidSize !== 8) throw new MosquittoDbError('MOSQ_DB_CORRUPT', `${what()}: incompatible database configuration (dbid size is ${dbidSize} bytes, expected 8)`);
  return shutdown !== 0;
}

/** PF_msg_store (32 bytes), source id, source username, topic, payload, properties. */
function readMsgStore56(r: ChunkReader, what: () => string, start: number, length: number): MosquittoMessage {
  const storeId = r.id64();
  const expiryTime = r.time64();
  const payloadLen = r.u32();
  r.u16(); // source_mid
  const idLen = r.u16();
  const userLen = r.u16();
  const topicLen = r.u16();
  const sourcePort = r.u16();
  const qos = qosOf(r.u8(), what);
  const retain = r.u8() !== 0;
  const sourceId = r.text(idLen);
  const sourceUsername = userLen > 0 ? r.text(userLen) : undefined;
  const topic = r.text(topicLen);
  const payload = r.bytes(payloadLen);
  return { storeId, expiryTime, sourceId, sourceUsername, sourcePort, topic, payload, qos, retain, properties: r.properties(start, length) };
}

function readMsgStore234(r: ChunkReader, version: number, what: () => string): MosquittoMessage {
  const storeId = r.id64();
  const sourceId = r.lengthText();
  let sourceUsername: string | undefined;
  let sourcePort = 0;
  if (version === 4) {
    sourceUsername = r.lengthText() || undefined;
    sourcePort = r.u16();
  }
  r.u16(); // source_mid
  r.u16(); // mid (unused)
  const topic = r.lengthText();
  const qos = qosOf(r.u8(), what);
  const retain = r.u8() !== 0;
  const payload = r.bytes(r.u32());
  return { storeId, expiryTime: 0, sourceId, sourceUsername, sourcePort, topic, payload, qos, retain, properties: undefined };
}

/** PF_client_msg (16 bytes), client id, properties. */
function readClientMsg56(r: ChunkReader, what: () => string, start: number, length: number): MosquittoClientMessage {
  const storeId = r.id64();
  const mid = r.u16();
  const idLen = r.u16();
  const qos = qosOf(r.u8(), what);
  const state = r.u8();
  const retainDup = r.u8();
  const direction = r.u8();
  const clientId = r.text(idLen);
  return { clientId, storeId, mid, qos, state, retain: (retainDup & 0xf0) !== 0, dup: (retainDup & 0x0f) !== 0, direction, properties: r.properties(start, length) };
}

function readClientMsg234(r: ChunkReader, what: () => string): MosquittoClientMessage {
  const clientId = r.lengthText();
  const storeId = r.id64();
  const mid = r.u16();
  const qos = qosOf(r.u8(), what);
  const retain = r.u8() !== 0;
  const direction = r.u8();
  const state = r.u8();
  const dup = r.u8() !== 0;
  return { clientId, storeId, mid, qos, state, retain, dup, direction, properties: undefined };
}

/** PF_sub (12 bytes: u32 identifier, u16 id_len, u16 topic_len, u8 qos, u8 options, 2 padding), client id, topic. */
function readSub56(r: ChunkReader, what: () => string): MosquittoSubscription {
  const identifier = r.u32();
  const idLen = r.u16();
  const topicLen = r.u16();
  const qos = qosOf(r.u8(), what);
  const options = r.u8();
  r.skip(2);
  const clientId = r.text(idLen);
  const topic = r.text(topicLen);
  // persist_write.c: options = no_local << 2 | retain_as_published << 3
  return { clientId, topic, qos, identifier, noLocal: (options & 0x04) !== 0, retainAsPublished: (options & 0x08) !== 0 };
}

function readSub234(r: ChunkReader, what: () => string): MosquittoSubscription {
  const clientId = r.lengthText();
  const topic = r.lengthText();
  const qos = qosOf(r.u8(), what);
  return { clientId, topic, qos, identifier: 0, noLocal: false, retainAsPublished: false };
}

/**
 * PF_client (v6, 24 bytes: i64 session_expiry_time, u32 interval, u16 last_mid, u16 id_len,
 * u16 listener_port, u16 username_len, 4 padding) or PF_client_v5 (16 bytes), client id, username.
 * Undefined for an empty client id (Mosquitto skips it with a warning).
 */
function readClient56(r: ChunkReader, version: number): MosquittoClient | undefined {
  const sessionExpiryTime = r.time64();
  const sessionExpiryInterval = r.u32();
  const lastMid = r.u16();
  const idLen = r.u16();
  let listenerPort = 0;
  let userLen = 0;
  if (version === 6) {
    listenerPort = r.u16();
    userLen = r.u16();
    r.skip(4);
  }
  if (idLen === 0) return undefined;
  const clientId = r.text(idLen);
  const username = userLen > 0 ? r.text(userLen) : undefined;
  return { clientId, username, sessionExpiryTime, sessionExpiryInterval, lastMid, listenerPort };
}

/** v2–4: client id, u16 last_mid, (v3/4) time_t disconnect time; sessions of 1.x never expired. */
function readClient234(r: ChunkReader, version: number): MosquittoClient | undefined {
  const clientId = r.lengthText();
  const lastMid = r.u16();
  if (version !== 2) r.skip(8);
  if (clientId === '') return undefined;
  return { clientId, username: undefined, sessionExpiryTime: 0, sessionExpiryInterval: NEVER, lastMid, listenerPort: 0 };
}

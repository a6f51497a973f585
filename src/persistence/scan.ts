/**
 * A partial reader of stored values for start-up (format.ts, FORMAT.md): it walks the msgpack of
 * a queue entry or a message in place, picks what the start-up tally needs (message seq, packet
 * id, state, payload length) and skips the rest without creating a string, a Buffer or an object.
 * A full decode costs 4–7 µs per queue entry; this is the part of it start-up needs.
 * Invariant: the scanner accepts a value only when the full decoder (decodeQueueEntry,
 * decodeMessage) would accept it with the same fields: it checks the same shape, and refuses
 * (SCAN_REFUSED) anything it does not know (an unknown or repeated key, an extension type, a
 * 64-bit integer, bytes past the end); the caller then decodes the value fully, which quarantines
 * a bad one. It never throws.
 * Pure; called from: worker | main (load.ts, the start-up tally)
 */

/** What scanQueueEntry found (valid until the next scan). */
export interface ScannedEntry {
  /** message seq; 0 when the message is inline */
  m: number;
  /** packet id; 0 = not sent */
  p: number;
  /** outbound state 0–3 */
  s: number;
  /** payload bytes of the inline message (0 when it refers to the log) */
  bytes: number;
}

/** The scanners' answer when the value must be decoded in full (it may still be good). */
export const SCAN_REFUSED = -1;

/** The result of the last scanQueueEntry that did not refuse: one object, reused. */
export const scanned: ScannedEntry = { m: 0, p: 0, s: 0, bytes: 0 };

/** Nesting depth skip() follows before refusing (stored values nest 3 deep at most). */
const MAX_DEPTH = 16;

let buf: Uint8Array = new Uint8Array(0);
let pos = 0;
let end = 0;
const floatView = new DataView(new ArrayBuffer(8));

/**
 * Queue entry value `bytes[0, size)` (version byte first): fills `scanned` and returns 0, or
 * returns SCAN_REFUSED. `bytes` may be longer than the value (lmdb-js's shared read buffer).
 */
export function scanQueueEntry(bytes: Uint8Array, size: number): number {
  if (size < 2 || size > bytes.length) return SCAN_REFUSED;
  const version = bytes[0];
  if (version !== 1 && version !== 2) return SCAN_REFUSED;
  buf = bytes;
  pos = 1;
  end = size;
  const n = mapLength();
  if (n < 0) return SCAN_REFUSED;
  let m = -1;
  let p = -1;
  let s = -1;
  let q = -1;
  let r = -1;
  let inline = -1; // payload bytes of x, -1 while absent
  let seen = 0;
  for (let k = 0; k < n; k++) {
    const key = shortKey();
    const bit = entryBit(key);
    if (bit === 0 || (seen & bit) !== 0) return SCAN_REFUSED;
    seen |= bit;
    switch (key) {
      case K_m:
        m = uint();
        break;
      case K_x:
        if (isUndefined()) pos += 3;
        else {
          inline = message();
          if (inline < 0) return SCAN_REFUSED;
        }
        break;
      case K_q:
        q = uint();
        break;
      case K_r:
        r = bool();
        break;
      case K_i:
        if (isUndefined()) pos += 3;
        else if (!uintArray()) return SCAN_REFUSED;
        break;
      case K_p:
        p = uint();
        break;
      default: // K_s
        s = uint();
    }
    if (pos > end) return SCAN_REFUSED;
  }
  if (pos !== end || m < 0 || q < 0 || q > 2 || r < 0 || p < 0 || p > 0xffff || s < 0 || s > 3) return SCAN_REFUSED;
  if (inline < 0 ? m === 0 : m !== 0 || version === 1) return SCAN_REFUSED;
  scanned.m = m;
  scanned.p = p;
  scanned.s = s;
  scanned.bytes = inline < 0 ? 0 : inline;
  return 0;
}

/**
 * Payload bytes of the message value `bytes[0, size)` (`messages` keyspace, version byte
 * `version` first), or SCAN_REFUSED.
 */
export function scanMessagePayload(bytes: Uint8Array, size: number, version: number): number {
  if (size < 2 || size > bytes.length || bytes[0] !== version) return SCAN_REFUSED;
  buf = bytes;
  pos = 1;
  end = size;
  const n = message();
  return pos === end ? n : SCAN_REFUSED;
}

// ---- keys: single- or two-letter fixstr, as msgpackr writes the records' keys

const K_m = 0x6d;
const K_x = 0x78;
const K_q = 0x71;
const K_r = 0x72;
const K_i = 0x69;
const K_p = 0x70;
const K_s = 0x73;
const K_t = 0x74;
const K_o = 0x6f;
/** 'pr' and 'up' */
const K_pr = 0x7072;
const K_up = 0x7570;

/** one bit per field of a queue entry, by key code (0: not a field) */
function entryBit(key: number): number {
  switch (key) {
    case K_m: return 1;
    case K_x: return 2;
    case K_q: return 4;
    case K_r: return 8;
    case K_i: return 16;
    case K_p: return 32;
    case K_s: return 64;
    default: return 0;
  }
}

/** one bit per field of a MessageRecord, by key code (0: not a field) */
function messageBit(key: number): number {
  switch (key) {
    case K_t: return 1;
    case K_p: return 2;
    case K_q: return 4;
    case K_r: return 8;
    case K_pr: return 16;
    case K_up: return 32;
    case K_x: return 64;
    case K_o: return 128;
    case K_s: return 256;
    default: return 0;
  }
}

/** A key of one or two ASCII letters as a code (first << 8 | second for two), or -1. */
function shortKey(): number {
  if (pos >= end) return -1;
  const b = buf[pos]!;
  if (b === 0xa1 && pos + 2 <= end) {
    pos += 2;
    return buf[pos - 1]!;
  }
  if (b === 0xa2 && pos + 3 <= end) {
    pos += 3;
    return (buf[pos - 2]! << 8) | buf[pos - 1]!;
  }
  return -1;
}

/**
 * A MessageRecord map at `pos`: checks it as decodeMessage does (checkMessage in format.ts) and
 * returns its payload length, or SCAN_REFUSED.
 */
function message(): number {
  const n = mapLength();
  if (n < 0) return SCAN_REFUSED;
  let payload = -1;
  let seen = 0;
  for (let k = 0; k < n; k++) {
    const key = shortKey();
    const bit = messageBit(key);
    if (bit === 0 || (seen & bit) !== 0) return SCAN_REFUSED;
    seen |= bit;
    let ok: boolean;
    switch (key) {
      case K_t:
      case K_o:
        ok = skipString();
        break;
      case K_p:
        payload = binLength();
        ok = payload >= 0;
        break;
      case K_q: {
        const q = uint();
        ok = q >= 0 && q <= 2;
        break;
      }
      case K_r:
        ok = bool() >= 0;
        break;
      case K_x:
      case K_s:
        ok = !Number.isNaN(number());
        break;
      case K_pr:
        if (isUndefined()) {
          pos += 3;
          ok = true;
        } else {
          const entries = mapLength();
          ok = entries >= 0 && skipMapBody(entries, 0);
        }
        break;
      default: // K_up
        if (isUndefined()) {
          pos += 3;
          ok = true;
        } else ok = userProperties();
    }
    if (!ok || pos > end) return SCAN_REFUSED;
  }
  // t, p, q, r, x, o, s are required; pr and up may be absent
  return (seen & 0b111001111) === 0b111001111 ? payload : SCAN_REFUSED;
}

/** `up`: an array of [string, string] pairs. */
function userProperties(): boolean {
  const n = arrayLength();
  if (n < 0) return false;
  for (let i = 0; i < n; i++) {
    if (pos >= end || buf[pos] !== 0x92) return false;
    pos++;
    if (!skipString() || !skipString()) return false;
  }
  return true;
}

/** `i`: an array of non-negative integers. */
function uintArray(): boolean {
  const n = arrayLength();
  if (n < 0) return false;
  for (let i = 0; i < n; i++) if (uint() < 0) return false;
  return true;
}

// ---- msgpack: each reader advances `pos`; a bound past `end` is caught by the callers' pos > end check

/** the map header at `pos`: its entry count, or -1 when not a map */
function mapLength(): number {
  if (pos >= end) return -1;
  const b = buf[pos]!;
  if (b >= 0x80 && b <= 0x8f) {
    pos++;
    return b & 0x0f;
  }
  if (b === 0xde) return pos + 3 <= end ? ((pos += 3), (buf[pos - 2]! << 8) | buf[pos - 1]!) : -1;
  if (b === 0xdf) return pos + 5 <= end ? ((pos += 5), u32(pos - 4)) : -1;
  return -1;
}

/** the array header at `pos`: its length, or -1 when not an array */
function arrayLength(): number {
  if (pos >= end) return -1;
  const b = buf[pos]!;
  if (b >= 0x90 && b <= 0x9f) {
    pos++;
    return b & 0x0f;
  }
  if (b === 0xdc) return pos + 3 <= end ? ((pos += 3), (buf[pos - 2]! << 8) | buf[pos - 1]!) : -1;
  if (b === 0xdd) return pos + 5 <= end ? ((pos += 5), u32(pos - 4)) : -1;
  return -1;
}

/** msgpackr's `undefined`: fixext 1 of type 0 with data 0 */
function isUndefined(): boolean {
  return pos + 3 <= end && buf[pos] === 0xd4 && buf[pos + 1] === 0 && buf[pos + 2] === 0;
}

/** a boolean at `pos` as 0/1, or -1 */
function bool(): number {
  if (pos >= end) return -1;
  const b = buf[pos++]!;
  return b === 0xc2 ? 0 : b === 0xc3 ? 1 : -1;
}

/** a non-negative integer at `pos`, or -1 (any other type or value) */
function uint(): number {
  const v = number();
  return Number.isInteger(v) && v >= 0 ? v : -1;
}

/** a number at `pos` (NaN for any other type, and for 64-bit integers: msgpackr may make those BigInts) */
function number(): number {
  if (pos >= end) return NaN;
  const b = buf[pos]!;
  if (b < 0x80) {
    pos++;
    return b;
  }
  if (b >= 0xe0) {
    pos++;
    return b - 0x100;
  }
  const at = pos + 1;
  switch (b) {
    case 0xcc:
      pos += 2;
      return pos <= end ? buf[at]! : NaN;
    case 0xcd:
      pos += 3;
      return pos <= end ? (buf[at]! << 8) | buf[at + 1]! : NaN;
    case 0xce:
      pos += 5;
      return pos <= end ? u32(at) : NaN;
    case 0xd0:
      pos += 2;
      return pos <= end ? (buf[at]! << 24) >> 24 : NaN;
    case 0xd1:
      pos += 3;
      return pos <= end ? (((buf[at]! << 8) | buf[at + 1]!) << 16) >> 16 : NaN;
    case 0xd2:
      pos += 5;
      return pos <= end ? u32(at) | 0 : NaN;
    case 0xca:
    case 0xcb: {
      const n = b === 0xca ? 4 : 8;
      pos += 1 + n;
      if (pos > end) return NaN;
      for (let i = 0; i < n; i++) floatView.setUint8(i, buf[at + i]!);
      return n === 4 ? floatView.getFloat32(0) : floatView.getFloat64(0);
    }
    default:
      return NaN;
  }
}

function u32(at: number): number {
  return ((buf[at]! << 24) >>> 0) + ((buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!);
}

/** skips a string; false when not one */
function skipString(): boolean {
  if (pos >= end) return false;
  const b = buf[pos]!;
  let n: number;
  if (b >= 0xa0 && b <= 0xbf) {
    n = b & 0x1f;
    pos++;
  } else if (b === 0xd9 && pos + 2 <= end) {
    n = buf[pos + 1]!;
    pos += 2;
  } else if (b === 0xda && pos + 3 <= end) {
    n = (buf[pos + 1]! << 8) | buf[pos + 2]!;
    pos += 3;
  } else if (b === 0xdb && pos + 5 <= end) {
    n = u32(pos + 1);
    pos += 5;
  } else return false;
  pos += n;
  return pos <= end;
}

/** the length of bytes (bin 8/16/32) at `pos`, skipped; -1 when not bytes */
function binLength(): number {
  if (pos >= end) return -1;
  const b = buf[pos]!;
  let n: number;
  if (b === 0xc4 && pos + 2 <= end) {
    n = buf[pos + 1]!;
    pos += 2;
  } else if (b === 0xc5 && pos + 3 <= end) {
    n = (buf[pos + 1]! << 8) | buf[pos + 2]!;
    pos += 3;
  } else if (b === 0xc6 && pos + 5 <= end) {
    n = u32(pos + 1);
    pos += 5;
  } else return -1;
  pos += n;
  return pos <= end ? n : -1;
}

/** skips the `n` entries of a map whose header was read (string keys only) */
function skipMapBody(n: number, depth: number): boolean {
  for (let k = 0; k < n; k++) {
    if (!skipString() || !skip(depth + 1)) return false;
  }
  return pos <= end;
}

/** skips any value msgpackr decodes without an extension; false for anything else */
function skip(depth: number): boolean {
  if (pos >= end || depth > MAX_DEPTH) return false;
  const b = buf[pos]!;
  if (b < 0x80 || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
    pos++;
    return true;
  }
  if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb)) return skipString();
  if (b >= 0xc4 && b <= 0xc6) return binLength() >= 0;
  if ((b >= 0xca && b <= 0xce) || (b >= 0xd0 && b <= 0xd2)) return !Number.isNaN(number());
  if (isUndefined()) {
    pos += 3;
    return true;
  }
  let n = mapLength();
  if (n >= 0) return skipMapBody(n, depth);
  n = arrayLength();
  if (n < 0) return false;
  for (let i = 0; i < n; i++) if (!skip(depth + 1)) return false;
  return pos <= end;
}

/**
 * Key layout of the store's keyspaces (lmdb-js ordered-binary keys; see FORMAT.md).
 * Client ids and topics go into keys as they are when short and plain. Two kinds of string
 * cannot: longer ones (LMDB keys are limited to 1978 bytes with 4 KiB pages, MQTT allows 65535)
 * and ones holding a C0 control character (ordered-binary uses U+0000 as the separator of array
 * elements, and with lmdb-js 3.5 a string holding U+0001–U+0004 after its 62nd byte does not
 * decode back to itself). Those are replaced by a "hashed key": a readable prefix (control
 * characters shown as U+FFFD), '#', the SHA-256 of the whole string in hex, padded with '#' to
 * exactly {@link HASHED_KEY_BYTES} bytes. The records themselves keep the full string.
 * Invariants: a direct key has at most {@link DIRECT_KEY_BYTES} UTF-8 bytes and no control
 * character; a hashed key has exactly HASHED_KEY_BYTES (> DIRECT_KEY_BYTES) bytes and no
 * control character, so the two never collide and both decode back to themselves;
 * `keyString` is a pure function of its argument.
 * Pure; called from: worker | main
 */
import { createHash } from 'node:crypto';
import * as lmdb from 'lmdb';
import type { Key } from 'lmdb';

/** Longest string (UTF-8 bytes) used in a key as it is. */
export const DIRECT_KEY_BYTES = 1024;
/** Length of every hashed key in UTF-8 bytes. */
export const HASHED_KEY_BYTES = 1100;
/** Bytes of the original string kept at the start of a hashed key, for readability. */
const HASHED_PREFIX_BYTES = 900;
const HASH_MARK = '#';
const CONTROL = /[\u0000-\u001f]/;
const CONTROLS = /[\u0000-\u001f]/g;

/** The key form of a client id or topic: the string itself, or its hashed key. */
export function keyString(s: string): string {
  if (CONTROL.test(s)) return hashedKey(s);
  if (s.length * 3 <= DIRECT_KEY_BYTES) return s; // short enough whatever the characters
  return Buffer.byteLength(s) <= DIRECT_KEY_BYTES ? s : hashedKey(s);
}

function hashedKey(s: string): string {
  const prefix = utf8Prefix(s.replace(CONTROLS, '\ufffd'), HASHED_PREFIX_BYTES);
  const hashed = `${prefix}${HASH_MARK}${createHash('sha256').update(s).digest('hex')}`;
  return hashed + HASH_MARK.repeat(HASHED_KEY_BYTES - Buffer.byteLength(hashed));
}

/** The longest prefix of `s` (whole characters) of at most `maxBytes` UTF-8 bytes. */
export function utf8Prefix(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  let bytes = 0;
  let end = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) break;
    bytes += n;
    end += ch.length;
  }
  return s.slice(0, end);
}

/** Key of one queue entry or inbound id: [client id key, number]. */
export type ClientNumberKey = [string, number];

/**
 * Range bounds covering exactly the [idKey, n] keys of one client id (n a number): ordered-binary
 * writes [a, n] as bytes(a) 0x00 bytes(n), numbers start below 0x20, and no key string holds
 * U+0000, so ids that extend this one ('ab' for 'a') sort outside the range.
 */
export function clientRange(idKey: string): { start: string; end: [string, string] } {
  return { start: idKey, end: [idKey, '\uffff'] };
}

/** lmdb-js exports ordered-binary's key encoder (lmdb/index.js) without declaring it. */
const keyBytes = (lmdb as unknown as { keyValueToBuffer(key: Key): Uint8Array }).keyValueToBuffer;

export function isSeq(key: Key): key is number {
  return typeof key === 'number' && Number.isSafeInteger(key) && key >= 0;
}

export function clientNumberKey(key: Key): key is [string, number] {
  return Array.isArray(key) && key.length === 2 && typeof key[0] === 'string' && isSeq(key[1] as Key);
}

/** The ordered-binary bytes of a key (empty when it cannot be encoded again). */
export function rawKeyOf(key: Key): Uint8Array {
  try {
    return Uint8Array.from(keyBytes(key));
  } catch {
    return new Uint8Array(0);
  }
}

/** A key as readable text for logs and quarantine keys (bounded, since keys of 1 KiB exist). */
export function keyText(key: Key): string {
  return utf8Prefix(JSON.stringify(key) ?? String(key), 900);
}

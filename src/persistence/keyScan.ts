/**
 * A key reader for the start-up scan of the queue keyspace (Loader.scanQueues): lmdb-js hands a
 * `keyEncoder`'s readKey the shared key buffer, and this one returns the entry's qseq (a number)
 * and leaves its client id key in `scannedKey.id`, instead of a new [id, qseq] array whose id is
 * decoded again for every entry. A session's entries are contiguous, so the id bytes of an entry
 * are compared with those of the previous one and, when equal, the previous string is reused;
 * only the trailing qseq is decoded.
 * Key bytes (ordered-binary, FORMAT.md): [id, qseq] is bytes(id) 0x00 bytes(qseq), a number in
 * an array taking exactly 9 bytes, and a key string holds no U+0000 (keys.ts).
 * Invariants: readKey returns what the full decode (ordered-binary's readKey) finds, in another
 * shape: the qseq with `scannedKey.id` = the id when that is [string, non-negative safe
 * integer], else -1 with `scannedKey.bad` = the decoded key. Each is valid until the next call.
 * The previous id is reused only when its bytes were checked by a full decode to be [id, number]
 * with the number in the last 9 bytes. Range bounds are written as ordered-binary writes them.
 * Never use it with `snapshot: false` (lmdb-js would write the returned qseq back as a key to
 * reposition the cursor).
 * called from: worker | main (load.ts)
 */
import type { Key } from 'lmdb';
import { clientNumberKey, isSeq } from './keys.ts';

/** ordered-binary's key functions, as lmdb-js sets them on a database that uses them */
export interface KeyCodec {
  readKey(buffer: Uint8Array, start: number, end: number): Key;
  writeKey(key: Key, target: Uint8Array, position: number): number;
}

/** What the last readKey found (see the module comment). */
export const scannedKey: { id: string; bad: Key } = { id: '', bad: '' };

/** Bytes of a number in an array key, and of the separator before it. */
const NUMBER_BYTES = 9;

/**
 * A keyEncoder for lmdb-js (`keyEncoder` option of openDB) whose readKey works as the module
 * comment says; `codec`: ordered-binary's functions (those lmdb-js set on a database opened
 * without a keyEncoder).
 */
export function queueKeyScan(codec: KeyCodec): KeyCodec & { enableNullTermination(): void } {
  /** bytes of the last checked id, and their length (-1: none) */
  let idBytes = new Uint8Array(64);
  let idLength = -1;
  let id = '';
  const full = (buffer: Uint8Array, start: number, end: number): number => {
    const key = codec.readKey(buffer, start, end);
    if (!clientNumberKey(key)) {
      scannedKey.bad = key;
      return -1;
    }
    const n = end - start - NUMBER_BYTES - 1;
    if (n > 0 && buffer[start + n] === 0 && codec.readKey(buffer, end - NUMBER_BYTES, end) === key[1]) {
      if (idBytes.length < n) idBytes = new Uint8Array(n * 2);
      idBytes.set(buffer.subarray(start, start + n));
      idLength = n;
      id = key[0];
    }
    scannedKey.id = key[0];
    return key[1];
  };
  return {
    writeKey: codec.writeKey,
    readKey(buffer: Uint8Array, start: number, end: number): number {
      const n = end - start - NUMBER_BYTES - 1;
      if (n !== idLength || buffer[start + n] !== 0) return full(buffer, start, end);
      for (let i = 0; i < n; i++) if (buffer[start + i] !== idBytes[i]) return full(buffer, start, end);
      const qseq = codec.readKey(buffer, end - NUMBER_BYTES, end);
      if (!isSeq(qseq)) return full(buffer, start, end);
      scannedKey.id = id;
      return qseq;
    },
    // lmdb-js enabled ordered-binary's null termination when it loaded (lmdb/index.js); with
    // this present, the database keeps lmdb-js's default key type (and its fast comparator)
    enableNullTermination(): void {},
  };
}

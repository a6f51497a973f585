/**
 * The start-up key reader of the queue keyspace (src/persistence/keyScan.ts) against
 * ordered-binary's full decode: for every key, in any order (the previous id reused or not), it
 * returns the qseq with the id in `scannedKey`, or -1 with the decoded key, as the full decode
 * says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as lmdb from 'lmdb';
import type { Key } from 'lmdb';
import { clientNumberKey, keyString } from '../../../src/persistence/keys.ts';
import { queueKeyScan, scannedKey } from '../../../src/persistence/keyScan.ts';

/** lmdb-js exports ordered-binary's whole-key functions (lmdb/index.js) without declaring them */
const orderedBinary = lmdb as unknown as { keyValueToBuffer(key: Key): Buffer; bufferToKeyValue(b: Buffer): Key };
const encode = (key: Key): Buffer => orderedBinary.keyValueToBuffer(key);
const decode = (b: Uint8Array, start: number, end: number): Key => orderedBinary.bufferToKeyValue(Buffer.from(b.subarray(start, end)));
const codec = { readKey: decode, writeKey: (): number => { throw new Error('not used'); } };

const ids = ['a', 'ab', 'ac', 'b', 'device-1', 'device-12', '', 'é☃😀', 'x'.repeat(63), 'y'.repeat(64), 'ü'.repeat(300), keyString('c\u0001'.repeat(700)), keyString('z'.repeat(3000))];
const numbers = [0, 1, 2, 255, 256, 65535, 2 ** 32, 2 ** 53 - 1];
const goodKeys: Key[] = ids.flatMap((id) => numbers.map((n): Key => [id, n]));
const badKeys: Key[] = [['a', 'b'], ['a', 1, 2], ['a', 2.5], ['a', -1], 'a', 5, ['a'], [1, 2], ['a', 2 ** 53], ['a', true]];

test('keyScan reads every key as the full decode does, whichever key came before', () => {
  const keys = [...goodKeys, ...badKeys];
  // each key after each other key (the previous id reused when equal), at an offset in a larger buffer
  const order: Key[] = [];
  for (const a of keys) for (const b of keys) order.push(a, b, b);
  const scan = queueKeyScan(codec);
  const buffer = new Uint8Array(8192).fill(0xee);
  for (const key of order) {
    const bytes = encode(key);
    const at = 32;
    buffer.fill(0xee);
    buffer.set(bytes, at);
    const full = decode(buffer, at, at + bytes.length);
    const got = scan.readKey(buffer, at, at + bytes.length);
    if (clientNumberKey(full)) {
      assert.equal(got, full[1], JSON.stringify(key));
      assert.equal(scannedKey.id, full[0], JSON.stringify(key));
    } else {
      assert.equal(got, -1, JSON.stringify(key));
      assert.deepEqual(scannedKey.bad, full);
    }
  }
});

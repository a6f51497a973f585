import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Packr } from 'msgpackr';
import {
  VERSION,
  checkInbound,
  decodeMessage,
  decodeQueueEntry,
  decodeRefTally,
  decodeRetained,
  decodeSession,
  encodeInbound,
  encodeMessage,
  encodeQueueEntry,
  encodeRefTally,
  encodeRetained,
  encodeSession,
  queueEntrySent,
} from '../../../src/persistence/format.ts';
import { DIRECT_KEY_BYTES, HASHED_KEY_BYTES, keyString, utf8Prefix } from '../../../src/persistence/keys.ts';
import { checkDataFile } from '../../../src/persistence/dataFile.ts';
import { StoreError, storeErrorFrom } from '../../../src/persistence/errors.ts';
import { Store } from '../../../src/persistence/store.ts';
import { messageFromRecord } from '../../../src/records/message.ts';
import { PAIRS, fullMessage, plainMessage, queueEntry, sessionMeta, tempDir } from './helpers.ts';

const packr = new Packr({ useRecords: false });

describe('record formats', () => {
  test('a message record round-trips with its properties, bytes and user-property order', () => {
    const m = fullMessage('x');
    const raw = encodeMessage(m);
    assert.equal(raw[0], VERSION.messages);
    const d = decodeMessage(raw);
    assert.ok(d.ok);
    assert.deepEqual(d.value, m);
    assert.ok(Buffer.isBuffer(d.value.p));
    assert.deepEqual(d.value.up, [...PAIRS, ['tag', 'x']]);
    assert.ok(Buffer.isBuffer(d.value.pr?.correlationData));
  });

  test('a message without properties keeps pr and up undefined', () => {
    const d = decodeMessage(encodeMessage(plainMessage(3)));
    assert.ok(d.ok);
    assert.deepEqual(d.value, plainMessage(3));
  });

  test('retained values are message records under their own version byte', () => {
    const m = fullMessage('r');
    const raw = encodeRetained(m);
    assert.equal(raw[0], VERSION.retained);
    const d = decodeRetained(raw);
    assert.ok(d.ok);
    assert.deepEqual(d.value, m);
  });

  test("a retained record keeps its publisher's username and listener (check_retain_source); records without them still read; a bad one is refused", () => {
    for (const so of [{ u: 'alice', l: 1 }, { u: 'bob' }, { l: 0 }, {}]) {
      const m = { ...fullMessage('r'), so };
      const d = decodeRetained(encodeRetained(m));
      assert.ok(d.ok, d.ok ? '' : d.reason);
      assert.deepEqual(d.value, m);
      assert.deepEqual(messageFromRecord(d.value, -1).source, { clientId: m.o, username: so.u, listenerIndex: so.l });
    }
    const older = decodeRetained(encodeRetained(fullMessage('r')));
    assert.ok(older.ok);
    assert.equal(messageFromRecord(older.value, -1).source, undefined, 'stored before culex kept the source: not known');
    for (const so of [{ u: 7 }, { l: -1 }, { l: 'x' }, 'alice']) {
      const r = decodeRetained(Buffer.concat([Buffer.from([VERSION.retained]), packr.pack({ ...fullMessage('r'), so })]));
      assert.ok(!r.ok, JSON.stringify(so));
    }
  });

  test('a queue entry round-trips, with and without subscription ids', () => {
    for (const e of [queueEntry(7), queueEntry(2 ** 40, { q: 2, r: true, i: [1, 268435455], p: 65535, s: 3 })]) {
      const d = decodeQueueEntry(encodeQueueEntry(e));
      assert.ok(d.ok);
      assert.deepEqual(d.value, e);
    }
  });

  test('an unsent entry read back is rewritten as sent by patching its end (queueEntrySent): it decodes as the whole entry encoded anew', () => {
    // key order as journal.ts writes entries: p and s last
    for (const unsent of [queueEntry(7, { p: 0, s: 0 }), { m: 0, x: fullMessage('inline'), q: 2 as const, r: true, i: [5], p: 0, s: 0 as const }]) {
      const raw = encodeQueueEntry(unsent);
      for (const packetId of [1, 127, 128, 255, 256, 65535]) {
        for (const state of [1, 2, 3] as const) {
          const patched = queueEntrySent(raw, packetId, state);
          assert.ok(patched !== undefined);
          assert.deepEqual(patched, encodeQueueEntry({ ...unsent, p: packetId, s: state }), `p ${packetId} s ${state}`);
        }
      }
    }
    // already sent, p and s not last, an older version, or no valid packet id: not patched (the caller encodes the entry)
    assert.equal(queueEntrySent(encodeQueueEntry({ ...queueEntry(0, { p: 0, s: 0 }), x: fullMessage('x last') }), 5, 1), undefined);
    assert.equal(queueEntrySent(encodeQueueEntry(queueEntry(7, { p: 4, s: 1 })), 5, 1), undefined);
    assert.equal(queueEntrySent(Buffer.concat([Buffer.from([1]), packr.pack(queueEntry(9, { p: 0, s: 0 }))]), 5, 1), undefined);
    assert.equal(queueEntrySent(encodeQueueEntry(queueEntry(7, { p: 0, s: 0 })), 0, 1), undefined);
    assert.equal(queueEntrySent(encodeQueueEntry(queueEntry(7, { p: 0, s: 0 })), 65536, 1), undefined);
  });

  test('a queue entry with its message inline (version 2) round-trips; version 1 entries are still read; m and x go together exactly one way', () => {
    const inline = { ...queueEntry(0, { p: 3, s: 1 }), x: fullMessage('inline') };
    const d = decodeQueueEntry(encodeQueueEntry(inline));
    assert.ok(d.ok, d.ok ? '' : d.reason);
    assert.deepEqual(d.value, inline);
    assert.equal(VERSION.queue, 2);
    const v1 = decodeQueueEntry(Buffer.concat([Buffer.from([1]), packr.pack(queueEntry(9))]));
    assert.ok(v1.ok);
    assert.equal(v1.value.m, 9);
    for (const bad of [
      Buffer.concat([Buffer.from([1]), packr.pack(inline)]), // inline was not a version 1 form
      Buffer.concat([Buffer.from([2]), packr.pack(queueEntry(0))]), // neither a seq nor a message
      Buffer.concat([Buffer.from([2]), packr.pack({ ...queueEntry(4), x: fullMessage('both') })]), // both
      Buffer.concat([Buffer.from([2]), packr.pack({ ...queueEntry(0), x: { t: 1 } })]), // a malformed message
    ]) {
      const r = decodeQueueEntry(bad);
      assert.ok(!r.ok, bad.toString('hex'));
    }
  });

  test('session meta round-trips with subscriptions, a delayed will and the client id beside it', () => {
    const meta = sessionMeta();
    const d = decodeSession(encodeSession('client/1', meta));
    assert.ok(d.ok);
    assert.equal(d.value.clientId, 'client/1');
    assert.deepEqual(d.value.meta, meta);
    assert.ok(Buffer.isBuffer(d.value.meta.will?.payload));
    assert.deepEqual(d.value.meta.will?.up, [['b', '1'], ['a', '2'], ['b', '3']]);
  });

  test('session meta with the listener index (per_listener_settings) round-trips; a bad one is refused', () => {
    const meta = sessionMeta({ l: 3 });
    const d = decodeSession(encodeSession('c', meta));
    assert.ok(d.ok);
    assert.equal(d.value.meta.l, 3);
    const bad = decodeSession(Buffer.concat([Buffer.from([VERSION.sessions]), packr.pack({ id: 'c', ...sessionMeta({ l: 'x' as never }) })]));
    assert.ok(!bad.ok);
    assert.match(bad.reason, /listener index/);
  });

  test('session meta without user or will round-trips', () => {
    const meta = sessionMeta({ user: undefined, will: undefined, subs: [], expiry: 0xffffffff, expiresAt: 0 });
    const d = decodeSession(encodeSession('c', meta));
    assert.ok(d.ok);
    assert.deepEqual(d.value.meta, meta);
  });

  test('an unknown version byte is refused with the version in the reason', () => {
    const raw = encodeMessage(plainMessage(1));
    raw[0] = 99;
    const d = decodeMessage(raw);
    assert.ok(!d.ok);
    assert.match(d.reason, /unknown version byte 99/);
  });

  test('garbage, an empty value and a well-formed body of the wrong shape are refused, never thrown', () => {
    const cases: Buffer[] = [
      Buffer.from([VERSION.messages, 0xc1, 0xff, 0x00]),
      Buffer.alloc(0),
      Buffer.concat([Buffer.from([VERSION.messages]), packr.pack({ t: 5, p: 'not bytes' })]),
      Buffer.concat([Buffer.from([VERSION.messages]), packr.pack([1, 2, 3])]),
      Buffer.concat([Buffer.from([VERSION.messages]), packr.pack({ ...plainMessage(1), up: [['a']] })]),
    ];
    for (const raw of cases) {
      const d = decodeMessage(raw);
      assert.ok(!d.ok, raw.toString('hex'));
      assert.ok(d.reason.length > 0);
    }
    const q = decodeQueueEntry(Buffer.concat([Buffer.from([VERSION.queue]), packr.pack({ ...queueEntry(1), s: 9 })]));
    assert.ok(!q.ok);
    const s = decodeSession(Buffer.concat([Buffer.from([VERSION.sessions]), packr.pack({ id: 'c', ...sessionMeta({ subs: [{ f: { raw: 'a' }, o: {} }] as never }) })]));
    assert.ok(!s.ok);
  });

  test('the inbound marker is the version byte alone', () => {
    assert.deepEqual([...encodeInbound()], [VERSION.inbound]);
    assert.equal(checkInbound(encodeInbound()), undefined);
    assert.match(checkInbound(Buffer.from([7])) ?? '', /unknown version byte 7/);
    assert.match(checkInbound(Buffer.from([VERSION.inbound, 0])) ?? '', /2 bytes/);
  });
});

describe('keys', () => {
  test('short client ids and topics are used as they are', () => {
    for (const s of ['a', 'ab', 'sensors/1/temp', 'é'.repeat(DIRECT_KEY_BYTES / 2)]) assert.equal(keyString(s), s);
  });

  test('a string longer than the direct limit gets a fixed-length hashed key that no direct key can equal', () => {
    const long1 = 'x'.repeat(5000);
    const long2 = `${'x'.repeat(4999)}y`;
    const k1 = keyString(long1);
    const k2 = keyString(long2);
    assert.equal(Buffer.byteLength(k1), HASHED_KEY_BYTES);
    assert.equal(Buffer.byteLength(k2), HASHED_KEY_BYTES);
    assert.ok(HASHED_KEY_BYTES > DIRECT_KEY_BYTES);
    assert.notEqual(k1, k2);
    assert.equal(keyString(long1), k1);
    assert.ok(k1.startsWith('x'.repeat(100)));
    const multibyte = '€'.repeat(400); // 1200 bytes
    assert.equal(Buffer.byteLength(keyString(multibyte)), HASHED_KEY_BYTES);
  });

  test('a string holding a control character (U+0000 separates array elements) is hashed into printable characters', () => {
    for (const s of ['a\u0000b', 'a\u0001', `${'x'.repeat(100)}\u0003y`, '\u001f']) {
      const k = keyString(s);
      assert.equal(Buffer.byteLength(k), HASHED_KEY_BYTES);
      assert.ok(!/[\u0000-\u001f]/.test(k), JSON.stringify(k.slice(0, 20)));
    }
    assert.notEqual(keyString('a\u0001'), keyString('a\u0002'));
  });

  test('utf8Prefix cuts at a character boundary', () => {
    assert.equal(utf8Prefix('a€b', 3), 'a');
    assert.equal(utf8Prefix('a€b', 4), 'a€');
    assert.equal(utf8Prefix('abc', 10), 'abc');
  });
});

describe('data file check and error classes', () => {
  test('a missing or empty data file passes; one written by the store passes', async () => {
    const t = tempDir();
    try {
      assert.equal(checkDataFile(t.dir), undefined);
      writeFileSync(path.join(t.dir, 'data.mdb'), Buffer.alloc(0));
      assert.equal(checkDataFile(t.dir), undefined);
      const s = Store.open({ path: path.join(t.dir, 'db'), durability: 'sync', batchWindowMs: 50 });
      s.putMessage(1, plainMessage(1));
      await s.commit();
      await s.close();
      assert.equal(checkDataFile(path.join(t.dir, 'db')), undefined);
    } finally {
      t.remove();
    }
  });

  test('garbage, zeros and a truncated file are named as not LMDB', () => {
    const t = tempDir();
    try {
      for (const content of [Buffer.alloc(20000, 0x41), Buffer.alloc(20000, 0), Buffer.from('hello')]) {
        writeFileSync(path.join(t.dir, 'data.mdb'), content);
        assert.match(checkDataFile(t.dir) ?? '', /data\.mdb .*(not an LMDB|truncated)/);
      }
    } finally {
      t.remove();
    }
  });

  test('errors are sorted: no space, map full, unwritable, I/O; the message names the path', () => {
    const t = tempDir();
    try {
      const cases: [unknown, string][] = [
        [Object.assign(new Error('No space left on device'), { code: 28 }), 'STORE_FULL'],
        [Object.assign(new Error('x'), { code: 'ENOSPC' }), 'STORE_FULL'],
        [Object.assign(new Error('MDB_MAP_FULL'), { code: -30792 }), 'STORE_FULL'],
        [Object.assign(new Error('File too large'), { code: 27 }), 'STORE_FULL'],
        [Object.assign(new Error('Permission denied'), { code: 13 }), 'STORE_UNWRITABLE'],
        [Object.assign(new Error('Read-only file system'), { code: 'EROFS' }), 'STORE_UNWRITABLE'],
        [Object.assign(new Error('Input/output error'), { code: 5 }), 'STORE_IO'], // the temp dir has free space
        [Object.assign(new Error('MDB_CORRUPTED'), { code: -30796 }), 'STORE_CORRUPT'],
        [new Error('something else'), 'STORE_IO'],
      ];
      for (const [err, code] of cases) {
        const e = storeErrorFrom(err, t.dir, 'commit');
        assert.ok(e instanceof StoreError);
        assert.equal(e.code, code, String(err));
        assert.ok(e.message.includes(t.dir));
        assert.equal(e.cause, err);
      }
    } finally {
      t.remove();
    }
  });
});

test('a reference tally comes back as written, whatever the alignment of the value read, and bad pairs are refused', () => {
  const seqs = Float64Array.from([1, 2, 3, 7, 2 ** 40, 2 ** 53 - 1]);
  const counts = Float64Array.from([1, 0, 5, 1, 2, 3]);
  const raw = encodeRefTally(12345, { seqs, counts });
  for (let offset = 0; offset < 8; offset++) {
    const copy = Buffer.alloc(raw.length + offset);
    raw.copy(copy, offset);
    const d = decodeRefTally(copy.subarray(offset));
    assert.ok(d.ok);
    assert.equal(d.value.run, 12345);
    // counts of 0 are left out
    assert.deepEqual([...d.value.tally.seqs], [1, 3, 7, 2 ** 40, 2 ** 53 - 1]);
    assert.deepEqual([...d.value.tally.counts], [1, 5, 1, 2, 3]);
  }
  const bad = (s: number[], c: number[]): boolean => decodeRefTally(encodeRefTally(1, { seqs: Float64Array.from(s), counts: Float64Array.from(c) })).ok;
  assert.equal(bad([2, 1], [1, 1]), false, 'seqs must ascend');
  assert.equal(bad([0], [1]), false, 'seq 0');
  assert.equal(bad([1.5], [1]), false);
  assert.equal(bad([2 ** 53], [1]), false);
  assert.equal(bad([1], [1.5]), false);
  const nan = Buffer.from(encodeRefTally(1, { seqs: Float64Array.from([1]), counts: Float64Array.from([1]) }));
  nan.writeDoubleLE(NaN, 24);
  assert.equal(decodeRefTally(nan).ok, false, 'a count that is not a number');
  assert.equal(decodeRefTally(raw.subarray(0, raw.length - 1)).ok, false, 'truncated');
  assert.equal(decodeRefTally(Buffer.concat([Buffer.from([9]), raw.subarray(1)])).ok, false, 'version byte');
  // version 1, written by a clean stop of an older culex: version byte, the run, then (seq, count) pairs
  const v1 = Buffer.alloc(9 + 16 * 2);
  v1[0] = 1;
  v1.writeDoubleLE(77, 1);
  [4, 2, 9, 1].forEach((x, i) => v1.writeDoubleLE(x, 9 + 8 * i));
  const old = decodeRefTally(v1);
  assert.ok(old.ok);
  assert.equal(old.value.run, 77);
  assert.deepEqual([...old.value.tally.seqs], [4, 9]);
  assert.deepEqual([...old.value.tally.counts], [2, 1]);
  v1.writeDoubleLE(3, 9 + 16);
  assert.equal(decodeRefTally(v1).ok, false, 'version 1: seqs must ascend');
  // a decoded tally whose body is aligned reads the value in place
  const aligned = Buffer.from(raw);
  assert.equal(aligned.byteOffset % 8, 0);
  const view = decodeRefTally(aligned);
  assert.ok(view.ok);
  assert.equal(view.value.tally.seqs.buffer, aligned.buffer);
});

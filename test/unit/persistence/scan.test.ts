/**
 * The start-up scanner (src/persistence/scan.ts) against the full decoders (format.ts): on values
 * the store's encoders write it finds what the decoder finds; on damaged values (every byte
 * changed, every cut) it either refuses or agrees with a decoder that accepts the value, so a
 * bad entry still reaches the full decode and the quarantine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { decodeMessage, decodeQueueEntry, encodeMessage, encodeQueueEntry, queueEntrySent, VERSION } from '../../../src/persistence/format.ts';
import { SCAN_REFUSED, scanMessagePayload, scanQueueEntry, scanned } from '../../../src/persistence/scan.ts';
import type { MessageRecord } from '../../../src/records/message.ts';
import type { QueueEntry } from '../../../src/records/stored.ts';

const message = (over: Partial<MessageRecord> = {}): MessageRecord => ({
  t: 'city/zone1/42/status', p: Buffer.alloc(64, 7), q: 1, r: false, pr: undefined, up: undefined, x: 0, o: 'publisher', s: 0, ...over,
});

const entries: QueueEntry[] = [
  { m: 0, x: message(), q: 1, r: false, i: undefined, p: 0, s: 0 },
  { m: 7, q: 1, r: false, i: undefined, p: 0, s: 0 },
  { m: 2 ** 40, q: 2, r: true, i: [1, 300, 70000], p: 65535, s: 3 },
  { m: 0, x: message({ p: Buffer.alloc(0), q: 0 }), q: 0, r: false, i: [5], p: 300, s: 1 },
  { m: 0, x: message({ p: Buffer.alloc(70000, 1), x: Date.now() + 3_600_000, s: 12345 }), q: 2, r: false, i: undefined, p: 9, s: 2 },
  {
    m: 0,
    x: message({ pr: { contentType: 'text/plain', correlationData: Buffer.from('abc'), messageExpiryInterval: 60, payloadFormatIndicator: true }, up: [['a', 'b'], ['a', 'c'], ['', 'é']] }),
    q: 1, r: false, i: undefined, p: 0, s: 0,
  },
  { m: 0, x: message({ t: 'x'.repeat(300), o: 'ø'.repeat(200) }), q: 1, r: false, i: undefined, p: 0, s: 0 },
];

/** What the full decoder says, in the scanner's terms (undefined: rejected). */
function viaDecoder(raw: Uint8Array): { m: number; p: number; s: number; bytes: number } | undefined {
  const d = decodeQueueEntry(raw);
  if (!d.ok) return undefined;
  const e = d.value;
  return { m: e.m, p: e.p, s: e.s, bytes: e.x === undefined ? 0 : e.x.p.length };
}

/** The scanner on `raw`, inside a longer buffer (as lmdb-js's shared read buffer hands it over). */
function viaScanner(raw: Uint8Array): { m: number; p: number; s: number; bytes: number } | undefined {
  const shared = new Uint8Array(raw.length + 16).fill(0xc1);
  shared.set(raw);
  return scanQueueEntry(shared, raw.length) === SCAN_REFUSED ? undefined : { ...scanned };
}

test('the scanner reads what decodeQueueEntry reads from entries encodeQueueEntry wrote (inline, in the log, sent, with ids)', () => {
  for (const e of entries) {
    const raw = encodeQueueEntry(e);
    assert.deepEqual(viaScanner(raw), viaDecoder(raw), JSON.stringify({ ...e, x: undefined }));
    assert.notEqual(viaScanner(raw), undefined);
  }
});

test('the scanner reads entries marked sent in place (queueEntrySent) and version 1 entries', () => {
  const raw = encodeQueueEntry(entries[0]!);
  for (const [id, state] of [[1, 1], [200, 2], [65535, 3]] as const) {
    const sent = queueEntrySent(raw, id, state)!;
    assert.deepEqual(viaScanner(sent), { m: 0, p: id, s: state, bytes: 64 });
  }
  const v1 = Buffer.from(encodeQueueEntry(entries[1]!));
  v1[0] = 1;
  assert.deepEqual(viaScanner(v1), viaDecoder(v1));
  const v1Inline = Buffer.from(encodeQueueEntry(entries[0]!));
  v1Inline[0] = 1;
  assert.equal(viaScanner(v1Inline), undefined, 'a version 1 entry with x is refused (the decoder quarantines it)');
  assert.equal(viaDecoder(v1Inline), undefined);
});

test('a damaged entry is refused or read as the decoder reads it: every byte changed, every cut, a trailing byte', () => {
  let refused = 0;
  let agreed = 0;
  for (const e of entries.slice(0, 4)) {
    const raw = encodeQueueEntry(e);
    const variants: Uint8Array[] = [Buffer.concat([raw, Buffer.from([0])]), new Uint8Array(0)];
    for (let cut = 1; cut < raw.length; cut++) variants.push(raw.subarray(0, cut));
    for (let i = 0; i < raw.length; i++) {
      for (const b of [0x00, 0x01, 0x7f, 0x80, 0x90, 0xa1, 0xc0, 0xc1, 0xc2, 0xc4, 0xcb, 0xcf, 0xd4, 0xde, 0xff, raw[i]! ^ 1]) {
        const v = Buffer.from(raw);
        v[i] = b;
        variants.push(v);
      }
    }
    for (const v of variants) {
      const s = viaScanner(v);
      if (s === undefined) refused++;
      else {
        assert.deepEqual(s, viaDecoder(v), `accepted what the decoder does not read the same: ${Buffer.from(v).toString('hex')}`);
        agreed++;
      }
    }
  }
  assert.ok(refused > 0 && agreed > 0);
});

test('values the decoder rejects are refused: unknown key, repeated key, nil subscription ids, negative seq, m with x', () => {
  const packr = new Packr({ useRecords: false });
  const body = (v: unknown): Buffer => Buffer.concat([Buffer.from([VERSION.queue]), packr.pack(v)]);
  const bad = [
    body({ m: 7, q: 1, r: false, p: 0, s: 0, extra: 1 }),
    body({ m: -7, q: 1, r: false, p: 0, s: 0 }),
    body({ m: 7, q: 1, r: false, i: null, p: 0, s: 0 }),
    body({ m: 7, x: message(), q: 1, r: false, p: 0, s: 0 }),
    body({ m: 0, q: 1, r: false, p: 0, s: 0 }),
    body({ m: 7, q: 3, r: false, p: 0, s: 0 }),
    body({ m: 7, q: 1, r: false, p: 70000, s: 0 }),
    body({ m: 7, q: 1, r: false, p: 0, s: 4 }),
    body({ m: 7, q: 1, r: 0, p: 0, s: 0 }),
    body({ m: 0, x: { ...message(), p: 'text' }, q: 1, r: false, p: 0, s: 0 }),
    body({ m: 0, x: { ...message(), up: [['a']] }, q: 1, r: false, p: 0, s: 0 }),
    body([7, 1, false, 0, 0]),
    Buffer.concat([Buffer.from([2]), packr.pack({ m: 7, q: 1, r: false, p: 0 }), Buffer.from([0xa1, 0x73, 0x00])]),
  ];
  for (const raw of bad) assert.equal(viaScanner(raw), undefined, raw.toString('hex'));
  // a repeated key (msgpackr keeps the last): refused, whatever the decoder makes of it
  const repeated = Buffer.from(encodeQueueEntry(entries[1]!).toString('hex').replace('a17300', 'a16d07'), 'hex');
  assert.equal(viaScanner(repeated), undefined);
});

test('scanMessagePayload gives the payload length decodeMessage finds, and refuses a damaged message', () => {
  for (const m of [message(), message({ p: Buffer.alloc(0) }), message({ p: Buffer.alloc(300, 1), up: [['k', 'v']], pr: { contentType: 'a' } })]) {
    const raw = encodeMessage(m);
    const shared = Buffer.concat([raw, Buffer.alloc(8, 0xc1)]);
    assert.equal(scanMessagePayload(shared, raw.length, VERSION.messages), m.p.length);
    assert.equal(scanMessagePayload(raw, raw.length, VERSION.messages + 1), SCAN_REFUSED);
    for (let i = 1; i < raw.length; i++) {
      for (const b of [0x00, 0xc1, 0xa0, 0xff, raw[i]! ^ 1]) {
        const v = Buffer.from(raw);
        v[i] = b;
        const n = scanMessagePayload(v, v.length, VERSION.messages);
        if (n === SCAN_REFUSED) continue;
        const d = decodeMessage(v);
        assert.ok(d.ok, `accepted a message the decoder rejects: ${v.toString('hex')}`);
        assert.equal(n, d.value.p.length);
      }
    }
  }
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { createDoorbells, Doorbells } from '../../../src/workers/doorbell.ts';
import { createRing, ringBufferBytes, RingConsumer, RingProducer, setRingIndexForTest } from '../../../src/workers/ring.ts';
import { checkRecord } from './ringPattern.ts';
import type { RingProducerData } from './ringProducer.ts';

const CAPACITY = 4096;
/** Data-area bytes one record of `length` takes: header + body padded to 4. */
const footprint = (length: number): number => 4 + Math.ceil(length / 4) * 4;
const body = (length: number, seed: number): Buffer => Buffer.from(Array.from({ length }, (_, i) => (seed * 13 + i * 7) & 0xff));

function put(p: RingProducer, bytes: Buffer): number {
  const off = p.reserve(bytes.length);
  if (off >= 0) bytes.copy(p.data, off);
  return off;
}

function take(c: RingConsumer): Buffer | undefined {
  const off = c.next();
  return off < 0 ? undefined : Buffer.from(c.data.subarray(off, off + c.length));
}

function headerIndices(sab: SharedArrayBuffer): { write: number; read: number; waiting: number } {
  const h = new Int32Array(sab, 0, 48);
  return { write: Atomics.load(h, 0) >>> 0, read: Atomics.load(h, 16) >>> 0, waiting: Atomics.load(h, 32) };
}

describe('ring: one thread', () => {
  test('buffer size is header plus capacity; capacity must be a power of two >= 4096', () => {
    assert.equal(createRing(8192).byteLength, ringBufferBytes(8192));
    assert.equal(ringBufferBytes(8192) - ringBufferBytes(4096), 4096);
    for (const bad of [0, 2048, 5000, 4096.5, -4096]) assert.throws(() => createRing(bad), RangeError, String(bad));
    assert.throws(() => new RingProducer(new SharedArrayBuffer(1000)), RangeError);
  });

  test('records round-trip with exact bytes and lengths, in order', () => {
    const sab = createRing(CAPACITY);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    assert.equal(p.data.length, CAPACITY);
    const sent = [1, 2, 3, 4, 5, 7, 8, 100, 255, 1024].map((n, i) => body(n, i));
    for (const b of sent) assert.ok(put(p, b) >= 0);
    assert.equal(p.publish(), true);
    for (const b of sent) assert.deepEqual(take(c), b);
    assert.equal(c.next(), -1);
  });

  test('records are invisible until publish; publish reports whether anything was new', () => {
    const sab = createRing(CAPACITY);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    assert.equal(p.publish(), false);
    put(p, body(10, 1));
    put(p, body(20, 2));
    assert.equal(p.unpublished, 2);
    assert.equal(c.hasData(), false);
    assert.equal(c.next(), -1);
    assert.equal(p.publish(), true);
    assert.equal(p.unpublished, 0);
    assert.equal(p.publish(), false);
    assert.equal(c.hasData(), true);
    assert.deepEqual(take(c), body(10, 1));
    assert.deepEqual(take(c), body(20, 2));
    assert.equal(c.hasData(), false);
  });

  test('bodies start 4-byte aligned and each record advances the write index by header + padded body', () => {
    const sab = createRing(CAPACITY);
    const p = new RingProducer(sab);
    let expected = 4;
    for (const n of [1, 5, 6, 7, 8, 9, 301]) {
      assert.equal(p.reserve(n), expected);
      expected += footprint(n);
    }
    p.publish();
    assert.equal(headerIndices(sab).write, expected - 4);
  });

  test('a record that does not fit before the end is written at offset 0 behind a padding marker the consumer skips', () => {
    const sab = createRing(CAPACITY);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    for (let i = 0; i < 4; i++) assert.ok(put(p, body(1012, i)) >= 0);
    p.publish();
    for (let i = 0; i < 4; i++) assert.deepEqual(take(c), body(1012, i));
    c.release();
    assert.equal(headerIndices(sab).write, 4064, '32 bytes left before the end: too few for a 100-byte record');
    const wrapped = body(100, 42);
    assert.equal(put(p, wrapped), 4);
    assert.equal(p.data.readUInt32LE(4064), 0xffffffff);
    assert.equal(p.data.readUInt32LE(0), 100);
    p.publish();
    assert.deepEqual(take(c), wrapped);
    assert.equal(c.next(), -1);
    assert.equal(headerIndices(sab).write, CAPACITY + footprint(100));
  });

  test('a record exactly filling the space to the end is not padded', () => {
    const sab = createRing(CAPACITY);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    for (let i = 0; i < 3; i++) put(p, body(1020, i));
    p.publish();
    for (let i = 0; i < 3; i++) take(c);
    c.release();
    assert.equal(put(p, body(1020, 3)), 3 * 1024 + 4);
    assert.equal(put(p, body(8, 4)), 4);
    p.publish();
    assert.deepEqual(take(c), body(1020, 3));
    assert.deepEqual(take(c), body(8, 4));
  });

  test('a full ring returns -1 without overwriting unread data, sets the waiting flag, and release() reports it once', () => {
    const sab = createRing(CAPACITY);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    const sent: Buffer[] = [];
    for (let i = 0; ; i++) {
      const b = body(60 + (i % 5), i);
      if (put(p, b) < 0) break;
      sent.push(b);
      if (i % 3 === 0) p.publish();
    }
    assert.equal(headerIndices(sab).waiting, 1);
    assert.equal(p.reserve(1), -1, 'still full');
    assert.equal(c.release(), false, 'nothing read yet, nothing freed');
    p.publish();
    for (const b of sent) assert.deepEqual(take(c), b);
    assert.equal(c.next(), -1);
    assert.equal(c.release(), true);
    assert.equal(headerIndices(sab).waiting, 0);
    assert.equal(c.release(), false);
    assert.ok(put(p, body(200, 1)) >= 0);
  });

  test('a failed reserve reloads the read index, so space freed since the last check is used', () => {
    const sab = createRing(CAPACITY);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    for (let i = 0; i < 4; i++) put(p, body(1020, i));
    p.publish();
    take(c);
    c.release();
    assert.equal(headerIndices(sab).waiting, 0);
    assert.ok(put(p, body(1020, 5)) >= 0);
    assert.equal(headerIndices(sab).waiting, 0, 'no flag when room was found');
  });

  test('maxRecord is capacity / 4 and reserve() rejects lengths outside 1..maxRecord with RangeError', () => {
    const p = new RingProducer(createRing(8192));
    assert.equal(p.maxRecord, 2048);
    for (const bad of [0, -1, 2049, 1.5, Number.NaN, 2 ** 32]) assert.throws(() => p.reserve(bad), RangeError, String(bad));
    assert.ok(p.reserve(2048) >= 0);
    assert.equal(p.unpublished, 1);
  });

  test('indices wrap past 2^32 without losing or corrupting records', () => {
    const sab = createRing(CAPACITY);
    const start = 2 ** 32 - 3 * CAPACITY - 12;
    setRingIndexForTest(sab, start);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    let sent = 0;
    let received = 0;
    while (received < 2000) {
      for (let k = 0; k < 5; k++) {
        const b = body(1 + ((sent * 37) % 700), sent);
        if (put(p, b) < 0) break;
        sent++;
      }
      p.publish();
      for (let b = take(c); b !== undefined; b = take(c)) {
        assert.deepEqual(b, body(1 + ((received * 37) % 700), received), `record ${received}`);
        received++;
      }
      c.release();
    }
    const { write, read } = headerIndices(sab);
    assert.ok(write < start, `write index wrapped (${write})`);
    assert.equal(read, write);
  });

  test('setRingIndexForTest rejects indices that are not multiples of 4 in 0..2^32-1', () => {
    const sab = createRing(CAPACITY);
    for (const bad of [2, -4, 2 ** 32, 1.5]) assert.throws(() => setRingIndexForTest(sab, bad), RangeError, String(bad));
  });

  test('a new producer resumes from the published write index; unpublished reservations are discarded', () => {
    const sab = createRing(CAPACITY);
    const p1 = new RingProducer(sab);
    const c = new RingConsumer(sab);
    put(p1, body(50, 1));
    put(p1, body(60, 2));
    p1.publish();
    put(p1, body(70, 3));
    const p2 = new RingProducer(sab);
    assert.equal(p2.unpublished, 0);
    put(p2, body(80, 4));
    p2.publish();
    assert.deepEqual(take(c), body(50, 1));
    assert.deepEqual(take(c), body(60, 2));
    assert.deepEqual(take(c), body(80, 4));
    assert.equal(c.next(), -1);
  });

  test('a new consumer resumes from the stored read index; read but unreleased records come again', () => {
    const sab = createRing(CAPACITY);
    const p = new RingProducer(sab);
    const c1 = new RingConsumer(sab);
    for (let i = 0; i < 4; i++) put(p, body(30 + i, i));
    p.publish();
    take(c1);
    take(c1);
    c1.release();
    take(c1);
    const c2 = new RingConsumer(sab);
    assert.deepEqual(take(c2), body(32, 2));
    assert.deepEqual(take(c2), body(33, 3));
    assert.equal(c2.next(), -1);
  });

  test('a new producer on a full ring sees the stored read index and the space it leaves', () => {
    const sab = createRing(CAPACITY);
    const p1 = new RingProducer(sab);
    const c = new RingConsumer(sab);
    while (put(p1, body(500, 0)) >= 0);
    p1.publish();
    const p2 = new RingProducer(sab);
    assert.equal(p2.reserve(500), -1);
    take(c);
    c.release();
    assert.ok(p2.reserve(500) >= 0);
  });
});

describe('ring: two threads', () => {
  test('200,000 records of 1..300 bytes cross from a producer thread in order, without loss or corruption', { timeout: 60_000 }, async (t) => {
    const COUNT = 200_000;
    const ring = createRing(CAPACITY);
    setRingIndexForTest(ring, 2 ** 32 - 64 * CAPACITY);
    const bells = createDoorbells(2);
    const CONSUMER = 0;
    const PRODUCER = 1;
    const data: RingProducerData = { ring, bells, count: COUNT, me: PRODUCER, consumer: CONSUMER };
    const consumer = new RingConsumer(ring);
    const doorbells = new Doorbells(bells);
    const worker = new Worker(new URL('./ringProducer.ts', import.meta.url), { workerData: data });
    const stop = (): void => void worker.terminate();
    t.signal.addEventListener('abort', stop);
    const done = new Promise<{ waits: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`producer exited (${code}) before reporting`)));
    });
    let finished = false;
    done.then(() => (finished = true), () => {});
    let seq = 0;
    let wakeups = 0;
    let waits = 0;
    try {
      while (seq < COUNT) {
        const seen = doorbells.value(CONSUMER);
        const producerDone = finished;
        for (let off = consumer.next(); off >= 0; off = consumer.next()) {
          const problem = checkRecord(consumer.data, off, consumer.length, seq);
          if (problem !== undefined) assert.fail(problem);
          seq++;
        }
        if (consumer.release()) doorbells.ring(PRODUCER);
        if (seq < COUNT) {
          if (producerDone) assert.fail(`the producer finished but only ${seq} records arrived`);
          await Promise.race([doorbells.wait(CONSUMER, seen), done]);
          wakeups++;
        }
      }
      assert.equal(consumer.next(), -1);
      ({ waits } = await done);
    } finally {
      t.signal.removeEventListener('abort', stop);
      await worker.terminate();
    }
    assert.equal(seq, COUNT);
    assert.ok(wakeups > 0);
    assert.ok(waits > 0, 'the 4 KiB ring filled up at least once');
  });
});

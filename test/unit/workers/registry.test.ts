import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { ClientRegistry, createRegistry } from '../../../src/workers/registry.ts';
import type { RegistryClaimerData } from './registryClaimer.ts';

/** The raw slot values of a registry. */
const slots = (sab: SharedArrayBuffer): bigint[] => Array.from(new BigInt64Array(sab));

/** Index of the one slot `claim` filled in a fresh table of `size` slots. */
function homeSlot(id: string, size: number): number {
  const sab = createRegistry(size);
  new ClientRegistry(sab).claim(id, 0);
  return slots(sab).findIndex((v) => v !== 0n);
}

describe('client registry: one thread', () => {
  test('claim gives an id to the first worker; later claims return the existing owner', () => {
    const reg = new ClientRegistry(createRegistry(64));
    assert.equal(reg.owner('alpha'), -1);
    assert.equal(reg.claim('alpha', 3), 3);
    assert.equal(reg.owner('alpha'), 3);
    assert.equal(reg.claim('alpha', 5), 3);
    assert.equal(reg.owner('alpha'), 3);
    assert.equal(reg.claim('beta', 0), 0);
    assert.equal(reg.claim('', 254), 254);
    assert.deepEqual([reg.owner('beta'), reg.owner(''), reg.owner('gamma')], [0, 254, -1]);
    assert.deepEqual(reg.stats(), { live: 3, tombstones: 0, slots: 64 });
  });

  test('every thread view over the same buffer sees the same owners', () => {
    const sab = createRegistry(64);
    new ClientRegistry(sab).claim('shared', 7);
    assert.equal(new ClientRegistry(sab).owner('shared'), 7);
  });

  test('similar ids, long ids and non-ASCII ids are told apart', () => {
    const reg = new ClientRegistry(createRegistry(1024));
    const ids = ['a', 'b', 'ab', 'ba', 'x'.repeat(5000), 'x'.repeat(5001), 'ç🦟', 'ç🦠', 'client-1', 'client-10', 'client-01'];
    ids.forEach((id, i) => assert.equal(reg.claim(id, i), i, id));
    ids.forEach((id, i) => assert.equal(reg.owner(id), i, id));
    assert.equal(reg.stats().live, ids.length);
  });

  test('transfer moves ownership only from the current owner', () => {
    const reg = new ClientRegistry(createRegistry(64));
    reg.claim('c', 1);
    assert.equal(reg.transfer('c', 2, 4), false);
    assert.equal(reg.owner('c'), 1);
    assert.equal(reg.transfer('c', 1, 4), true);
    assert.equal(reg.owner('c'), 4);
    assert.equal(reg.transfer('c', 1, 2), false);
    assert.equal(reg.transfer('missing', 1, 2), false);
    assert.deepEqual(reg.stats(), { live: 1, tombstones: 0, slots: 64 });
  });

  test('release removes an id only for its owner and leaves a tombstone', () => {
    const reg = new ClientRegistry(createRegistry(64));
    reg.claim('d', 6);
    assert.equal(reg.release('d', 5), false);
    assert.equal(reg.owner('d'), 6);
    assert.equal(reg.release('d', 6), true);
    assert.equal(reg.owner('d'), -1);
    assert.equal(reg.release('d', 6), false);
    assert.deepEqual(reg.stats(), { live: 0, tombstones: 1, slots: 64 });
    assert.equal(reg.claim('d', 2), 2);
    assert.equal(reg.owner('d'), 2);
    assert.deepEqual(reg.stats(), { live: 1, tombstones: 1, slots: 64 });
  });

  test('lookups, transfers and releases walk past tombstones to entries further along the probe chain', () => {
    const SIZE = 16;
    const ids = Array.from({ length: 64 }, (_, i) => `dev-${i}`);
    const homes = ids.map((id) => homeSlot(id, SIZE));
    const first = homes.findIndex((h, i) => homes.indexOf(h) !== i);
    const [a, b] = [ids[homes.indexOf(homes[first]!)]!, ids[first]!];
    const sab = createRegistry(SIZE);
    const reg = new ClientRegistry(sab);
    reg.claim(a, 1);
    reg.claim(b, 2);
    const home = homes[first]!;
    assert.equal(slots(sab)[(home + 1) % SIZE]! & 0xffn, 2n, 'second id displaced to the next slot');
    assert.equal(reg.release(a, 1), true);
    assert.equal(slots(sab)[home], 1n, 'tombstone in front of the second id');
    assert.equal(reg.owner(b), 2);
    assert.equal(reg.claim(b, 3), 2, 'no second entry behind the tombstone');
    assert.equal(reg.transfer(b, 2, 3), true);
    assert.equal(reg.owner(b), 3);
    assert.equal(reg.release(b, 3), true);
    assert.equal(reg.owner(b), -1);
    assert.equal(reg.claim(a, 4), 4);
    assert.equal(slots(sab)[home], 1n, 'tombstones are never reused');
    assert.deepEqual(reg.stats(), { live: 1, tombstones: 2, slots: SIZE });
  });

  test('releaseAll removes exactly the entries of one worker', () => {
    const reg = new ClientRegistry(createRegistry(256));
    for (let i = 0; i < 100; i++) reg.claim(`c${i}`, i % 4);
    reg.release('c1', 1);
    assert.equal(reg.releaseAll(1), 24, 'tombstone 1n is not an entry of worker 1');
    for (let i = 0; i < 100; i++) assert.equal(reg.owner(`c${i}`), i % 4 === 1 ? -1 : i % 4, `c${i}`);
    assert.equal(reg.releaseAll(1), 0);
    assert.equal(reg.releaseAll(0), 25, 'empty 0n is not an entry of worker 0');
    assert.equal(reg.releaseAll(0), 0);
    assert.deepEqual(reg.stats(), { live: 50, tombstones: 50, slots: 256 });
  });

  test('a full table returns -2, and lookups in it terminate', () => {
    const SIZE = 8;
    const reg = new ClientRegistry(createRegistry(SIZE));
    for (let i = 0; i < SIZE; i++) assert.equal(reg.claim(`f${i}`, 1), 1);
    assert.equal(reg.claim('one-too-many', 1), -2);
    assert.equal(reg.claim('f3', 2), 1, 'an existing id is still found');
    for (let i = 0; i < SIZE - 1; i++) assert.equal(reg.release(`f${i}`, 1), true);
    assert.deepEqual(reg.stats(), { live: 1, tombstones: SIZE - 1, slots: SIZE });
    assert.equal(reg.owner(`f${SIZE - 1}`), 1);
    assert.equal(reg.owner('f0'), -1);
    assert.equal(reg.owner('never'), -1);
    assert.equal(reg.claim('f0', 1), -2, 'tombstones do not make room');
    assert.equal(reg.transfer('never', 1, 2), false);
    assert.equal(reg.release('never', 1), false);
  });

  test('worker indices outside 0..254 and bad table sizes throw RangeError', () => {
    const reg = new ClientRegistry(createRegistry(16));
    for (const bad of [-1, 255, 1.5]) {
      assert.throws(() => reg.claim('x', bad), RangeError);
      assert.throws(() => reg.transfer('x', 0, bad), RangeError);
      assert.throws(() => reg.release('x', bad), RangeError);
      assert.throws(() => reg.releaseAll(bad), RangeError);
    }
    for (const bad of [0, 3, 100]) assert.throws(() => createRegistry(bad), RangeError);
    assert.throws(() => new ClientRegistry(new SharedArrayBuffer(24)), RangeError);
  });
});

describe('client registry: threads', () => {
  test('4 threads racing to claim the same 10,000 ids leave one entry per id and agree on every owner', { timeout: 60_000 }, async () => {
    const WORKERS = 4;
    const COUNT = 10_000;
    const registry = createRegistry(32_768);
    const results = new SharedArrayBuffer(4 * (1 + WORKERS * COUNT));
    const workers = Array.from({ length: WORKERS }, (_, worker) => {
      const data: RegistryClaimerData = { registry, results, worker, workers: WORKERS, count: COUNT };
      return new Worker(new URL('./registryClaimer.ts', import.meta.url), { workerData: data });
    });
    try {
      await Promise.all(workers.map((w) => once(w, 'message')));
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
    const out = new Int32Array(results);
    const reg = new ClientRegistry(registry);
    for (let i = 0; i < COUNT; i++) {
      const owner = reg.owner(`id-${i}`);
      assert.ok(owner >= 0 && owner < WORKERS, `id-${i} owned by ${owner}`);
      for (let w = 0; w < WORKERS; w++) assert.equal(out[1 + w * COUNT + i], owner, `worker ${w}, id-${i}`);
    }
    const hashes = new Set<bigint>();
    for (const v of slots(registry)) {
      if (v === 0n || v === 1n) continue;
      const hash = v >> 8n;
      assert.ok(!hashes.has(hash), `duplicate entry ${hash.toString(16)}`);
      hashes.add(hash);
    }
    assert.equal(hashes.size, COUNT);
    assert.deepEqual(reg.stats(), { live: COUNT, tombstones: 0, slots: 32_768 });
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { ClientRegistry, createRegistry } from '../../../src/workers/registry.ts';
import type { RegistryClaimerData } from './registryClaimer.ts';

/** The raw slot values of a registry. */
const slots = (sab: SharedArrayBuffer): bigint[] => Array.from(new BigInt64Array(sab));

const REGISTRY_URL = new URL('../../../src/workers/registry.ts', import.meta.url).href;

/**
 * Worker source (eval: one file, no second worker entry) for the claim/transfer/release race; it
 * counts into the Int32 slots named by CHURN. Every round, each thread walks the ids in the same
 * order. For each it claims; when another worker owns the id it takes it over with transfer();
 * whenever it got the id, it releases it. All threads meet at a barrier every 10 rounds so they
 * keep running into each other. Ownership is conserved: a won claim creates it, a transfer moves
 * it, a release ends it, and the last thread to get an id always releases it, so at the end won
 * claims = successful releases.
 */
const CHURNER = `
const { workerData, parentPort } = require('node:worker_threads');
const { url, registry, shared, worker, workers, ids, rounds } = workerData;
import(url).then(({ ClientRegistry }) => {
  const reg = new ClientRegistry(registry);
  const s = new Int32Array(shared);
  const names = Array.from({ length: ids }, (_, i) => 'churn-' + i);
  let round = 0;
  const barrier = () => {
    const target = workers * ++round;
    if (Atomics.add(s, 0, 1) + 1 === target) Atomics.notify(s, 0);
    for (let n = Atomics.load(s, 0); n < target; n = Atomics.load(s, 0)) Atomics.wait(s, 0, n);
  };
  for (let r = 0; r < rounds; r++) {
    if (r % 10 === 0) barrier();
    for (let i = 0; i < ids; i++) {
      const got = reg.claim(names[i], worker);
      if (got === worker) Atomics.add(s, 1, 1);
      else if (got < 0) { Atomics.add(s, 6, 1); continue; }
      else if (reg.transfer(names[i], got, worker)) Atomics.add(s, 2, 1);
      else { Atomics.add(s, 3, 1); continue; }
      Atomics.add(s, reg.release(names[i], worker) ? 4 : 5, 1);
    }
  }
  parentPort.postMessage('done');
});
`;

/** Int32 slots of the churners' shared counters (the indices CHURNER writes). */
const CHURN = { arrivals: 0, claimsWon: 1, transfersWon: 2, transfersLost: 3, released: 4, releaseLost: 5, notClaimed: 6 } as const;

/** The owner byte of a released id's slot. */
const FREE = 0xffn;

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
    assert.deepEqual(reg.stats(), { live: 3, free: 0, empty: 61, tombstones: 0, slots: 64 });
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
    assert.deepEqual(reg.stats(), { live: 1, free: 0, empty: 63, tombstones: 0, slots: 64 });
  });

  test('release frees an id only for its owner; the released id has no owner until the same id claims its slot again', () => {
    const sab = createRegistry(64);
    const reg = new ClientRegistry(sab);
    reg.claim('d', 6);
    const slot = slots(sab).findIndex((v) => v !== 0n);
    assert.equal(reg.release('d', 5), false);
    assert.equal(reg.owner('d'), 6);
    assert.equal(reg.release('d', 6), true);
    assert.equal(reg.owner('d'), -1);
    assert.equal(slots(sab)[slot]! & 0xffn, FREE, 'the slot keeps the hash, owner byte free');
    assert.equal(reg.release('d', 6), false, 'a released id cannot be released again');
    assert.deepEqual(reg.stats(), { live: 0, free: 1, empty: 63, tombstones: 1, slots: 64 });
    assert.equal(reg.claim('d', 2), 2);
    assert.equal(reg.owner('d'), 2);
    assert.equal(slots(sab).findIndex((v) => v !== 0n), slot, 'the same slot, no second one');
    assert.equal(reg.claim('d', 3), 2, 'claimed again: owned, not free');
    assert.deepEqual(reg.stats(), { live: 1, free: 0, empty: 63, tombstones: 0, slots: 64 });
  });

  test('transfer of a released id fails and does not revive it', () => {
    const reg = new ClientRegistry(createRegistry(64));
    reg.claim('e', 1);
    assert.equal(reg.release('e', 1), true);
    for (const [from, to] of [[1, 2], [1, 1], [0, 254], [254, 0]] as const) {
      assert.equal(reg.transfer('e', from, to), false, `transfer ${from} → ${to}`);
    }
    assert.equal(reg.owner('e'), -1);
    assert.deepEqual(reg.stats(), { live: 0, free: 1, empty: 63, tombstones: 1, slots: 64 });
    assert.equal(reg.claim('e', 4), 4);
    assert.equal(reg.transfer('e', 4, 5), true);
    assert.equal(reg.owner('e'), 5);
  });

  test('1,000,000 claim/release cycles of the same 100 ids fit in a 1024-slot table', () => {
    const sab = createRegistry(1024);
    const reg = new ClientRegistry(sab);
    const ids = Array.from({ length: 100 }, (_, i) => `device-${i}`);
    for (let cycle = 0; cycle < 1_000_000; cycle++) {
      const id = ids[cycle % ids.length]!;
      const worker = cycle % 255;
      const got = reg.claim(id, worker);
      if (got !== worker) assert.fail(`cycle ${cycle}: claim(${id}, ${worker}) returned ${got}`);
      if (!reg.release(id, worker)) assert.fail(`cycle ${cycle}: release(${id}, ${worker}) failed`);
    }
    assert.deepEqual(reg.stats(), { live: 0, free: 100, empty: 924, tombstones: 100, slots: 1024 });
    for (const id of ids) assert.equal(reg.owner(id), -1, id);
    ids.forEach((id, i) => assert.equal(reg.claim(id, i % 4), i % 4, id));
    assert.deepEqual(reg.stats(), { live: 100, free: 0, empty: 924, tombstones: 0, slots: 1024 });
  });

  test('lookups, transfers and releases walk past other ids\' free slots; a free slot is never given to another id', () => {
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
    const aValue = slots(sab)[home]!;
    assert.equal(reg.release(a, 1), true);
    assert.equal(slots(sab)[home], aValue | FREE, 'a free slot in front of the second id');
    assert.equal(reg.owner(b), 2);
    assert.equal(reg.claim(b, 3), 2, 'no second entry in the free slot');
    assert.equal(reg.transfer(b, 2, 3), true);
    assert.equal(reg.owner(b), 3);
    assert.equal(reg.release(b, 3), true);
    assert.equal(reg.owner(b), -1);
    assert.equal(reg.claim(b, 5), 5, 'b takes its own slot, not the free one in front of it');
    assert.equal(slots(sab)[(home + 1) % SIZE]! & 0xffn, 5n);
    assert.equal(slots(sab)[home], aValue | FREE);
    // a third id with the same home slot walks past both
    const c = ids.find((id, i) => homes[i] === home && id !== a && id !== b);
    assert.ok(c !== undefined, 'three of the ids share a home slot');
    assert.equal(reg.claim(c, 6), 6);
    assert.equal(slots(sab)[home], aValue | FREE, 'a free slot is never given to another id');
    assert.equal(slots(sab)[(home + 2) % SIZE]! & 0xffn, 6n);
    assert.equal(reg.release(c, 6), true);
    assert.equal(reg.claim(a, 4), 4);
    assert.equal(slots(sab)[home], (aValue | FREE) - FREE + 4n, 'a takes its own slot back');
    assert.deepEqual(reg.stats(), { live: 2, free: 1, empty: SIZE - 3, tombstones: 1, slots: SIZE });
  });

  test('releaseAll frees exactly the ids of one worker, and they can be claimed again in their slots', () => {
    const sab = createRegistry(256);
    const reg = new ClientRegistry(sab);
    for (let i = 0; i < 100; i++) reg.claim(`c${i}`, i % 4);
    const before = slots(sab);
    reg.release('c1', 1);
    assert.equal(reg.releaseAll(1), 24, 'an id released before is not counted again');
    for (let i = 0; i < 100; i++) assert.equal(reg.owner(`c${i}`), i % 4 === 1 ? -1 : i % 4, `c${i}`);
    assert.equal(reg.releaseAll(1), 0);
    assert.equal(reg.releaseAll(0), 25, 'empty 0n is not an entry of worker 0');
    assert.equal(reg.releaseAll(0), 0);
    assert.deepEqual(reg.stats(), { live: 50, free: 50, empty: 156, tombstones: 50, slots: 256 });
    slots(sab).forEach((v, i) => {
      const was = before[i]!;
      assert.equal(v, was === 0n || (was & 0xffn) >= 2n ? was : was | FREE, `slot ${i}`);
    });
    assert.equal(reg.transfer('c4', 0, 2), false, 'no transfer out of a free slot');
    for (let i = 0; i < 100; i += 4) assert.equal(reg.claim(`c${i}`, 3), 3, `c${i}`);
    assert.deepEqual(reg.stats(), { live: 75, free: 25, empty: 156, tombstones: 25, slots: 256 });
  });

  test('a full table returns -2, and lookups in it terminate', () => {
    const SIZE = 8;
    const reg = new ClientRegistry(createRegistry(SIZE));
    for (let i = 0; i < SIZE; i++) assert.equal(reg.claim(`f${i}`, 1), 1);
    assert.equal(reg.claim('one-too-many', 1), -2);
    assert.equal(reg.claim('f3', 2), 1, 'an existing id is still found');
    for (let i = 0; i < SIZE - 1; i++) assert.equal(reg.release(`f${i}`, 1), true);
    assert.deepEqual(reg.stats(), { live: 1, free: SIZE - 1, empty: 0, tombstones: SIZE - 1, slots: SIZE });
    assert.equal(reg.owner(`f${SIZE - 1}`), 1);
    assert.equal(reg.owner('f0'), -1);
    assert.equal(reg.owner('never'), -1);
    assert.equal(reg.claim('never', 1), -2, 'free slots do not make room for other ids');
    assert.equal(reg.claim('f0', 2), 2, 'a released id claims its own slot in a full table');
    assert.equal(reg.owner('f0'), 2);
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
  test('4 threads claiming, taking over and releasing the same 100 ids: ownership is conserved, one slot per id', { timeout: 60_000 }, async () => {
    const WORKERS = 4;
    const IDS = 100;
    const ROUNDS = 2_000;
    const registry = createRegistry(1024);
    const shared = new SharedArrayBuffer(4 * Object.keys(CHURN).length);
    const workers = Array.from({ length: WORKERS }, (_, worker) =>
      new Worker(CHURNER, { eval: true, workerData: { url: REGISTRY_URL, registry, shared, worker, workers: WORKERS, ids: IDS, rounds: ROUNDS } }));
    try {
      await Promise.all(workers.map((w) => new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      })));
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
    const counts = new Int32Array(shared);
    const n = (k: keyof typeof CHURN) => counts[CHURN[k]]!;
    const shown = JSON.stringify(Object.fromEntries(Object.keys(CHURN).map((k) => [k, n(k as keyof typeof CHURN)])));
    assert.equal(n('notClaimed'), 0, `claim() returned -2 or -1: ${shown}`);
    assert.equal(n('claimsWon') + n('transfersWon') + n('transfersLost'), WORKERS * ROUNDS * IDS, shown);
    assert.ok(n('transfersWon') > 0, `the threads never ran into each other: ${shown}`);
    assert.equal(n('released'), n('claimsWon'), `every won claim ends in exactly one release: ${shown}`);
    const hashes = new Set<bigint>();
    for (const v of slots(registry)) {
      if (v === 0n) continue;
      assert.equal(v & 0xffn, FREE, 'every id released at the end');
      assert.ok(!hashes.has(v >> 8n), `duplicate entry ${(v >> 8n).toString(16)}`);
      hashes.add(v >> 8n);
    }
    assert.equal(hashes.size, IDS);
    const reg = new ClientRegistry(registry);
    for (let i = 0; i < IDS; i++) assert.equal(reg.owner(`churn-${i}`), -1);
    assert.deepEqual(reg.stats(), { live: 0, free: IDS, empty: 1024 - IDS, tombstones: IDS, slots: 1024 });
  });

  test('4 threads racing to claim the same 50,000 ids leave one entry per id and agree on every owner', { timeout: 60_000 }, async () => {
    const WORKERS = 4;
    const COUNT = 50_000;
    const registry = createRegistry(131_072);
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
      if (v === 0n) continue;
      const hash = v >> 8n;
      assert.ok(!hashes.has(hash), `duplicate entry ${hash.toString(16)}`);
      hashes.add(hash);
    }
    assert.equal(hashes.size, COUNT);
    assert.deepEqual(reg.stats(), { live: COUNT, free: 0, empty: 131_072 - COUNT, tombstones: 0, slots: 131_072 });
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { ClientRegistry, createRegistry } from '../../../src/workers/registry.ts';
import type { RegistryClaimerData } from './registryClaimer.ts';

/** The raw slot values of a registry (after its 16-byte header). */
const slots = (sab: SharedArrayBuffer): bigint[] => Array.from(new BigInt64Array(sab, 16));

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

/** The slots in use of a registry, raw. */
const used = (sab: SharedArrayBuffer): bigint[] => slots(sab).slice(0, new ClientRegistry(sab).stats().slots);

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
    assert.deepEqual(reg.stats(), { live: 3, empty: 61, slots: 64, maxSlots: 64 });
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
    assert.equal(reg.stats().live, 1);
  });

  test('release frees an id only for its owner and empties its slot; the id can be claimed again', () => {
    const sab = createRegistry(64);
    const reg = new ClientRegistry(sab);
    reg.claim('d', 6);
    assert.equal(reg.release('d', 5), false);
    assert.equal(reg.owner('d'), 6);
    assert.equal(reg.release('d', 6), true);
    assert.equal(reg.owner('d'), -1);
    assert.ok(used(sab).every((v) => v === 0n), 'no slot left behind');
    assert.equal(reg.release('d', 6), false, 'a released id cannot be released again');
    assert.equal(reg.transfer('d', 6, 2), false, 'nor moved');
    assert.equal(reg.claim('d', 2), 2);
    assert.equal(reg.claim('d', 3), 2, 'claimed again: owned');
    assert.equal(reg.stats().live, 1);
  });

  test('1,000,000 distinct ids claimed and released one after another fit in a 1024-slot table (clients with random ids never fill it)', () => {
    const reg = new ClientRegistry(createRegistry(1024, 16));
    const live: string[] = [];
    for (let n = 0; n < 1_000_000; n++) {
      const id = `mqttjs_${n.toString(16)}`;
      const worker = n % 255;
      const got = reg.claim(id, worker);
      if (got !== worker) assert.fail(`claim ${n} (${id}) returned ${got}`);
      live.push(id);
      // about 100 connected at a time
      if (live.length > 100) {
        const old = live.shift()!;
        const at = (n - 100) % 255;
        if (!reg.release(old, at)) assert.fail(`release of ${old} failed`);
      }
    }
    assert.deepEqual(reg.stats(), { live: 100, empty: 156, slots: 256, maxSlots: 1024 });
    for (const id of live) assert.notEqual(reg.owner(id), -1, id);
    assert.equal(reg.owner('mqttjs_0'), -1);
  });

  test('ids sharing a home slot: releasing one moves the next back, and every other id is still found', () => {
    const SIZE = 16;
    const sab = createRegistry(SIZE, SIZE);
    const reg = new ClientRegistry(sab);
    // 7 ids (under half of 16), many of them colliding in so small a table
    const ids = Array.from({ length: 7 }, (_, i) => `dev-${i}`);
    ids.forEach((id, i) => assert.equal(reg.claim(id, i), i));
    for (const gone of ids) {
      assert.equal(reg.release(gone, ids.indexOf(gone)), true);
      ids.forEach((id, i) => assert.equal(reg.owner(id), id === gone ? -1 : i, `${id} after ${gone} left`));
      assert.equal(reg.claim(gone, ids.indexOf(gone)), ids.indexOf(gone));
    }
    assert.equal(used(sab).filter((v) => v !== 0n).length, 7);
  });

  test('random claims, transfers and releases agree with a plain Map at every step, across growth', () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const sab = createRegistry(4096, 4);
    const reg = new ClientRegistry(sab);
    const model = new Map<string, number>();
    for (let step = 0; step < 200_000; step++) {
      const id = `c${rand(1500)}`;
      const w = rand(8);
      const op = rand(4);
      const owner = model.get(id) ?? -1;
      if (op === 0 || op === 1) {
        const got = reg.claim(id, w);
        assert.equal(got, owner >= 0 ? owner : w, `step ${step}: claim ${id}`);
        if (owner < 0) model.set(id, w);
      } else if (op === 2) {
        assert.equal(reg.release(id, w), owner === w, `step ${step}: release ${id} by ${w}`);
        if (owner === w) model.delete(id);
      } else {
        assert.equal(reg.transfer(id, w, (w + 1) % 8), owner === w, `step ${step}: transfer ${id}`);
        if (owner === w) model.set(id, (w + 1) % 8);
      }
      if (step % 20_000 === 0) for (const [k, v] of model) assert.equal(reg.owner(k), v, `step ${step}: ${k}`);
    }
    for (let i = 0; i < 1500; i++) assert.equal(reg.owner(`c${i}`), model.get(`c${i}`) ?? -1);
    const s = reg.stats();
    assert.equal(s.live, model.size);
    assert.ok(s.slots >= 2 * model.size && s.slots <= 4096, `grew to ${s.slots}`);
    assert.equal(used(sab).filter((v) => v !== 0n).length, model.size, 'one slot per live id');
  });

  test('the table starts small and doubles as ids come: its memory follows the ids, not its largest size', () => {
    const sab = createRegistry(1 << 24);
    const reg = new ClientRegistry(sab);
    assert.ok(sab.byteLength <= 64 * 1024, `starts at ${sab.byteLength} bytes`);
    for (let i = 0; i < 15_000; i++) reg.claim(`device-${i}`, i % 2);
    assert.deepEqual(reg.stats(), { live: 15_000, empty: 32_768 - 15_000, slots: 32_768, maxSlots: 1 << 24 });
    assert.ok(sab.byteLength <= 16 + 32_768 * 8, `${sab.byteLength} bytes for 15,000 ids`);
    for (let i = 0; i < 15_000; i++) assert.equal(reg.owner(`device-${i}`), i % 2);
  });

  test('releaseAll frees exactly the ids of one worker, and they can be claimed again', () => {
    const reg = new ClientRegistry(createRegistry(256));
    for (let i = 0; i < 100; i++) reg.claim(`c${i}`, i % 4);
    reg.release('c1', 1);
    assert.equal(reg.releaseAll(1), 24, 'an id released before is not counted again');
    for (let i = 0; i < 100; i++) assert.equal(reg.owner(`c${i}`), i % 4 === 1 ? -1 : i % 4, `c${i}`);
    assert.equal(reg.releaseAll(1), 0);
    assert.equal(reg.releaseAll(0), 25, 'an empty slot is not an entry of worker 0');
    assert.equal(reg.releaseAll(0), 0);
    assert.equal(reg.stats().live, 50);
    for (let i = 0; i < 100; i += 4) assert.equal(reg.claim(`c${i}`, 3), 3, `c${i}`);
    assert.equal(reg.stats().live, 75);
  });

  test('a table at its largest takes ids up to 15/16 full, then claim() of a new id returns -2; lookups terminate', () => {
    const SIZE = 16;
    const reg = new ClientRegistry(createRegistry(SIZE, 2));
    for (let i = 0; i < 15; i++) assert.equal(reg.claim(`f${i}`, 1), 1);
    assert.equal(reg.claim('one-too-many', 1), -2);
    assert.equal(reg.owner('one-too-many'), -1);
    assert.equal(reg.claim('f3', 2), 1, 'an existing id is still found');
    assert.equal(reg.release('f0', 1), true);
    assert.equal(reg.claim('one-too-many', 1), 1, 'a released slot makes room for another id');
    assert.deepEqual(reg.stats(), { live: 15, empty: 1, slots: SIZE, maxSlots: SIZE });
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
    assert.throws(() => createRegistry(16, 32), RangeError);
    assert.throws(() => new ClientRegistry(new SharedArrayBuffer(24)), RangeError);
  });
});

describe('client registry: threads', () => {
  test('4 threads claiming, taking over and releasing the same 100 ids: ownership is conserved, one slot per id', { timeout: 60_000 }, async () => {
    const WORKERS = 4;
    const IDS = 100;
    const ROUNDS = 2_000;
    const registry = createRegistry(1024, 1024);
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
    const reg = new ClientRegistry(registry);
    assert.ok(used(registry).every((v) => v === 0n), 'every id released at the end, no slot left behind');
    for (let i = 0; i < IDS; i++) assert.equal(reg.owner(`churn-${i}`), -1);
    assert.deepEqual(reg.stats(), { live: 0, empty: 1024, slots: 1024, maxSlots: 1024 });
  });

  test('4 threads racing to claim the same 50,000 ids leave one entry per id and agree on every owner', { timeout: 60_000 }, async () => {
    const WORKERS = 4;
    const COUNT = 50_000;
    // starts at 4096 slots: the threads grow it while they race
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
    for (const v of used(registry)) {
      if (v === 0n) continue;
      const hash = v >> 8n;
      assert.ok(!hashes.has(hash), `duplicate entry ${hash.toString(16)}`);
      hashes.add(hash);
    }
    assert.equal(hashes.size, COUNT);
    assert.deepEqual(reg.stats(), { live: COUNT, empty: 131_072 - COUNT, slots: 131_072, maxSlots: 131_072 });
  });
});

/**
 * The main thread's start-up pass over the store (src/persistence/startup.ts): every stored
 * message ends up with exactly one owning worker, and messages no queue entry refers to are
 * deleted, so that each worker can count and delete its own copies (src/broker/journal.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { open } from 'lmdb';
import type { Key } from 'lmdb';
import { VERSION, encodeMessage, encodeQueueEntry } from '../../../src/persistence/format.ts';
import type { BrokerConfig } from '../../../src/config/types.ts';
import type { Logger } from '../../../src/log.ts';
import { checkStore } from '../../../src/persistence/startup.ts';
import { Store } from '../../../src/persistence/store.ts';
import { plainMessage, queueEntry, recordingLog, sessionMeta, tempDir } from './helpers.ts';

function configFor(dir: string): BrokerConfig {
  return { persistenceLocation: path.join(dir, 'db'), persistenceDurability: 'sync', persistenceBatchWindowMs: 50 } as BrokerConfig;
}

const quietLog = (): Logger & { warnings: string[] } => {
  const r = recordingLog();
  return { ...r, info: () => {}, notice: () => {}, debug: () => {}, subscribe: () => {}, unsubscribe: () => {}, connection: () => {} } as unknown as Logger & { warnings: string[] };
};

/** Writes raw values into one keyspace (as a damaged store would hold them). */
async function writeRaw(dir: string, keyspace: string, entries: [Key, Uint8Array][]): Promise<void> {
  const root = open<Buffer, Key>({ path: dir, maxDbs: 16, overlappingSync: false, encoding: 'binary', maxReaders: 1024 });
  const db = root.openDB<Buffer, Key>(keyspace, { encoding: 'binary' });
  for (const [k, v] of entries) db.putSync(k, Buffer.from(v));
  await root.close();
}

test('messages no entry refers to are deleted; a message that sessions of two workers share is copied for the second worker; entries keep their order and fields', async () => {
  const t = tempDir();
  try {
    const store = Store.open({ path: path.join(t.dir, 'db'), durability: 'sync', batchWindowMs: 50 });
    for (const seq of [1, 2, 3]) store.putMessage(seq, plainMessage(seq));
    // a (worker 0) and b (worker 1 of 2) both queue message 1; c (worker 0) queues 2; 3 is an orphan
    store.putSession('a', sessionMeta({ owner: 0 }));
    store.putSession('b', sessionMeta({ owner: 1 }));
    store.putSession('c', sessionMeta({ owner: 2 }));
    store.putQueued('a', 1, queueEntry(1));
    store.putQueued('b', 7, queueEntry(1, { p: 9, s: 1 }));
    store.putQueued('b', 8, queueEntry(2, { q: 0 }));
    store.putQueued('c', 1, queueEntry(2));
    await store.flush();
    await store.close();

    const check = await checkStore(configFor(t.dir), quietLog(), 2);
    assert.equal(check.sessions, 3);
    assert.equal(check.queued, 4);

    const after = Store.open({ path: path.join(t.dir, 'db'), durability: 'sync', batchWindowMs: 50 });
    try {
      const messages = after.loadMessages();
      const queues = new Map(after.loadSessions().map((s) => [s.clientId, s.queue]));
      assert.equal(messages.has(3), false, 'the orphan is gone');
      const a = queues.get('a')!;
      const b = queues.get('b')!;
      const c = queues.get('c')!;
      // the first session seen keeps a message; a session of another worker gets its own copy
      const owners = new Map<number, number>();
      for (const [q, w] of [[a, 0], [b, 1], [c, 0]] as const) {
        for (const { entry } of q) {
          assert.ok(messages.has(entry.m), `entry refers to stored message ${entry.m}`);
          const o = owners.get(entry.m);
          assert.ok(o === undefined || o === w, `message ${entry.m} is referred to by workers ${o} and ${w}`);
          owners.set(entry.m, w);
        }
      }
      assert.deepEqual(b.map((e) => e.qseq), [7, 8]);
      assert.deepEqual(b.map((e) => [e.entry.p, e.entry.s, e.entry.q]), [[9, 1, 1], [0, 0, 0]]);
      assert.deepEqual(messages.get(b[0]!.entry.m), plainMessage(1));
      assert.deepEqual(messages.get(b[1]!.entry.m), plainMessage(2));
      assert.equal(check.messages, messages.size);
    } finally {
      await after.close();
    }
  } finally {
    t.remove();
  }
});

test('with one worker nothing is copied and every referenced message stays under its seq', async () => {
  const t = tempDir();
  try {
    const store = Store.open({ path: path.join(t.dir, 'db'), durability: 'sync', batchWindowMs: 50 });
    store.putMessage(5, plainMessage(5));
    store.putSession('a', sessionMeta({ owner: 0 }));
    store.putSession('b', sessionMeta({ owner: 3 }));
    store.putQueued('a', 1, queueEntry(5));
    store.putQueued('b', 1, queueEntry(5));
    await store.flush();
    await store.close();
    await checkStore(configFor(t.dir), quietLog(), 1);
    const after = Store.open({ path: path.join(t.dir, 'db'), durability: 'sync', batchWindowMs: 50 });
    try {
      assert.deepEqual([...after.loadMessages().keys()], [5]);
      assert.deepEqual(after.loadSessions().map((s) => s.queue[0]!.entry.m), [5, 5]);
    } finally {
      await after.close();
    }
  } finally {
    t.remove();
  }
});

test('after a crash the pass over every entry writes the tallies a clean stop would: counts, payload bytes, qseq range, sent entries, each worker\'s reference counts', async () => {
  const t = tempDir();
  try {
    const store = Store.open({ path: path.join(t.dir, 'db'), durability: 'sync', batchWindowMs: 50 });
    for (const seq of [1, 2, 3]) store.putMessage(seq, plainMessage(seq)); // payloads 'm1' .. 'm3': 2 bytes
    store.putSession('a', sessionMeta({ owner: 0 }));
    store.putSession('b', sessionMeta({ owner: 1 }));
    store.putSession('empty', sessionMeta({ owner: 0 }));
    store.putQueued('a', 4, queueEntry(1, { p: 7, s: 1 })); // sent: listed, not counted
    store.putQueued('a', 5, queueEntry(1));
    store.putQueued('a', 6, { m: 0, x: { ...plainMessage(9), p: Buffer.alloc(100) }, q: 1, r: false, i: undefined, p: 0, s: 0 });
    store.putQueued('a', 7, queueEntry(2));
    store.putQueued('a', 8, queueEntry(99)); // its message is not stored: counted with 0 bytes, no reference
    store.putQueued('b', 1, queueEntry(2)); // worker 1 shares message 2 with worker 0: gets a copy
    store.putQueued('b', 2, queueEntry(3));
    await store.flush();
    await store.close();

    const check = await checkStore(configFor(t.dir), quietLog(), 2);
    assert.equal(check.queued, 7);
    assert.equal(check.messages, 4, 'three messages and one copy');
    assert.ok(check.cleanRun !== undefined && check.unclean !== undefined);

    const after = Store.open({ path: path.join(t.dir, 'db'), durability: 'sync', batchWindowMs: 50 });
    try {
      // the reference counts are handed to the workers, not written: without them the workers read every entry
      assert.equal(after.loadOwnSessions((m) => m.owner % 2 === 0, 0, check.cleanRun).refs, undefined);
      assert.ok(check.refs?.length === 2 && check.refs.every((r) => r.seqs.buffer instanceof SharedArrayBuffer));
      const w0 = after.loadOwnSessions((m) => m.owner % 2 === 0, 0, check.cleanRun, check.refs[0]);
      const w1 = after.loadOwnSessions((m) => m.owner % 2 === 1, 1, check.cleanRun, check.refs[1]);
      assert.ok(w0.refs !== undefined && w1.refs !== undefined, 'the workers start from the tallies');
      const a = w0.sessions.find((s) => s.clientId === 'a')!;
      assert.deepEqual(a.queue.map((e) => [e.qseq, e.entry.p]), [[4, 7]]);
      assert.deepEqual(a.disk, { after: 4, last: 8, count: 4, bytes: 2 + 100 + 2 + 0, refs: [], tallied: true });
      assert.equal(w0.sessions.find((s) => s.clientId === 'empty')!.disk, undefined);
      assert.deepEqual([...w0.refs.seqs], [1, 2]);
      assert.deepEqual([...w0.refs.counts], [1, 1]);
      const b = w1.sessions.find((s) => s.clientId === 'b')!;
      assert.deepEqual(b.disk, { after: 0, last: 2, count: 2, bytes: 4, refs: [], tallied: true });
      const copy = after.getQueued('b', 1)!.m;
      assert.ok(copy > 3, 'b\'s entry refers to worker 1\'s copy');
      assert.deepEqual(after.getMessage(copy), plainMessage(2));
      assert.deepEqual([...w1.refs.seqs], [3, copy]);
      assert.deepEqual([...w1.refs.counts], [1, 1]);
    } finally {
      await after.close();
    }
  } finally {
    t.remove();
  }
});

test('after a crash a corrupt entry, message or inbound id, and an orphan entry, are quarantined by the pass and left out of the tallies', async () => {
  const t = tempDir();
  const db = path.join(t.dir, 'db');
  try {
    const store = Store.open({ path: db, durability: 'sync', batchWindowMs: 50 });
    for (const seq of [1, 2]) store.putMessage(seq, plainMessage(seq));
    store.putSession('c', sessionMeta({ owner: 0 }));
    store.putQueued('c', 1, queueEntry(1));
    store.putQueued('c', 3, queueEntry(2));
    await store.flush();
    await store.close();
    const truncated = encodeQueueEntry(queueEntry(1)).subarray(0, 8);
    const badMessage = encodeMessage(plainMessage(2));
    badMessage[0] = 200;
    await writeRaw(db, 'queue', [
      [['c', 2], truncated],
      [['c', 4], Buffer.from([VERSION.queue, 0xc1])],
      [['nobody', 1], encodeQueueEntry(queueEntry(1))],
      // keys that are not [client id, qseq], among and after c's entries
      [['c', 'x'], encodeQueueEntry(queueEntry(1))],
      [['c', 5, 1], encodeQueueEntry(queueEntry(1))],
      [['c', 2.5], encodeQueueEntry(queueEntry(1))],
      ['loose', encodeQueueEntry(queueEntry(1))],
    ]);
    await writeRaw(db, 'messages', [[2, badMessage], [5, Buffer.from('garbage')]]);
    await writeRaw(db, 'inbound', [[['c', 3], Buffer.from([VERSION.inbound, 1, 2])]]);

    const log = quietLog();
    const check = await checkStore(configFor(t.dir), log, 1);
    const text = log.warnings.join('\n');
    assert.match(text, /queue record \["c",2\] moved to quarantine: undecodable msgpack/);
    assert.match(text, /queue record \["c",4\] moved to quarantine/);
    assert.match(text, /queue record \["nobody",1\] moved to quarantine: orphan/);
    for (const key of ['\\["c","x"\\]', '\\["c",5,1\\]', '\\["c",2.5\\]', '"loose"']) assert.match(text, new RegExp(`queue record ${key} moved to quarantine: key is not \\[client id, qseq\\]`));
    assert.match(text, /messages record 2 moved to quarantine: unknown version byte 200/);
    assert.match(text, /messages record 5 moved to quarantine/);
    assert.match(text, /inbound record \["c",3\] moved to quarantine/);
    assert.equal(log.warnings.length, 10, text);
    assert.equal(check.queued, 2);
    assert.equal(check.messages, 1);

    const after = Store.open({ path: db, durability: 'sync', batchWindowMs: 50 });
    try {
      assert.equal(after.loadQuarantine().length, 10);
      const w0 = after.loadOwnSessions(() => true, 0, check.cleanRun, check.refs?.[0]);
      // entry 3's message went to quarantine: it counts (0 bytes) until the worker reads it back and drops it
      assert.deepEqual(w0.sessions[0]!.disk, { after: 0, last: 3, count: 2, bytes: 2, refs: [], tallied: true });
      assert.deepEqual([...w0.refs!.seqs], [1]);
    } finally {
      await after.close();
    }
  } finally {
    t.remove();
  }
});

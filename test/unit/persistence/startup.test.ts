/**
 * The main thread's start-up pass over the store (src/persistence/startup.ts): every stored
 * message ends up with exactly one owning worker, and messages no queue entry refers to are
 * deleted, so that each worker can count and delete its own copies (src/broker/journal.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { BrokerConfig } from '../../../src/config/types.ts';
import type { Logger } from '../../../src/log.ts';
import { checkStore } from '../../../src/persistence/startup.ts';
import { Store } from '../../../src/persistence/store.ts';
import { plainMessage, queueEntry, recordingLog, sessionMeta, tempDir } from './helpers.ts';

function configFor(dir: string): BrokerConfig {
  return { persistenceLocation: path.join(dir, 'db'), persistenceDurability: 'sync', persistenceBatchWindowMs: 50 } as BrokerConfig;
}

const quietLog = (): Logger => {
  const r = recordingLog();
  return { ...r, info: () => {}, notice: () => {}, debug: () => {}, subscribe: () => {}, unsubscribe: () => {}, connection: () => {} } as unknown as Logger;
};

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

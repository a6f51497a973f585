import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { open, type Key } from 'lmdb';
import { Store, type StoreOptions } from '../../../src/persistence/store.ts';
import { StoreError } from '../../../src/persistence/errors.ts';
import { VERSION, encodeFormat, encodeMessage, encodeQueueEntry } from '../../../src/persistence/format.ts';
import { fullMessage, nodeBin, plainMessage, queueEntry, recordingLog, sessionMeta, tempDir } from './helpers.ts';

function openStore(dir: string, extra: Partial<StoreOptions> = {}): Store {
  return Store.open({ path: dir, durability: 'sync', batchWindowMs: 50, ...extra });
}

/** Runs `body` with a fresh store in a temp dir; closes the store and removes the dir afterwards. */
async function withStore(body: (s: Store, dir: string) => Promise<void>, extra: Partial<StoreOptions> = {}): Promise<void> {
  const t = tempDir();
  const s = openStore(t.dir, extra);
  try {
    await body(s, t.dir);
  } finally {
    await s.close();
    t.remove();
  }
}

/** Writes raw values with lmdb-js directly (the store must be closed), as a damaged or foreign writer would. */
async function writeRaw(dir: string, keyspace: string, entries: [Key, Uint8Array][]): Promise<void> {
  const root = open<Buffer, Key>({ path: dir, maxDbs: 16, overlappingSync: false, encoding: 'binary', maxReaders: 1024 });
  const db = root.openDB<Buffer, Key>(keyspace, { encoding: 'binary' });
  for (const [k, v] of entries) db.putSync(k, Buffer.from(v));
  await root.close();
}

describe('Store round-trips', () => {
  test('messages come back by seq with bytes, properties and user-property order', async () => {
    await withStore(async (s) => {
      s.putMessage(1, fullMessage(1));
      s.putMessage(2, plainMessage(2));
      s.putMessage(2 ** 40, fullMessage('big'));
      await s.commit();
      const m = s.loadMessages();
      assert.deepEqual([...m.keys()], [1, 2, 2 ** 40]);
      assert.deepEqual(m.get(1), fullMessage(1));
      assert.deepEqual(m.get(2), plainMessage(2));
      assert.deepEqual(m.get(2 ** 40)?.up, fullMessage('big').up);
      assert.ok(Buffer.isBuffer(m.get(1)?.p));
      s.deleteMessage(2);
      await s.commit();
      assert.deepEqual([...s.loadMessages().keys()], [1, 2 ** 40]);
    });
  });

  test('sessions come back with their queue in qseq order and their inbound ids', async () => {
    await withStore(async (s) => {
      s.putSession('c1', sessionMeta());
      s.putSession('c2', sessionMeta({ owner: 0, user: undefined, will: undefined }));
      for (const qseq of [10, 2, 300, 1]) s.putQueued('c1', qseq, queueEntry(qseq * 100, { p: qseq, s: 1 }));
      s.putQueued('c2', 5, queueEntry(9, { i: [3, 4] }));
      s.putInbound('c1', 65535);
      s.putInbound('c1', 1);
      await s.commit();
      const loaded = s.loadSessions();
      assert.deepEqual(loaded.map((x) => x.clientId), ['c1', 'c2']);
      const [c1, c2] = loaded;
      assert.deepEqual(c1!.meta, sessionMeta());
      assert.deepEqual(c1!.queue.map((q) => q.qseq), [1, 2, 10, 300]);
      assert.deepEqual(c1!.queue[2], { qseq: 10, entry: queueEntry(1000, { p: 10, s: 1 }) });
      assert.deepEqual(c1!.inbound, [1, 65535]);
      assert.deepEqual(c2!.meta, sessionMeta({ owner: 0, user: undefined, will: undefined }));
      assert.deepEqual(c2!.queue, [{ qseq: 5, entry: queueEntry(9, { i: [3, 4] }) }]);
      assert.deepEqual(c2!.inbound, []);
      // updates replace, deletes remove
      s.putQueued('c1', 2, queueEntry(200, { p: 77, s: 2 }));
      s.deleteQueued('c1', 300);
      s.deleteInbound('c1', 1);
      s.putSession('c2', sessionMeta({ owner: 5 }));
      await s.commit();
      const again = s.loadSessions();
      assert.deepEqual(again[0]!.queue.map((q) => [q.qseq, q.entry.p, q.entry.s]), [[1, 1, 1], [2, 77, 2], [10, 10, 1]]);
      assert.deepEqual(again[0]!.inbound, [65535]);
      assert.equal(again[1]!.meta.owner, 5);
    });
  });

  test('retained messages come back by topic and can be deleted', async () => {
    await withStore(async (s) => {
      s.putRetained('sensors/1/temp', fullMessage(1));
      s.putRetained('a', { ...plainMessage(7), t: 'a' });
      s.putRetained('sensors/1/temp', fullMessage(1)); // replace
      await s.commit();
      assert.deepEqual(s.loadRetained(), [{ ...plainMessage(7), t: 'a' }, fullMessage(1)]);
      s.deleteRetained('a');
      await s.commit();
      assert.deepEqual(s.loadRetained(), [fullMessage(1)]);
    });
  });

  test('client ids and topics longer than a key can be are stored under hashed keys and read back whole', async () => {
    await withStore(async (s) => {
      const longId = `client-${'é'.repeat(3000)}`;
      const longTopic = `t/${'x'.repeat(60_000)}`;
      s.putSession(longId, sessionMeta());
      s.putQueued(longId, 1, queueEntry(1));
      s.putInbound(longId, 9);
      s.putRetained(longTopic, { ...plainMessage(1), t: longTopic });
      await s.commit();
      const [loaded] = s.loadSessions();
      assert.equal(loaded?.clientId, longId);
      assert.deepEqual(loaded?.queue, [{ qseq: 1, entry: queueEntry(1) }]);
      assert.deepEqual(loaded?.inbound, [9]);
      assert.equal(s.loadRetained()[0]?.t, longTopic);
      const oddId = `${'d'.repeat(70)}\u0001\u0004\u001f`; // control characters: a hashed key too
      s.putSession(oddId, sessionMeta());
      s.putQueued(oddId, 3, queueEntry(3));
      await s.commit();
      assert.deepEqual(s.loadSessions().map((x) => [x.clientId, x.queue.length]).sort(), [[longId, 1], [oddId, 1]].sort());
      s.deleteSession(longId);
      s.deleteSession(oddId);
      s.deleteRetained(longTopic);
      await s.commit();
      assert.deepEqual(s.loadSessions(), []);
      assert.deepEqual(s.loadRetained(), []);
    });
  });
});

describe('start-up reads', () => {
  test('loadSessions(owned) gives a worker its sessions only, each with its queue on disk (counted, read back by readQueued) and inbound ids (a client id that is a prefix of another, and a hashed long one, included)', async () => {
    await withStore(async (s) => {
      const long = 'x'.repeat(600);
      const ids = ['c', 'c1', 'c10', long, 'd'];
      ids.forEach((id, i) => {
        s.putSession(id, sessionMeta({ owner: i % 2 }));
        for (let q = 1; q <= 3; q++) s.putQueued(id, q, queueEntry(i * 10 + q));
        s.putInbound(id, i + 1);
      });
      await s.commit();
      const all = s.loadSessions();
      for (const w of [0, 1]) {
        const mine = s.loadSessions((meta) => meta.owner === w);
        assert.deepEqual(mine.map((x) => x.clientId), ids.filter((_, i) => i % 2 === w).sort());
        for (const x of mine) {
          const full = all.find((y) => y.clientId === x.clientId)!;
          // the worker's load leaves the queued entries on disk: their count and range, and readQueued gives them back in order
          assert.deepEqual({ ...x, queue: undefined, disk: undefined }, { ...full, queue: undefined, disk: undefined }, x.clientId.slice(0, 10));
          assert.deepEqual(x.queue, []);
          assert.deepEqual(x.disk, { after: 0, last: 3, count: 3, bytes: 0, refs: full.queue.map((q) => q.entry.m) });
          // each with its stored bytes: the entry as encoded (what a send patches)
          const read = s.readQueued(x.clientId, 0, 10);
          assert.deepEqual(read.map(({ qseq, entry }) => ({ qseq, entry })), full.queue);
          for (const r of read) assert.deepEqual(Buffer.from(r.raw), encodeQueueEntry(r.entry));
          assert.deepEqual(s.readQueued(x.clientId, 1, 1).map(({ qseq, entry }) => ({ qseq, entry })), full.queue.slice(1, 2));
        }
      }
    });
  });

  test('messageSeqs lists the log without reading it; getMessage moves an unreadable message to quarantine and logs it', async () => {
    const t = tempDir();
    try {
      const a = openStore(t.dir);
      a.putMessage(1, plainMessage(1));
      a.putMessage(3, plainMessage(3));
      await a.commit();
      await a.close();
      await writeRaw(t.dir, 'messages', [[2, Buffer.from([VERSION.messages, 0xc1])], ['odd', encodeMessage(plainMessage(4))]]);
      const log = recordingLog();
      const b = openStore(t.dir, { log });
      try {
        assert.deepEqual(b.messageSeqs(), [1, 2, 3]);
        assert.deepEqual(b.getMessage(3), plainMessage(3));
        assert.equal(b.getMessage(2), undefined);
        assert.deepEqual(b.messageSeqs(), [1, 3]);
        assert.deepEqual(b.loadQuarantine().map((q) => [q.keyspace, q.key]).sort(), [['messages', '"odd"'], ['messages', '2']]);
        assert.equal(log.warnings.length, 2, log.warnings.join('\n'));
      } finally {
        await b.close();
      }
    } finally {
      t.remove();
    }
  });

  test('countSessions reads keys only: orphans and bad keys are quarantined there, a corrupt entry value by the worker that loads its session', async () => {
    const t = tempDir();
    try {
      const a = openStore(t.dir);
      a.putSession('c', sessionMeta({ owner: 1 }));
      a.putQueued('c', 1, queueEntry(5));
      a.putQueued('c', 2, queueEntry(5));
      a.putInbound('c', 7);
      await a.commit();
      await a.close();
      await writeRaw(t.dir, 'queue', [[['c', 3], Buffer.from([VERSION.queue, 0xc1])], [['gone', 1], encodeQueueEntry(queueEntry(5))], ['flat', encodeQueueEntry(queueEntry(5))]]);
      const log = recordingLog();
      const b = openStore(t.dir, { log });
      try {
        assert.deepEqual(b.countSessions(), { sessions: 1, queued: 3 });
        assert.deepEqual(b.loadQuarantine().map((q) => q.key).sort(), ['"flat"', '["gone",1]']);
        const [c] = b.loadSessions((meta) => meta.owner === 1);
        // a worker's load leaves queued entries on disk, summed up (read back as the client takes them)
        assert.deepEqual(c!.queue, []);
        assert.deepEqual({ ...c!.disk, refs: undefined }, { after: 0, last: 2, count: 2, bytes: 0, refs: undefined });
        assert.deepEqual(b.readQueued('c', 0, 10).map((q) => q.qseq), [1, 2]);
        assert.deepEqual(c!.inbound, [7]);
        assert.equal(b.loadQuarantine().length, 3);
        assert.match(log.warnings.join('\n'), /queue record \["c",3\] moved to quarantine/);
      } finally {
        await b.close();
      }
    } finally {
      t.remove();
    }
  });

  test('bytes read back are the reader’s own: rewriting the same keys afterwards does not change them', async () => {
    await withStore(async (s) => {
      s.putMessage(1, plainMessage(1));
      s.putSession('c', sessionMeta());
      s.putQueued('c', 1, { ...queueEntry(0), x: plainMessage(2) });
      await s.commit();
      const message = s.getMessage(1)!;
      const inline = s.loadSessions()[0]!.queue[0]!.entry.x!;
      const before = [Buffer.from(message.p), Buffer.from(inline.p)];
      for (let round = 0; round < 20; round++) {
        s.putMessage(1, { ...plainMessage(1), p: Buffer.alloc(2, round) });
        s.putQueued('c', 1, { ...queueEntry(0), x: { ...plainMessage(2), p: Buffer.alloc(2, round) } });
        await s.commit();
        s.getMessage(1);
        s.loadSessions();
      }
      assert.deepEqual([message.p, inline.p], before);
    });
  });
});

describe('deleteSession', () => {
  test('removes the queue and inbound ids of that id only, not of an id it is a prefix of', async () => {
    await withStore(async (s) => {
      for (const id of ['a', 'ab', 'a/b', 'b']) {
        s.putSession(id, sessionMeta());
        for (const q of [1, 2, 3]) s.putQueued(id, q, queueEntry(q));
        s.putInbound(id, 4);
      }
      await s.commit();
      s.deleteSession('a');
      await s.commit();
      const left = s.loadSessions();
      assert.deepEqual(left.map((x) => x.clientId), ['a/b', 'ab', 'b']);
      for (const x of left) {
        assert.deepEqual(x.queue.map((q) => q.qseq), [1, 2, 3]);
        assert.deepEqual(x.inbound, [4]);
      }
    });
  });

  test('also removes entries written earlier in the same, not yet committed batch', async () => {
    const log = recordingLog();
    await withStore(
      async (s) => {
        s.putSession('a', sessionMeta());
        s.putQueued('a', 1, queueEntry(1));
        await s.commit();
        s.putQueued('a', 2, queueEntry(2));
        s.putInbound('a', 3);
        s.deleteSession('a');
        await s.commit();
        assert.deepEqual(s.loadSessions(), []);
        assert.deepEqual(s.loadQuarantine(), []); // nothing was left behind as an orphan
        assert.deepEqual(log.warnings, []);
      },
      { log },
    );
  });
});

describe('reopening', () => {
  test('a closed and reopened store has the same data and continues the message sequence', async () => {
    const t = tempDir();
    try {
      const a = openStore(t.dir);
      assert.equal(a.maxMessageSeq(), 0);
      for (let seq = 1; seq <= 50; seq++) a.putMessage(seq, plainMessage(seq));
      a.putSession('c', sessionMeta());
      a.putQueued('c', 1, queueEntry(50));
      a.putInbound('c', 2);
      a.putRetained(fullMessage('r').t, fullMessage('r'));
      await a.commit();
      a.deleteMessage(50); // the greatest seq still stored is what continues the sequence
      await a.commit();
      await a.close();
      await assert.rejects(a.commit(), (e: unknown) => e instanceof StoreError && e.code === 'STORE_CLOSED');
      assert.throws(() => a.putMessage(51, plainMessage(51)), (e: unknown) => e instanceof StoreError && e.code === 'STORE_CLOSED');

      const b = openStore(t.dir);
      try {
        assert.equal(b.maxMessageSeq(), 49);
        assert.equal(b.loadMessages().size, 49);
        assert.deepEqual(b.loadMessages().get(7), plainMessage(7));
        assert.deepEqual(b.loadSessions(), [{ clientId: 'c', meta: sessionMeta(), queue: [{ qseq: 1, entry: queueEntry(50) }], inbound: [2] }]);
        assert.deepEqual(b.loadRetained(), [fullMessage('r')]);
      } finally {
        await b.close();
      }
    } finally {
      t.remove();
    }
  });

  test('a graceful close in batch mode loses nothing', async () => {
    const t = tempDir();
    try {
      const a = openStore(t.dir, { durability: 'batch' });
      for (let seq = 1; seq <= 100; seq++) {
        a.putMessage(seq, plainMessage(seq));
        await a.commit(); // resolves at once in batch mode
      }
      await a.close();
      const b = openStore(t.dir);
      assert.equal(b.loadMessages().size, 100);
      await b.close();
    } finally {
      t.remove();
    }
  });
});

describe('durability modes and group commit', () => {
  test('1000 concurrent writers each awaiting commit() all resolve, in far fewer transactions than writers', async () => {
    await withStore(async (s) => {
      const writers = 1000;
      const rounds = 5;
      const before = s.stats().lastTxnId;
      let seq = 0;
      const writer = async (w: number): Promise<void> => {
        for (let r = 0; r < rounds; r++) {
          const k = ++seq;
          s.putMessage(k, plainMessage(k));
          s.putQueued(`sub-${w % 10}`, k, queueEntry(k));
          await s.commit();
        }
      };
      await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
      const transactions = s.stats().lastTxnId - before;
      assert.equal(s.loadMessages().size, writers * rounds);
      assert.ok(transactions >= 1);
      assert.ok(transactions <= (writers * rounds) / 20, `${transactions} transactions for ${writers * rounds} commits`);
      assert.equal(s.stats().failed, 0);
      assert.ok(s.healthy);
    });
  });

  test('sync: commit() waits for the transaction; after it the writes are visible to another store handle', async () => {
    await withStore(async (s, dir) => {
      s.putMessage(1, plainMessage(1));
      let resolved = false;
      const c = s.commit().then(() => (resolved = true));
      await Promise.resolve();
      await Promise.resolve();
      assert.equal(resolved, false, 'the batch cannot commit before this event turn ends');
      await c;
      const other = openStore(dir); // a second handle, as another worker thread would have
      try {
        assert.deepEqual(other.loadMessages().get(1), plainMessage(1));
      } finally {
        await other.close();
      }
    });
  });

  test('writing is true from a write until its transaction has settled, then false', async () => {
    await withStore(async (s) => {
      assert.equal(s.writing, false, 'nothing written yet');
      s.putMessage(1, plainMessage(1));
      assert.equal(s.writing, true, 'a write issued, its transaction not settled');
      await s.flush();
      assert.equal(s.writing, false, 'the transaction settled');
    });
  });

  test('batch: commit() resolves without waiting for the transaction; flush() waits for it', async () => {
    await withStore(
      async (s) => {
        s.putMessage(1, plainMessage(1));
        let resolved = false;
        const c = s.commit().then(() => (resolved = true));
        await Promise.resolve();
        await Promise.resolve();
        assert.ok(resolved, 'commit() in batch mode resolves within microtasks');
        await c;
        await s.flush();
        assert.equal(s.loadMessages().size, 1);
      },
      { durability: 'batch', batchWindowMs: 60_000 },
    );
  });

  test('batch: once the oldest unsettled transaction is older than the window, commit() waits for it', async () => {
    await withStore(
      async (s) => {
        s.putMessage(1, plainMessage(1));
        const t0 = performance.now();
        while (performance.now() - t0 < 30); // this turn keeps the batch open for longer than the window
        let resolved = false;
        const c = s.commit().then(() => (resolved = true));
        await Promise.resolve();
        await Promise.resolve();
        assert.equal(resolved, false);
        await c;
        assert.equal(s.loadMessages().size, 1);
      },
      { durability: 'batch', batchWindowMs: 10 },
    );
  });

  test('off: commit() resolves at once and the data is still written', async () => {
    await withStore(
      async (s) => {
        s.putMessage(1, plainMessage(1));
        await s.commit();
        await s.flush();
        assert.equal(s.loadMessages().size, 1);
      },
      { durability: 'off' },
    );
  });

  test('commit() with nothing written resolves', async () => {
    await withStore(async (s) => {
      await s.commit();
      await s.flush();
      assert.ok(s.healthy);
    });
  });
});

describe('quarantine', () => {
  test('corrupt values, unknown version bytes and orphans are moved aside and logged; good records still load', async () => {
    const t = tempDir();
    try {
      const a = openStore(t.dir);
      for (let seq = 1; seq <= 5; seq++) a.putMessage(seq, plainMessage(seq));
      a.putSession('c', sessionMeta());
      a.putQueued('c', 1, queueEntry(1));
      a.putRetained('good', { ...plainMessage(1), t: 'good' });
      await a.commit();
      await a.close();

      const unknownVersion = encodeMessage(plainMessage(7));
      unknownVersion[0] = 200;
      await writeRaw(t.dir, 'messages', [
        [6, Buffer.from([0xde, 0xad, 0xbe, 0xef, 0xc1])],
        [7, unknownVersion],
        ['not-a-seq', encodeMessage(plainMessage(8))],
      ]);
      await writeRaw(t.dir, 'queue', [
        [['c', 2], Buffer.from([VERSION.queue, 0xc1])],
        [['nobody', 1], encodeQueueEntry(queueEntry(1))],
      ]);
      await writeRaw(t.dir, 'retained', [['bad', Buffer.from('garbage')]]);
      await writeRaw(t.dir, 'inbound', [[['c', 3], Buffer.from([VERSION.inbound, 1, 2])]]);

      const log = recordingLog();
      const b = openStore(t.dir, { log });
      try {
        const messages = b.loadMessages();
        assert.deepEqual([...messages.keys()], [1, 2, 3, 4, 5]);
        const sessions = b.loadSessions();
        assert.deepEqual(sessions.map((x) => [x.clientId, x.queue.map((q) => q.qseq), x.inbound]), [['c', [1], []]]);
        assert.deepEqual(b.loadRetained().map((m) => m.t), ['good']);

        const text = log.warnings.join('\n');
        assert.equal(log.warnings.length, 7, text);
        assert.match(text, /messages record 6 moved to quarantine: .*version byte 222/);
        assert.match(text, /messages record 7 moved to quarantine: unknown version byte 200/);
        assert.match(text, /messages record "not-a-seq" moved to quarantine: key is not a message seq/);
        assert.match(text, /queue record \["c",2\] moved to quarantine: /);
        assert.match(text, /queue record \["nobody",1\] moved to quarantine: orphan/);
        assert.match(text, /inbound record \["c",3\] moved to quarantine: inbound marker of 3 bytes/);
        assert.match(text, /retained record "bad" moved to quarantine/);
        for (const w of log.warnings) assert.ok(w.includes(t.dir), w);

        const q = b.loadQuarantine();
        assert.equal(q.length, 7);
        const seven = q.find((x) => x.keyspace === 'messages' && x.key === '7');
        assert.ok(seven);
        assert.deepEqual(Buffer.from(seven.raw), unknownVersion);
        assert.ok(seven.rawKey.length > 0);
        assert.match(seven.reason, /unknown version byte 200/);

        // moved, not copied: a second load finds nothing to report
        log.warnings.length = 0;
        assert.equal(b.loadMessages().size, 5);
        assert.equal(b.loadSessions().length, 1);
        assert.equal(b.loadRetained().length, 1);
        assert.deepEqual(log.warnings, []);
        assert.equal(b.loadQuarantine().length, 7);
      } finally {
        await b.close();
      }
    } finally {
      t.remove();
    }
  });

  test('a record under a key that does not match its contents is quarantined', async () => {
    const t = tempDir();
    try {
      await openStore(t.dir).close();
      await writeRaw(t.dir, 'retained', [['x/y', encodeMessage({ ...plainMessage(1), t: 'other/topic' })]]);
      const log = recordingLog();
      const s = openStore(t.dir, { log });
      try {
        assert.deepEqual(s.loadRetained(), []);
        assert.match(log.warnings.join('\n'), /retained record "x\/y" moved to quarantine: key does not match topic "other\/topic"/);
      } finally {
        await s.close();
      }
    } finally {
      t.remove();
    }
  });
});

describe('opening failures', () => {
  test('a location under a regular file is STORE_UNWRITABLE, naming the path', () => {
    const t = tempDir();
    try {
      const file = path.join(t.dir, 'plain-file');
      writeFileSync(file, 'x');
      const where = path.join(file, 'store');
      assert.throws(
        () => openStore(where),
        (e: unknown) => e instanceof StoreError && e.code === 'STORE_UNWRITABLE' && e.message.includes(where) && /not a directory|ENOTDIR/i.test(e.message),
      );
      assert.throws(
        () => openStore(file),
        (e: unknown) => e instanceof StoreError && e.code === 'STORE_UNWRITABLE' && e.message.includes(file),
      );
    } finally {
      t.remove();
    }
  });

  test('a read-only directory is STORE_UNWRITABLE, naming the path (run as an unprivileged user)', (t) => {
    const root = process.getuid?.() === 0;
    if (root && !existsSync('/usr/bin/setpriv')) {
      t.skip('running as root without setpriv: permissions do not stop root');
      return;
    }
    const tmp = tempDir();
    try {
      chmodSync(tmp.dir, 0o755);
      const ro = path.join(tmp.dir, 'read-only');
      mkdirSync(ro, { mode: 0o555 });
      chmodSync(ro, 0o555);
      const storeModule = fileURLToPath(new URL('../../../src/persistence/store.ts', import.meta.url));
      const code = `const { Store } = await import(${JSON.stringify(storeModule)});
        for (const p of process.argv.slice(1)) {
          try { Store.open({ path: p, durability: 'sync', batchWindowMs: 50 }); console.log(JSON.stringify({ opened: p })); }
          catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
        }`;
      const args = ['--input-type=module', '-e', code, ro, path.join(ro, 'sub')];
      const r = root
        ? spawnSync('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', nodeBin, ...args], { encoding: 'utf8' })
        : spawnSync(nodeBin, args, { encoding: 'utf8' });
      if (root && r.status !== 0 && /EACCES|permission denied/i.test(r.stderr)) {
        t.skip('the unprivileged user cannot read this checkout');
        return;
      }
      assert.equal(r.status, 0, r.stderr);
      const results = r.stdout.trim().split('\n').map((line) => JSON.parse(line) as { code?: string; message?: string });
      assert.equal(results.length, 2);
      for (const [i, where] of [ro, path.join(ro, 'sub')].entries()) {
        assert.equal(results[i]!.code, 'STORE_UNWRITABLE', JSON.stringify(results[i]));
        assert.ok(results[i]!.message!.includes(where), results[i]!.message);
        assert.match(results[i]!.message!, /EACCES|permission denied/i);
      }
    } finally {
      tmp.remove();
    }
  });

  test('a data file that is not LMDB is STORE_CORRUPT (and does not crash the process)', () => {
    const t = tempDir();
    try {
      writeFileSync(path.join(t.dir, 'data.mdb'), Buffer.alloc(20000, 0x41));
      assert.throws(
        () => openStore(t.dir),
        (e: unknown) => e instanceof StoreError && e.code === 'STORE_CORRUPT' && e.message.includes(t.dir) && /not an LMDB data file/.test(e.message),
      );
    } finally {
      t.remove();
    }
  });

  test('a store written by a newer format is STORE_INCOMPATIBLE and left untouched', async () => {
    const t = tempDir();
    try {
      const s = openStore(t.dir);
      s.putMessage(1, plainMessage(1));
      await s.commit();
      await s.close();
      await writeRaw(t.dir, 'meta', [['format', encodeFormat({ format: 99, created: 0 })]]);
      assert.throws(() => openStore(t.dir), (e: unknown) => e instanceof StoreError && e.code === 'STORE_INCOMPATIBLE' && /format 99/.test(e.message));
      await writeRaw(t.dir, 'meta', [['format', encodeFormat({ format: 1, created: 0 })]]);
      const again = openStore(t.dir);
      assert.equal(again.loadMessages().size, 1);
      await again.close();
    } finally {
      t.remove();
    }
  });

  test('an existing empty directory is a new store', async () => {
    const t = tempDir();
    try {
      mkdirSync(path.join(t.dir, 'nested', 'deeper'), { recursive: true });
      const s = openStore(path.join(t.dir, 'nested', 'deeper'));
      assert.equal(s.maxMessageSeq(), 0);
      await s.close();
    } finally {
      t.remove();
    }
  });
});

describe('worker threads', () => {
  test('several worker threads open the same store at once and each one’s writes are all there', async () => {
    const t = tempDir();
    try {
      const main = openStore(t.dir);
      const perWorker = 300;
      const run = (index: number) =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(new URL('./threadWriter.ts', import.meta.url), { workerData: { dir: t.dir, index, count: perWorker } });
          w.once('error', reject);
          w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${index} exited with ${code}`))));
        });
      await Promise.all([run(0), run(1), run(2)]);
      const messages = main.loadMessages();
      assert.equal(messages.size, 3 * perWorker);
      for (let index = 0; index < 3; index++) {
        assert.deepEqual(messages.get(index * 1_000_000 + perWorker), plainMessage(index * 1_000_000 + perWorker));
      }
      const sessions = main.loadSessions();
      assert.deepEqual(sessions.map((x) => [x.clientId, x.meta.owner, x.queue.length]), [['w0', 0, perWorker], ['w1', 1, perWorker], ['w2', 2, perWorker]]);
      await main.close();
    } finally {
      t.remove();
    }
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Store } from '../../../src/persistence/store.ts';
import { StoreError } from '../../../src/persistence/errors.ts';
import { nodeBin, plainMessage, recordingLog, tempDir } from './helpers.ts';
import { fillUp } from '../../helpers/disk.ts';


test('on a full disk commit() rejects with STORE_FULL and healthy turns false; reads still work; writes succeed again once space is freed (tmpfs)', async (t) => {
  const mnt = mkdtempSync(path.join(tmpdir(), 'culex-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt], { stdio: 'ignore' });
  } catch {
    rmdirSync(mnt);
    t.skip('cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN); the file-size-limit test covers the failure path');
    return;
  }
  // lmdb-js prints every failed commit with console.error; keep the test output readable
  const consoleError = console.error;
  const log = recordingLog();
  let store: Store | undefined;
  try {
    store = Store.open({ path: path.join(mnt, 'db'), durability: 'sync', batchWindowMs: 50, log, probeIntervalMs: 20 });
    for (let seq = 1; seq <= 20; seq++) store.putMessage(seq, plainMessage(seq));
    await store.commit();
    const filler = fillUp(mnt);

    console.error = () => {};
    let seq = 21;
    let failure: unknown;
    for (let batch = 0; batch < 2000 && failure === undefined; batch++) {
      for (let i = 0; i < 50; i++) store.putMessage(seq++, { ...plainMessage(seq), p: Buffer.alloc(1024, i) });
      await store.commit().catch((err: unknown) => (failure = err));
    }
    assert.ok(failure instanceof StoreError, `commit() rejected with ${String(failure)}`);
    assert.equal(failure.code, 'STORE_FULL', failure.message);
    assert.ok(failure.message.includes(path.join(mnt, 'db')));
    assert.equal(store.healthy, false);
    assert.ok(log.errors.some((e) => e.includes('no space left')), log.errors.join('\n'));
    const stored = store.loadMessages();
    for (let k = 1; k <= 20; k++) assert.deepEqual(stored.get(k), plainMessage(k));
    // while unhealthy: commit() refuses at once, writes wait in memory, in order (with the free-space
    // reserve, the writes of the turn that found the disk full wait too instead of failing)
    const waiting = store.stats().deferred;
    store.putRetained('late', { ...plainMessage(0), t: 'late' });
    store.deleteMessage(1);
    await assert.rejects(store.commit(), (e: unknown) => e instanceof StoreError && e.code === 'STORE_FULL');
    assert.equal(store.stats().deferred, waiting + 2);

    rmSync(filler);
    for (let waited = 0; !store.healthy; waited += 20) {
      assert.ok(waited < 30_000, 'the store noticed the free space (probe write)');
      await sleep(20);
    }
    console.error = consoleError;
    store.putMessage(seq, plainMessage(seq));
    await store.commit();
    const after = store.loadMessages();
    assert.deepEqual(after.get(seq), plainMessage(seq));
    assert.equal(after.has(1), false, 'the deferred delete was replayed');
    assert.deepEqual(store.loadRetained().map((m) => m.t), ['late']);
    assert.ok(log.warnings.some((w) => w.includes(`writes succeed again; ${waiting + 2} deferred write(s) replayed`)), log.warnings.join('\n'));
  } finally {
    console.error = consoleError;
    await store?.close();
    execFileSync('umount', [mnt]);
    rmdirSync(mnt);
  }
});

test('when the data file cannot grow (ulimit -f) commit() rejects with a StoreError and healthy turns false; reads still work', () => {
  const t = tempDir('culex-fsize-');
  try {
    const script = fileURLToPath(new URL('./fullChild.ts', import.meta.url));
    // 4096 blocks (2-4 MiB depending on the shell's block size); the child ignores SIGXFSZ as Node does
    const r = spawnSync('/bin/sh', ['-c', 'ulimit -f 4096 && exec "$0" "$@"', nodeBin, script, t.dir], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { code: string; message: string; healthy: boolean; loaded: number; logged: number };
    // LMDB reports a write refused outright as EFBIG (STORE_FULL) and a short write as EIO (STORE_IO: the disk itself has room)
    assert.ok(out.code === 'STORE_FULL' || out.code === 'STORE_IO', JSON.stringify(out));
    assert.ok(out.message.includes(t.dir), out.message);
    assert.equal(out.healthy, false);
    assert.ok(out.loaded >= 20, `${out.loaded} messages still readable`);
    assert.equal(out.logged, 1, 'the failure is logged once');
  } finally {
    t.remove();
  }
});

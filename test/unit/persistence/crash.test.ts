import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Store } from '../../../src/persistence/store.ts';
import { nodeBin, plainMessage, recordingLog, tempDir } from './helpers.ts';

const writerScript = fileURLToPath(new URL('./crashWriter.ts', import.meta.url));
const ROUNDS = 6;

interface Round {
  /** seqs the child reported committed */
  committed: number[];
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the writer on `dir` and SIGKILLs it once it has reported `after` commits, `delayMs` later. */
function runAndKill(dir: string, after: number, delayMs: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(nodeBin, [writerScript, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const committed: number[] = [];
    let rest = '';
    let stderr = '';
    let killing = false;
    const killSoon = () => {
      if (killing) return;
      killing = true;
      setTimeout(() => child.kill('SIGKILL'), delayMs);
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!; // an unfinished line does not count
      for (const line of lines) {
        if (line.startsWith('committed ')) committed.push(Number(line.slice(10)));
        if (line.startsWith('ready') && after === 0) killSoon();
      }
      if (committed.length >= after && after > 0) killSoon();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('exit', (_code, signal) => resolve({ committed, signal, stderr }));
  });
}

test('kill -9 at random moments never loses a write whose commit() had resolved (sync mode, 6 rounds on one directory)', async () => {
  const t = tempDir('culex-crash-');
  const committed = new Set<number>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const after = round === 0 ? 0 : randomInt(1, 600); // round 0: killed right after start-up
      const r = await runAndKill(t.dir, after, randomInt(0, 15));
      assert.equal(r.signal, 'SIGKILL', `round ${round}: the writer ended by itself\n${r.stderr}`);
      for (const k of r.committed) committed.add(k);

      const log = recordingLog();
      const store = Store.open({ path: t.dir, durability: 'sync', batchWindowMs: 50, log });
      try {
        const messages = store.loadMessages();
        const sessions = new Map(store.loadSessions().map((s) => [s.clientId, s]));
        const retained = new Map(store.loadRetained().map((m) => [m.t, m]));
        assert.deepEqual([...sessions.keys()].sort(), ['c0', 'c1', 'c2', 'c3']);
        const queued = new Map<number, number>();
        for (const s of sessions.values()) for (const q of s.queue) queued.set(q.qseq, q.entry.m);
        const lastPerTopic = new Map<string, number>();
        for (const k of committed) {
          assert.deepEqual(messages.get(k), plainMessage(k), `round ${round}: message ${k} was reported committed`);
          assert.equal(queued.get(k), k, `round ${round}: queue entry ${k}`);
          const topic = `r/${k % 5}`;
          lastPerTopic.set(topic, Math.max(lastPerTopic.get(topic) ?? 0, k));
        }
        for (const [topic, k] of lastPerTopic) {
          const stored = retained.get(topic);
          assert.ok(stored !== undefined && Number(stored.p.toString().slice(1)) >= k, `round ${round}: retained ${topic} older than committed ${k}`);
        }
        assert.equal(store.maxMessageSeq() >= Math.max(0, ...committed), true);
        assert.deepEqual(log.warnings, [], 'nothing is corrupt after kill -9');
      } finally {
        await store.close();
      }
    }
    assert.ok(committed.size > 0, 'the writers committed something before being killed');
  } finally {
    t.remove();
  }
});

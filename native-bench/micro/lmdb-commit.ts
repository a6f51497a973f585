/**
 * Micro-benchmark: LMDB group commit with the `lmdb` package as the broker would use it —
 * 1000 concurrent writers each storing a 64-byte message and waiting for its commit before the
 * next (the PUBACK-after-commit pattern). Compares an append-only key (one global increasing
 * sequence: a message log) with scattered [clientId, seq] keys, and waiting for `flushed`.
 *   node native-bench/micro/lmdb-commit.ts [seconds per case, default 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { open, type Key } from 'lmdb';
import { fmt, header } from './harness.ts';

const WRITERS = 1000;
const seconds = Number(process.argv[2] ?? 3);
const value = Buffer.alloc(64, 0x78);

interface Case {
  readonly name: string;
  readonly key: (writer: number, seq: number, global: number) => Key;
  readonly waitFlushed: boolean;
}

const CASES: readonly Case[] = [
  { name: 'append-only key, ack on commit', key: (_w, _s, g) => g, waitFlushed: false },
  { name: 'scattered [clientId, seq] keys, ack on commit', key: (w, s) => [`client-${w}`, s], waitFlushed: false },
  { name: 'append-only key, ack on flushed', key: (_w, _s, g) => g, waitFlushed: true },
];

function percentile(sorted: readonly number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0;
}

async function runCase(c: Case): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lmdb-bench-'));
  const db = open({ path: dir, encoding: 'binary', compression: false });
  let global = 0;
  let acked = 0;
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const writer = async (w: number): Promise<void> => {
    for (let seq = 0; performance.now() < deadline; seq++) {
      const t0 = performance.now();
      await db.put(c.key(w, seq, global++), value);
      if (c.waitFlushed) await db.flushed;
      latencies.push(performance.now() - t0);
      acked++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
  const elapsed = (performance.now() - t0) / 1000;
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  process.stdout.write(`${c.name.padEnd(48)} ${fmt(acked / elapsed).padStart(8)} acked msg/s  ` +
    `p50 ${percentile(latencies, 0.5).toFixed(1)} ms  p99 ${percentile(latencies, 0.99).toFixed(1)} ms\n`);
}

header(`LMDB batch commit, ${WRITERS} writers, 64-byte values, ${seconds} s per case`);
for (const c of CASES) await runCase(c);

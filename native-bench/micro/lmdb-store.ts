/**
 * Micro-benchmark: the persistence Store (src/persistence/store.ts) on the publish path as the
 * broker will drive it — 1000 concurrent "publishers", each storing a QoS 1 message with a
 * 64-byte payload (putMessage), queueing it for one persistent subscriber (putQueued) and
 * waiting for commit() before the next (PUBACK after commit), in `sync` and then `batch` mode.
 * Prints acknowledged messages/s, p50/p99 commit latency and messages per LMDB transaction, and
 * (after `sync`) how long reading everything back takes, as start-up recovery does.
 * Goal for `sync` on this machine: ≥ 50,000 acked msgs/s with p99 < 50 ms.
 *   node native-bench/micro/lmdb-store.ts [seconds per case, default 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MessageRecord } from '../../src/records/message.ts';
import { Store, type Durability } from '../../src/persistence/store.ts';
import { fmt, header } from './harness.ts';

const PUBLISHERS = 1000;
const seconds = Number(process.argv[2] ?? 3);
const payload = Buffer.alloc(64, 0x78);

function percentile(sorted: readonly number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0;
}

async function runCase(durability: Durability): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lmdb-store-bench-'));
  const store = Store.open({ path: dir, durability, batchWindowMs: 50 });
  const subscriber = 'persistent-subscriber';
  store.putSession(subscriber, { owner: 0, user: undefined, expiry: 0xffffffff, expiresAt: 0, subs: [], lastId: 0, will: undefined });
  await store.commit();
  let seq = 0;
  let acked = 0;
  const latencies: number[] = [];
  const txn0 = store.stats().lastTxnId;
  const deadline = performance.now() + seconds * 1000;
  const publisher = async (p: number): Promise<void> => {
    const origin = `publisher-${p}`;
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const s = ++seq;
      const message: MessageRecord = { t: `bench/${p % 100}`, p: payload, q: 1, r: false, pr: undefined, up: undefined, x: 0, o: origin, s: 0 };
      store.putMessage(s, message);
      store.putQueued(subscriber, s, { m: s, q: 1, r: false, i: undefined, p: 0, s: 0 });
      await store.commit();
      latencies.push(performance.now() - t0);
      acked++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: PUBLISHERS }, (_, p) => publisher(p)));
  const elapsed = (performance.now() - t0) / 1000;
  await store.flush();
  const transactions = store.stats().lastTxnId - txn0;
  await store.close();
  latencies.sort((a, b) => a - b);
  process.stdout.write(
    `${durability.padEnd(6)} ${fmt(acked / elapsed).padStart(8)} acked msg/s  p50 ${percentile(latencies, 0.5).toFixed(1)} ms  ` +
      `p99 ${percentile(latencies, 0.99).toFixed(1)} ms  ${(acked / Math.max(1, transactions)).toFixed(0)} msgs/transaction\n`,
  );
  if (durability === 'sync') {
    // start-up: read back everything this case stored, as recovery does
    const t1 = performance.now();
    const reopened = Store.open({ path: dir, durability, batchWindowMs: 50 });
    const messages = reopened.loadMessages().size;
    const queued = reopened.loadSessions().reduce((n, s) => n + s.queue.length, 0);
    const loadSeconds = (performance.now() - t1) / 1000;
    await reopened.close();
    process.stdout.write(`       start-up read of ${fmt(messages)} messages + ${fmt(queued)} queue entries: ${loadSeconds.toFixed(2)} s (${fmt(messages / loadSeconds)} msgs/s)\n`);
  }
  rmSync(dir, { recursive: true, force: true });
}

header(`Store: ${PUBLISHERS} publishers, putMessage + putQueued (1 persistent subscriber) + await commit(), 64-byte payloads, ${seconds} s per case`);
for (const durability of ['sync', 'batch'] as const) await runCase(durability);

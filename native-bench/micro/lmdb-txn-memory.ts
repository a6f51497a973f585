/**
 * Micro-benchmark: the memory LMDB keeps after large write transactions (issue 16). Writes
 * `--per` rounds of one queue entry for each of `--sessions` sessions (keys [clientId, qseq] as
 * the store writes them, with the store's lmdb-js settings), each round as one transaction, or,
 * with `--chunk N`, as transactions of N entries each waited for before the next is issued, and
 * prints the process's anonymous RSS (RssAnon) above the start every 20 rounds.
 * LMDB mallocs a page for every page a write transaction dirties and, after the commit, keeps it
 * on its free list for reuse (`me_dpages` in mdb.c) without ever giving it back: once the tree
 * has more leaf pages than one round has entries, a round dirties a page per entry, and the
 * largest transaction ever written stays resident (LMDB spills beyond 2^17 dirty pages: 512 MiB).
 * Issuing the next chunk in a later event turn alone does not cut the transaction: lmdb-js goes
 * on writing into one still being written (the transaction count printed shows it).
 * Measured (2 shared cores, 100,000 sessions): 100 rounds of one transaction each +640 MB;
 * 30 rounds +345 MB, the same in chunks of 25,000 / 10,000 / 2,000 (waited) +195 / +126 / +128 MB,
 * in chunks of 10,000 a turn apart (not waited) +332 MB in as many transactions as rounds.
 *   node --expose-gc native-bench/micro/lmdb-txn-memory.ts [--sessions 100000] [--per 30]
 *     [--chunk 0 (one transaction per round)] [--turns (chunks a turn apart, not waited for)]
 * called from: main (a command-line script)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { open, type Key } from 'lmdb';

const { values: opts } = parseArgs({
  options: {
    sessions: { type: 'string', default: '100000' },
    per: { type: 'string', default: '30' },
    chunk: { type: 'string', default: '0' },
    turns: { type: 'boolean', default: false },
  },
});
const SESSIONS = Number(opts.sessions);
const PER = Number(opts.per);
const CHUNK = Number(opts.chunk);
const TURNS = opts.turns;

/** RssAnon of this process in MB (heaps and malloc'd memory, not the mapped data file). */
const rssAnon = (): number => Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const dir = mkdtempSync(path.join(tmpdir(), 'culex-txnmem-'));
const root = open<Buffer, Key>({ path: dir, maxDbs: 16, mapSize: 1 << 30, overlappingSync: false, encoding: 'binary', compression: false, cache: false });
const queue = root.openDB<Buffer, Key>('queue', { encoding: 'binary', compression: false, cache: false });
// a QueueEntry as the store writes it: version byte, msgpack { m, q, r, p, s }
const value = Buffer.from([2, 0x85, 0xa1, 0x6d, 5, 0xa1, 0x71, 1, 0xa1, 0x72, 0xc2, 0xa1, 0x70, 0, 0xa1, 0x73, 0]);
try {
  gc();
  const start = rssAnon();
  const txn0 = (root.getStats() as { lastTxnId: number }).lastTxnId;
  let last: Promise<boolean> | undefined;
  for (let round = 1; round <= PER; round++) {
    for (let i = 0; i < SESSIONS; i++) {
      last = queue.put([`qb-s${i}`, round], value);
      if (CHUNK > 0 && (i + 1) % CHUNK === 0) await (TURNS ? turn() : last);
    }
    await last;
    if (round % 20 === 0 || round === PER) {
      gc();
      process.stdout.write(`after ${round} rounds: RssAnon +${(rssAnon() - start).toFixed(0)} MB\n`);
    }
  }
  const stats = root.getStats() as { lastTxnId: number };
  const q = queue.getStats() as { treeLeafPageCount: number };
  process.stdout.write(`sessions ${SESSIONS}, rounds ${PER}, chunk ${CHUNK}${TURNS ? ' (a turn apart)' : ''}: ${stats.lastTxnId - txn0} transactions, ${q.treeLeafPageCount} leaf pages\n`);
} finally {
  await root.close();
  rmSync(dir, { recursive: true, force: true });
}

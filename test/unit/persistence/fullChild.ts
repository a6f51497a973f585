/**
 * Child process for the file-size-limit test: `fullChild.ts <dir>`, started under `ulimit -f`.
 * Opens the store at <dir> ('sync'), commits 20 small messages, then writes 50 KiB batches until
 * a commit() rejects (at most 2000 batches), and prints one JSON line:
 * { code, message, healthy, loaded } — the StoreError's code and message, `healthy` after the
 * failure, and how many messages loadMessages() still returns.
 * called from: main (a child process of the test)
 */
import { Store } from '../../../src/persistence/store.ts';
import { StoreError } from '../../../src/persistence/errors.ts';
import { plainMessage } from './helpers.ts';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: fullChild.ts <dir>');
const errors: string[] = [];
const store = Store.open({ path: dir, durability: 'sync', batchWindowMs: 50, log: { warning: () => {}, error: (m) => errors.push(m) } });
for (let seq = 1; seq <= 20; seq++) store.putMessage(seq, plainMessage(seq));
await store.commit();
let seq = 21;
let failure: unknown;
for (let batch = 0; batch < 2000 && failure === undefined; batch++) {
  for (let i = 0; i < 50; i++) store.putMessage(seq++, { ...plainMessage(seq), p: Buffer.alloc(1024, i) });
  await store.commit().catch((err: unknown) => (failure = err));
}
const e = failure instanceof StoreError ? failure : undefined;
process.stdout.write(`${JSON.stringify({ code: e?.code ?? String(failure), message: e?.message, healthy: store.healthy, loaded: store.loadMessages().size, logged: errors.length })}\n`);
process.exit(0);

/**
 * Child process for the kill -9 test: `crashWriter.ts <dir>`. Opens the store at <dir> in 'sync'
 * mode, continues the message sequence after maxMessageSeq(), makes sure sessions c0…c3 exist,
 * then runs 16 concurrent writers until killed. Each write is a message k, its queue entry for
 * session c<k%4> and the retained message of topic r/<k%5>; after its commit() resolves the
 * writer prints "committed k" (stdout to a pipe is synchronous on Linux, so a line the parent
 * reads was printed after the commit). Prints "ready <first k>" before the first write.
 * called from: main (a child process of the test)
 */
import { Store } from '../../../src/persistence/store.ts';
import { plainMessage, queueEntry, sessionMeta } from './helpers.ts';

const WRITERS = 16;
const LIMIT = 1_000_000; // a bound, in case nobody kills us

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: crashWriter.ts <dir>');
const store = Store.open({ path: dir, durability: 'sync', batchWindowMs: 50 });
let next = store.maxMessageSeq() + 1;
const loaded = new Set(store.loadSessions().map((s) => s.clientId));
for (let c = 0; c < 4; c++) if (!loaded.has(`c${c}`)) store.putSession(`c${c}`, sessionMeta({ owner: c }));
await store.commit();
process.stdout.write(`ready ${next}\n`);

const writer = async (): Promise<void> => {
  while (next < LIMIT) {
    const k = next++;
    store.putMessage(k, plainMessage(k));
    store.putQueued(`c${k % 4}`, k, queueEntry(k));
    store.putRetained(`r/${k % 5}`, { ...plainMessage(k), t: `r/${k % 5}` });
    await store.commit();
    process.stdout.write(`committed ${k}\n`);
  }
};
await Promise.all(Array.from({ length: WRITERS }, writer));
await store.close();

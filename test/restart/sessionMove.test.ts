/**
 * A stored session that moves to another worker keeps its queue's entries on disk where they are
 * (src/workers/handover.ts, Journal.lendRange): the old worker lends the new one the counts of
 * the log messages they refer to, and the new one reads them back as its own. What a client sees
 * must not change: its whole queue, in order, once (what was in flight again first, with DUP),
 * across moves, a clean stop and a start; and the store ends with no entry and no log message
 * left, so no count was lost or kept twice.
 * In-process broker, 2 workers, each with a private port (test placement), so that a client
 * picks the worker it reaches.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { culexOnly, startTestBroker, tempDir, type TestBroker } from '../helpers/broker.ts';
import { publishNumbered } from '../helpers/queueRedelivery.ts';
import { PacketType, pk, RawClient, receivePublishes, roundTrip } from '../helpers/raw.ts';
import { Store } from '../../src/persistence/store.ts';

const t = tempDir('culex-move-');
after(() => t.cleanup());

const N = 1500;
const start = (): Promise<TestBroker> => startTestBroker({ persistence: true, persistenceLocation: t.dir, workers: 2, maxQueuedMessages: 0 }, { placement: true });
const workerPort = (b: TestBroker, w: number): number => b.running!.workerPorts[w]!;
const payloads = (ps: { payload?: Buffer }[]): number[] => ps.map((p) => Number(p.payload!.toString()));
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

test('a session moving between workers takes its long queue from the store as it is: whole and in order across the moves and a clean restart, and the log ends empty', { skip: culexOnly, timeout: 120000 }, async () => {
  let b = await start();
  const first = { version: 4 as const, clientId: `move-first-${process.pid}`, clean: false };
  const mover = { version: 4 as const, clientId: `move-mover-${process.pid}`, clean: false };
  // both on worker 0: each message's entry for `first` carries it inline, the one for `mover` refers to the log copy
  for (const fields of [first, mover]) {
    const c = (await RawClient.connected(workerPort(b, 0), fields)).client;
    c.send(pk.subscribe(1, [{ filter: 'mv/#', qos: 1 }], 4));
    await c.expect(PacketType.SUBACK);
    c.socket.destroy();
  }
  await publishNumbered(workerPort(b, 0), 'mv/x', 0, N, 1);

  // `mover` comes back on worker 1: its session moves there with its entries left on disk
  const there = (await RawClient.connected(workerPort(b, 1), mover)).client;
  assert.deepEqual(payloads(await receivePublishes(there, 500, true, 60000)), range(0, 500));
  await roundTrip(there, 60000); // the PUBACKs are in before the abrupt close
  there.socket.destroy();
  await new Promise((r) => setTimeout(r, 300));
  await b.stop();

  // after a clean stop, `mover` comes back on worker 0 (it moves again): the rest, what was in flight first with DUP
  b = await start();
  const back = (await RawClient.connected(workerPort(b, 0), mover)).client;
  const rest = await receivePublishes(back, N - 500, true, 60000);
  assert.deepEqual(payloads(rest), range(500, N - 500));
  const dups = rest.filter((p) => p.dup).length;
  assert.ok(dups > 0 && rest.slice(0, dups).every((p) => p.dup), `${dups} sent again with DUP, first`);
  await back.expectNoPacket(300);
  await roundTrip(back, 60000);
  back.socket.destroy();
  // `first` takes its queue on worker 1 (its entries carry their messages: nothing to lend)
  const other = (await RawClient.connected(workerPort(b, 1), first)).client;
  assert.deepEqual(payloads(await receivePublishes(other, N, true, 60000)), range(0, N));
  await other.expectNoPacket(300);
  await roundTrip(other, 60000);
  other.socket.destroy();
  await new Promise((r) => setTimeout(r, 300));
  await b.stop();

  const store = Store.open({ path: t.dir, durability: 'sync', batchWindowMs: 50 });
  try {
    assert.equal(store.entryCount('queue'), 0, 'every acknowledged entry is deleted');
    assert.equal(store.entryCount('messages'), 0, 'every log message is deleted with its last entry');
  } finally {
    await store.close();
  }
});

test('sessions sharing the log copies of their messages move one after the other: the first\'s entries are rewritten to copies of their own, the second\'s taken as they are; nothing lost, doubled or left in the log', { skip: culexOnly, timeout: 120000 }, async () => {
  const M = 600;
  let b = await start();
  const ids = ['inline', 'a', 'b'].map((n) => ({ version: 4 as const, clientId: `share-${n}-${process.pid}`, clean: false }));
  // all three on worker 0: the first entry of each message carries it inline, the other two refer to one log copy
  for (const fields of ids) {
    const c = (await RawClient.connected(workerPort(b, 0), fields)).client;
    c.send(pk.subscribe(1, [{ filter: 'sh/#', qos: 1 }], 4));
    await c.expect(PacketType.SUBACK);
    c.socket.destroy();
  }
  await publishNumbered(workerPort(b, 0), 'sh/x', 0, M, 1);
  for (const fields of [ids[1]!, ids[2]!, ids[0]!]) {
    const c = (await RawClient.connected(workerPort(b, 1), fields)).client;
    assert.deepEqual(payloads(await receivePublishes(c, M, true, 60000)), range(0, M), fields.clientId);
    await c.expectNoPacket(300);
    await roundTrip(c, 60000);
    c.socket.destroy();
  }
  await new Promise((r) => setTimeout(r, 300));
  await b.stop();
  b = await start();
  await b.stop();
  const store = Store.open({ path: t.dir, durability: 'sync', batchWindowMs: 50 });
  try {
    assert.equal(store.entryCount('queue'), 0);
    assert.equal(store.entryCount('messages'), 0, 'the shared copies went with their last entries, on whichever worker counted them');
  } finally {
    await store.close();
  }
});

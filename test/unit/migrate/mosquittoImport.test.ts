/**
 * From a parsed Mosquitto persistence file to culex's records (planImport), and through the
 * Store's own writes back to what the broker loads at start-up (writeImport): the delivery state
 * each Mosquitto message state becomes, expiry, the message log for shared messages, incoming
 * QoS 2 messages Mosquitto had not released, subscriptions and session expiry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Direction, MsgState } from '../../../src/migrate/mosquittoDb.ts';
import type { MosquittoClient, MosquittoClientMessage, MosquittoDb, MosquittoMessage } from '../../../src/migrate/mosquittoDb.ts';
import { planImport, writeImport } from '../../../src/migrate/mosquittoImport.ts';
import { NEVER_EXPIRES, QueueState } from '../../../src/records/stored.ts';
import { Store } from '../../../src/persistence/store.ts';
import { recordingLog, tempDir } from '../persistence/helpers.ts';

const NOW = 1_800_000_000_000;

function message(id: number, topic: string, overrides: Partial<MosquittoMessage> = {}): MosquittoMessage {
  return { storeId: BigInt(id), expiryTime: 0, sourceId: 'pub', sourceUsername: undefined, sourcePort: 0, topic, payload: Buffer.from(`p${id}`), qos: 1, retain: false, properties: undefined, ...overrides };
}
function client(clientId: string, overrides: Partial<MosquittoClient> = {}): MosquittoClient {
  return { clientId, username: undefined, sessionExpiryTime: 0, sessionExpiryInterval: NEVER_EXPIRES, lastMid: 10, listenerPort: 1883, ...overrides };
}
function out(clientId: string, id: number, state: number, overrides: Partial<MosquittoClientMessage> = {}): MosquittoClientMessage {
  return { clientId, storeId: BigInt(id), mid: 100 + id, qos: 1, state, retain: false, dup: false, direction: Direction.Out, properties: undefined, ...overrides };
}
function db(parts: Partial<MosquittoDb>): MosquittoDb {
  return { version: 6, shutdown: true, messages: new Map(), clients: [], clientMessages: [], retained: [], subscriptions: [], unknownChunks: 0, ...parts };
}
const messages = (...ms: MosquittoMessage[]) => new Map(ms.map((m) => [m.storeId, m]));

test('Mosquitto message states: sent ones keep packet id and state (resent with DUP / PUBREL), the others are queued', () => {
  const ms = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => message(i, `t/${i}`, { qos: 2 }));
  const plan = planImport(db({
    messages: messages(...ms),
    clients: [client('c')],
    clientMessages: [
      out('c', 1, MsgState.WaitForPuback),
      out('c', 2, MsgState.PublishQos1, { dup: true }), // reset by a reconnect after it was sent
      out('c', 3, MsgState.PublishQos1),
      out('c', 4, MsgState.WaitForPubrec, { qos: 2 }),
      out('c', 5, MsgState.PublishQos2, { qos: 2, dup: true }),
      out('c', 6, MsgState.WaitForPubcomp, { qos: 2 }),
      out('c', 7, MsgState.ResendPubrel, { qos: 2 }),
      out('c', 8, MsgState.Queued, { qos: 2 }),
    ],
  }), NOW, 0, 0);
  const q = plan.sessions[0]!.queue;
  assert.deepEqual(q.map((e) => [e.x!.t, e.p, e.s]), [
    ['t/1', 101, QueueState.AwaitPuback], ['t/2', 102, QueueState.AwaitPuback], ['t/3', 0, QueueState.Queued],
    ['t/4', 104, QueueState.AwaitPubrec], ['t/5', 105, QueueState.AwaitPubrec], ['t/6', 106, QueueState.AwaitPubcomp],
    ['t/7', 107, QueueState.AwaitPubcomp], ['t/8', 0, QueueState.Queued],
  ]);
  assert.equal(plan.counts.inflight, 6);
  assert.equal(plan.sessions[0]!.meta.lastId, 10);
});

test('expired messages are left out and counted; the absolute expiry replaces the interval property', () => {
  const plan = planImport(db({
    messages: messages(
      message(1, 'gone', { expiryTime: NOW / 1000 - 1 }),
      message(2, 'kept', { expiryTime: NOW / 1000 + 60, properties: { messageExpiryInterval: 999, contentType: 'x' } }),
      message(3, 'ret/gone', { expiryTime: NOW / 1000 - 5, retain: true }),
    ),
    clients: [client('c')],
    clientMessages: [out('c', 1, MsgState.Queued), out('c', 2, MsgState.Queued), out('c', 9, MsgState.Queued)],
    retained: [3n],
  }), NOW, 0, 0);
  assert.deepEqual(plan.sessions[0]!.queue.map((e) => [e.x!.t, e.x!.x, e.x!.pr]), [['kept', NOW + 60_000, { contentType: 'x' }]]);
  assert.equal(plan.counts.expired, 3); // two expired, one whose message is missing
  assert.deepEqual(plan.retained, []);
});

test('a message two sessions share goes to the message log once; a message one entry holds is inline', () => {
  const plan = planImport(db({
    messages: messages(message(1, 'shared'), message(2, 'own')),
    clients: [client('a'), client('b')],
    clientMessages: [out('a', 1, MsgState.Queued), out('a', 2, MsgState.Queued), out('b', 1, MsgState.Queued)],
  }), NOW, 0, 41);
  assert.deepEqual([...plan.log.keys()], [42]);
  assert.equal(plan.log.get(42)!.t, 'shared');
  const [a, b] = plan.sessions;
  assert.deepEqual(a!.queue.map((e) => [e.m, e.x?.t]), [[42, undefined], [0, 'own']]);
  assert.deepEqual(b!.queue.map((e) => [e.m, e.x?.t]), [[42, undefined]]);
  assert.deepEqual([a!.meta.owner, b!.meta.owner], [0, 1]);
});

test('an incoming QoS 2 message Mosquitto had not released is delivered to matching sessions (No Local kept) and its id awaits the PUBREL', () => {
  const plan = planImport(db({
    messages: messages(message(1, 'a/b', { qos: 2, retain: true, sourceId: 'pub' })),
    clients: [client('pub'), client('sub'), client('other')],
    subscriptions: [
      { clientId: 'sub', topic: 'a/+', qos: 1, identifier: 4, noLocal: false, retainAsPublished: true },
      { clientId: 'sub', topic: '#', qos: 2, identifier: 0, noLocal: false, retainAsPublished: false },
      { clientId: 'pub', topic: 'a/#', qos: 2, identifier: 0, noLocal: true, retainAsPublished: false },
      { clientId: 'other', topic: 'x/#', qos: 2, identifier: 0, noLocal: false, retainAsPublished: false },
      { clientId: 'nobody', topic: 'a/#', qos: 2, identifier: 0, noLocal: false, retainAsPublished: false },
    ],
    clientMessages: [{ clientId: 'pub', storeId: 1n, mid: 42, qos: 2, state: MsgState.WaitForPubrel, retain: true, dup: false, direction: Direction.In, properties: undefined }],
  }), NOW, 7, 0);
  const [pub, sub, other] = plan.sessions;
  assert.deepEqual(pub!.inbound, [42]);
  assert.deepEqual(pub!.queue, []);
  assert.deepEqual(sub!.queue.map((e) => [e.x!.t, e.q, e.r, e.i]), [['a/b', 2, true, [4]]]);
  assert.deepEqual(other!.queue, []);
  assert.deepEqual(plan.retained.map((r) => [r.t, r.r, r.s]), [['a/b', true, 8]]);
  assert.equal(plan.counts.incoming, 1);
  assert.equal(plan.counts.orphans, 1);
});

test("a retained message keeps its publisher for check_retain_source: username, and the culex listener on the port Mosquitto stored (persist_read.c); none for the broker's", () => {
  const plan = planImport(db({
    messages: messages(
      message(1, 'a', { retain: true, sourceId: 'pub', sourceUsername: 'alice', sourcePort: 8883 }),
      message(2, 'b', { retain: true, sourceId: 'anon', sourcePort: 1999 }),
      message(3, 'c', { retain: true, sourceId: '' }),
    ),
    retained: [1n, 2n, 3n],
  }), NOW, 0, 0, [1883, 8883]);
  assert.deepEqual(plan.retained.map((r) => [r.t, r.o, r.so]), [['a', 'pub', { u: 'alice', l: 1 }], ['b', 'anon', {}], ['c', '', undefined]]);
});

test('a session whose expiry time has passed is left out with its subscriptions and messages (not counted as orphans)', () => {
  const plan = planImport(db({
    messages: messages(message(1, 't')),
    clients: [client('old', { sessionExpiryInterval: 60, sessionExpiryTime: NOW / 1000 - 1 }), client('live')],
    subscriptions: [{ clientId: 'old', topic: 't', qos: 1, identifier: 0, noLocal: false, retainAsPublished: false }],
    clientMessages: [out('old', 1, MsgState.Queued)],
  }), NOW, 0, 0);
  assert.deepEqual(plan.sessions.map((s) => s.clientId), ['live']);
  assert.deepEqual([plan.counts.expiredSessions, plan.counts.orphans, plan.counts.sessions], [1, 0, 1]);
});

test('session expiry: an interval with the time Mosquitto set keeps it (ms); never expiring keeps 0; subscriptions keep options and identifiers', () => {
  const plan = planImport(db({
    clients: [client('v5', { sessionExpiryInterval: 3600, sessionExpiryTime: 1_800_000_100, username: 'u' }), client('v3'), client('online', { sessionExpiryInterval: 60 })],
    subscriptions: [{ clientId: 'v5', topic: '$share/g/s/#', qos: 1, identifier: 9, noLocal: true, retainAsPublished: true }],
  }), NOW, 0, 0);
  const [v5, v3, online] = plan.sessions;
  assert.deepEqual([v5!.meta.expiry, v5!.meta.expiresAt, v5!.meta.user], [3600, 1_800_000_100_000, 'u']);
  assert.deepEqual([v3!.meta.expiry, v3!.meta.expiresAt], [NEVER_EXPIRES, 0]);
  assert.deepEqual([online!.meta.expiry, online!.meta.expiresAt], [60, 0]); // counted down from the start of the broker that loads it
  assert.deepEqual(v5!.meta.subs, [{ f: { raw: '$share/g/s/#', filter: 's/#', group: 'g' }, o: { qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 0, subscriptionId: 9 } }]);
});

test('writeImport: what the store reads back is the plan (sessions, queues in order, inbound ids, log, retained)', async () => {
  const { dir, remove } = tempDir();
  try {
    const plan = planImport(db({
      messages: messages(message(1, 'shared'), message(2, 'own', { properties: { userProperties: Object.assign(Object.create(null), { z: '1', a: '2' }) } }), message(3, 'ret', { retain: true, qos: 0 }), message(4, 'in', { qos: 2 })),
      clients: [client('a'), client('b')],
      clientMessages: [out('a', 1, MsgState.WaitForPuback), out('a', 2, MsgState.Queued), out('b', 1, MsgState.Queued),
        { clientId: 'b', storeId: 4n, mid: 5, qos: 2, state: MsgState.WaitForPubrel, retain: false, dup: false, direction: Direction.In, properties: undefined }],
      retained: [3n],
    }), NOW, 0, 0);
    const store = Store.open({ path: dir, durability: 'sync', batchWindowMs: 50, log: recordingLog() });
    writeImport(store, plan);
    await store.flush();
    const sessions = store.loadSessions();
    assert.deepEqual(sessions.map((s) => [s.clientId, s.meta, s.queue.map((q) => q.qseq), s.inbound]),
      plan.sessions.map((s) => [s.clientId, s.meta, s.queue.map((_, i) => i + 1), s.inbound]));
    const a = sessions.find((s) => s.clientId === 'a')!;
    assert.deepEqual(a.queue.map((q) => [q.entry.m, q.entry.p, q.entry.s]), [[1, 101, 1], [0, 0, 0]]);
    assert.deepEqual(a.queue[1]!.entry.x!.up, [['z', '1'], ['a', '2']]);
    assert.deepEqual([...store.loadMessages().values()].map((m) => m.t), ['shared']);
    assert.deepEqual(store.loadRetained().map((r) => [r.t, r.r, r.s]), [['ret', true, 1]]);
    assert.deepEqual(store.loadQuarantine(), []);
    await store.close();
  } finally {
    remove();
  }
});

/**
 * Disk-backed queues (src/broker/sessionQueue.ts): with persistence, a persistent session keeps
 * only a window of its queue in memory and reads the rest back from the store, in order, as its
 * client takes it. What a client sees must not change: order, expiry and the queue limits with
 * their drop policy, whatever part of the queue is on disk. Restarts: test/restart/longQueue.test.ts.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BrokerConfig } from '../../src/config/types.ts';
import { Harness, Inbox, publishMany, sleep, subscribe, uniqueId } from '../helpers/clients.ts';
import { culexOnly, tempDir } from '../helpers/broker.ts';
import { PacketType, pk, RawClient, receivePublishes, roundTrip } from '../helpers/raw.ts';

const h = new Harness();
const dirs: (() => void)[] = [];
after(async () => {
  await h.teardown();
  for (const d of dirs) d();
});

/** more than any session's window (WINDOW_MAX 1024): most of the queue is on disk */
const LONG = 3000;

async function persistentBroker(overrides: Partial<BrokerConfig> = {}) {
  const t = tempDir('culex-dq-');
  dirs.push(t.cleanup);
  return h.broker({ persistence: true, persistenceLocation: t.dir, maxQueuedMessages: 0, ...overrides });
}

const persistent = (clientId: string) => ({ protocolVersion: 5 as const, clientId, clean: false, properties: { sessionExpiryInterval: 600 } });

/** Ends a subscriber's connection; its session waits offline. */
async function goOffline(url: string, clientId: string, filter: string, qos: 0 | 1 | 2): Promise<void> {
  const c = await h.connect(url, persistent(clientId));
  await subscribe(c, filter, { qos });
  await c.endAsync();
}

describe('a persistent session\'s queue held on disk', { skip: culexOnly }, () => {
  for (const qos of [1, 2] as const) {
    test(`[MQTT-4.6.0-6] a QoS ${qos} queue of ${LONG} messages (far beyond the in-memory window) arrives whole and in order after the client reconnects`, { timeout: 120000 }, async () => {
      const b = await persistentBroker();
      const id = uniqueId(`dq${qos}`);
      await goOffline(b.url, id, `dq/${id}/#`, qos);
      const pub = await h.connect(b.url, { protocolVersion: 5 });
      await publishMany(pub, `dq/${id}/x`, LONG, qos, 20);
      await sleep(200); // the tail is committed and leaves memory
      const sub = h.client(b.url, persistent(id));
      const inbox = new Inbox(sub);
      const got = await inbox.waitFor(LONG, 60000);
      assert.deepEqual(got.map((m) => Number(m.payload.toString())), Array.from({ length: LONG }, (_, i) => i));
      assert.ok(got.every((m) => m.packet.qos === qos && !m.packet.dup));
      await inbox.expectNone(300);
      // and the queue goes on working once drained: new messages come straight
      await pub.publishAsync(`dq/${id}/x`, 'after', { qos });
      assert.equal((await inbox.waitFor(LONG + 1)).at(-1)!.payload.toString(), 'after');
    });
  }

  test('[MQTT-4.4.0-1] a client that leaves half way through a long queue gets the rest in order when it returns; what was in flight comes again with DUP', { timeout: 120000 }, async () => {
    const b = await persistentBroker({ maxInflightMessages: 20 });
    const id = uniqueId('dqhalf');
    const fields = { version: 4 as const, clientId: id, clean: false };
    const first = (await RawClient.connected(b.port, fields)).client;
    first.send(pk.subscribe(1, [{ filter: `dqhalf/${id}/#`, qos: 1 }], 4));
    await first.expect(PacketType.SUBACK);
    first.socket.destroy();
    const pub = await h.connect(b.url, { protocolVersion: 5 });
    await publishMany(pub, `dqhalf/${id}/x`, LONG, 1, 20);
    const again = (await RawClient.connected(b.port, fields)).client;
    const part = await receivePublishes(again, LONG / 2, true, 60000);
    // the next ones are sent but never acknowledged: in flight when the client goes
    const unacked = await receivePublishes(again, 5, false, 60000);
    // the PUBACKs sent above must reach the broker before the abrupt close: the reset of a socket
    // closed with unread data may discard them, and their messages would then rightly come again
    await roundTrip(again, 60000);
    again.socket.destroy();
    await sleep(300); // the session is offline: its window goes back to disk
    const last = (await RawClient.connected(b.port, fields)).client;
    const rest = await receivePublishes(last, LONG - LONG / 2, true, 60000);
    await last.expectNoPacket(300);
    last.socket.destroy();
    const n = (p: { payload?: Buffer }) => Number(p.payload!.toString());
    assert.deepEqual(part.map(n), Array.from({ length: LONG / 2 }, (_, i) => i));
    assert.deepEqual(unacked.map(n), [0, 1, 2, 3, 4].map((i) => LONG / 2 + i));
    assert.deepEqual(rest.map(n), Array.from({ length: LONG / 2 }, (_, i) => LONG / 2 + i));
    // every PUBLISH sent before and not acknowledged comes again with DUP (at least the 5 held back), then new ones without
    const dups = rest.filter((p) => p.dup).length;
    assert.ok(dups >= 5 && rest.slice(0, dups).every((p) => p.dup) && rest.slice(dups).every((p) => !p.dup), `${dups} with DUP`);
  });

  test('[MQTT-3.3.2-5] a message that expired while its queue entry was on disk is not sent when read back; the others are', { timeout: 120000 }, async () => {
    const b = await persistentBroker();
    const id = uniqueId('dqexp');
    await goOffline(b.url, id, `dqexp/${id}/#`, 1);
    const pub = await h.connect(b.url, { protocolVersion: 5 });
    await publishMany(pub, `dqexp/${id}/x`, LONG, 1, 20);
    await pub.publishAsync(`dqexp/${id}/x`, 'short-lived', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.publishAsync(`dqexp/${id}/x`, 'long-lived', { qos: 1, properties: { messageExpiryInterval: 600 } });
    await pub.publishAsync(`dqexp/${id}/x`, 'last', { qos: 1 });
    await sleep(2200);
    const inbox = new Inbox(h.client(b.url, persistent(id)));
    const got = await inbox.waitFor(LONG + 2, 60000);
    await inbox.expectNone(300);
    const payloads = got.map((m) => m.payload.toString());
    assert.deepEqual(payloads.slice(LONG), ['long-lived', 'last']);
    assert.ok(!payloads.includes('short-lived'));
    // [MQTT-3.3.2-6] the expiry interval sent is what is left of it
    const left = got[LONG]!.packet.properties?.messageExpiryInterval;
    assert.ok(left !== undefined && left <= 598 && left > 0, `expiry left: ${left}`);
  });

  for (const policy of ['drop_oldest', 'drop_newest'] as const) {
    test(`max_queued_messages with ${policy}: the kept messages are ${policy === 'drop_oldest' ? 'the newest' : 'the oldest'}, in order, while the queue's head is on disk (Mosquitto's queue limit)`, { timeout: 120000 }, async () => {
      const limit = 1500;
      const b = await persistentBroker({ maxQueuedMessages: limit, queueDropPolicy: policy });
      const id = uniqueId('dqdrop');
      await goOffline(b.url, id, `dqdrop/${id}/#`, 1);
      const pub = await h.connect(b.url, { protocolVersion: 5 });
      await publishMany(pub, `dqdrop/${id}/x`, LONG, 1, 20);
      const before = await b.stats();
      assert.equal(before.messagesDroppedQueueFull, LONG - limit);
      const inbox = new Inbox(h.client(b.url, persistent(id)));
      const got = await inbox.waitFor(limit, 60000);
      await inbox.expectNone(300);
      const first = policy === 'drop_oldest' ? LONG - limit : 0;
      assert.deepEqual(got.map((m) => Number(m.payload.toString())), Array.from({ length: limit }, (_, i) => first + i));
    });
  }

  test('max_queued_bytes counts the messages on disk: a queue over it drops new ones (drop_newest), and takes them again once the client drained it', { timeout: 120000 }, async () => {
    const b = await persistentBroker({ maxQueuedBytes: 2000 * 10 });
    const id = uniqueId('dqbytes');
    await goOffline(b.url, id, `dqbytes/${id}/#`, 1);
    const pub = await h.connect(b.url, { protocolVersion: 5 });
    // 10-byte payloads: 2000 fit
    await publishMany(pub, `dqbytes/${id}/x`, 2500, 1, 20, (i) => String(i).padStart(10, '0'));
    assert.equal((await b.stats()).messagesDroppedQueueFull, 500);
    const inbox = new Inbox(h.client(b.url, persistent(id)));
    const got = await inbox.waitFor(2000, 60000);
    await inbox.expectNone(300);
    assert.deepEqual(got.map((m) => Number(m.payload.toString())), Array.from({ length: 2000 }, (_, i) => i));
  });
});

/**
 * `persistent_subscription CLIENT_ID FILTER QOS`: a persistent session declared in the
 * configuration exists from start-up, so QoS 1 messages published before its client ever
 * connected are kept; the client's first CONNECT with clean session 0 / clean start 0 finds them
 * (session present) in order. Mosquitto has no such option: a persistent subscriber must have
 * connected once before Mosquitto keeps anything for it. At CULEX_TEST_WORKERS=4 the publisher,
 * the consumer and the declared sessions sit on different workers.
 * Across a kill -9 with a broker process: test/restart/persistentSubscription.test.ts.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IClientOptions, IConnackPacket } from 'mqtt';
import { Harness, Inbox, once, sleep, uniqueId, type MqttClient } from '../helpers/clients.ts';
import { culexOnly, tempDir, writePasswordFile } from '../helpers/broker.ts';
import type { PersistentSubscription } from '../../src/config/types.ts';

const h = new Harness();
after(() => h.teardown());

/** Connects with an Inbox listening from the start: queued messages may come with the CONNACK. */
async function consumer(url: string, opts: IClientOptions): Promise<{ client: MqttClient; connack: IConnackPacket; inbox: Inbox }> {
  const client = h.client(url, opts);
  const inbox = new Inbox(client);
  const connack = await once<IConnackPacket>(client, 'connect');
  return { client, connack, inbox };
}

const v311 = (clientId: string): IClientOptions => ({ protocolVersion: 4, clientId, clean: false });
const v5 = (clientId: string): IClientOptions => ({ protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 300 } });

/** Publishes `topic` = prefix0..prefix{n-1} at QoS 1, one after the other. */
async function publishNumbered(pub: MqttClient, topic: string, prefix: string, n: number): Promise<string[]> {
  const sent: string[] = [];
  for (let i = 0; i < n; i++) {
    await pub.publishAsync(topic, `${prefix}${i}`, { qos: 1 });
    sent.push(`${prefix}${i}`);
  }
  return sent;
}

describe('persistent_subscription: a queue before its consumer', { skip: culexOnly }, () => {
  test('QoS 1 messages published before the 3.1.1 and 5.0 consumers ever connected reach them in order, with session present [MQTT-3.2.2-3]', { timeout: 30000 }, async () => {
    // several declared clients: their sessions spread over the workers (at CULEX_TEST_WORKERS=4)
    const ids = Array.from({ length: 6 }, (_, i) => uniqueId(`declared${i}`));
    const subs: PersistentSubscription[] = ids.flatMap((id, i) => [
      { clientId: id, filter: `psub/${i}/#`, qos: 1 },
      { clientId: id, filter: 'psub/all', qos: 1 },
    ]);
    const b = await h.broker({ persistentSubscriptions: subs });
    const pub = await h.connect(b.url, { protocolVersion: 5 });
    for (let i = 0; i < ids.length; i++) await publishNumbered(pub, `psub/${i}/x`, 'm', 5);
    await publishNumbered(pub, 'psub/all', 'all', 2);
    for (let i = 0; i < ids.length; i++) {
      const c = await consumer(b.url, i % 2 === 0 ? v311(ids[i]!) : v5(ids[i]!));
      assert.equal(c.connack.sessionPresent, true, `${ids[i]}: the declared session is present`);
      await c.inbox.waitFor(7);
      assert.deepEqual(c.inbox.payloads(), ['m0', 'm1', 'm2', 'm3', 'm4', 'all0', 'all1'], ids[i]);
      assert.ok(c.inbox.messages.every((m) => m.packet.qos === 1));
      // the session is the client's now, as any persistent session: live messages follow
      await pub.publishAsync(`psub/${i}/live`, 'live', { qos: 1 });
      await c.inbox.waitFor(8);
      assert.equal(c.inbox.messages[7]!.payload.toString(), 'live');
    }
  });

  test('a declared QoS caps the delivery QoS as a subscription does; a filter that does not match keeps nothing', { timeout: 30000 }, async () => {
    const id = uniqueId('capped');
    const b = await h.broker({ persistentSubscriptions: [{ clientId: id, filter: 'capped/+', qos: 1 }] });
    const pub = await h.connect(b.url, { protocolVersion: 5 });
    await pub.publishAsync('capped/a', 'q2', { qos: 2 });
    await pub.publishAsync('capped/a/b', 'deeper', { qos: 1 });
    await pub.publishAsync('other', 'other', { qos: 1 });
    const c = await consumer(b.url, v5(id));
    assert.equal(c.connack.sessionPresent, true);
    await c.inbox.waitFor(1);
    await sleep(200);
    assert.deepEqual(c.inbox.payloads(), ['q2']);
    assert.equal(c.inbox.messages[0]!.packet.qos, 1);
  });

  test('without persistence the declared queue is in memory and bounded by max_queued_messages (drop_newest, as Mosquitto)', { timeout: 30000 }, async () => {
    const id = uniqueId('bounded');
    const b = await h.broker({ maxQueuedMessages: 3, persistentSubscriptions: [{ clientId: id, filter: 'bounded/#', qos: 1 }] });
    const pub = await h.connect(b.url, { protocolVersion: 5 });
    await publishNumbered(pub, 'bounded/x', 'n', 6);
    const c = await consumer(b.url, v311(id));
    assert.equal(c.connack.sessionPresent, true);
    await c.inbox.waitFor(3);
    await sleep(200);
    assert.deepEqual(c.inbox.payloads(), ['n0', 'n1', 'n2']);
  });

  test('[MQTT-3.1.2-4] a clean start connect discards the declared session: no session present, nothing kept after it', { timeout: 30000 }, async () => {
    const id = uniqueId('discarded');
    const b = await h.broker({ persistentSubscriptions: [{ clientId: id, filter: 'gone/#', qos: 1 }] });
    const pub = await h.connect(b.url, { protocolVersion: 5 });
    await pub.publishAsync('gone/1', 'before', { qos: 1 });
    const clean = await consumer(b.url, { protocolVersion: 5, clientId: id, clean: true });
    assert.equal(clean.connack.sessionPresent, false);
    await sleep(200);
    assert.deepEqual(clean.inbox.payloads(), [], 'the declared queue went with the session');
    await clean.client.endAsync();
    await pub.publishAsync('gone/1', 'after', { qos: 1 });
    const again = await consumer(b.url, v5(id));
    assert.equal(again.connack.sessionPresent, false, 'declared again only at the next start');
    await sleep(200);
    assert.deepEqual(again.inbox.payloads(), []);
  });

  test('the first user to connect takes a declared session (password_file); its ACL applies to what was kept', { timeout: 30000 }, async () => {
    const tmp = tempDir('culex-psub-');
    try {
      const passwordFile = writePasswordFile(tmp.dir, { alice: 'a-secret', pub: 'p-secret' });
      const aclFile = `${tmp.dir}/acl`;
      const { writeFileSync } = await import('node:fs');
      writeFileSync(aclFile, 'user alice\ntopic read acl/open/#\n\nuser pub\ntopic write acl/#\n');
      // several devices of alice: at 4 workers some connect on the worker that holds their session, some on another
      const ids = Array.from({ length: 4 }, (_, i) => uniqueId(`alice-dev${i}`));
      const b = await h.broker({
        allowAnonymous: false, passwordFile, aclFile,
        persistentSubscriptions: ids.map((clientId) => ({ clientId, filter: 'acl/#', qos: 1 as const })),
      });
      const pub = await h.connect(b.url, { protocolVersion: 5, username: 'pub', password: 'p-secret' });
      await pub.publishAsync('acl/open/1', 'readable', { qos: 1 });
      await pub.publishAsync('acl/closed/1', 'not for alice', { qos: 1 });
      await pub.publishAsync('acl/open/2', 'readable too', { qos: 1 });
      for (const id of ids) {
        const c = await consumer(b.url, { ...v311(id), username: 'alice', password: 'a-secret' });
        assert.equal(c.connack.sessionPresent, true, `${id}: a declared session is not discarded as another user's`);
        await c.inbox.waitFor(2);
        await sleep(100);
        assert.deepEqual(c.inbox.payloads(), ['readable', 'readable too'], id);
      }
    } finally {
      tmp.cleanup();
    }
  });

  test('with persistence, messages published before a restart reach the consumer after it, in order', { timeout: 60000 }, async () => {
    const tmp = tempDir('culex-psub-restart-');
    try {
      const id = uniqueId('restarted');
      const config = { persistence: true, persistenceLocation: tmp.dir, persistentSubscriptions: [{ clientId: id, filter: 'rs/#', qos: 1 as const }] };
      const first = await h.broker(config);
      const pub = await h.connect(first.url, { protocolVersion: 4 });
      const before = await publishNumbered(pub, 'rs/a', 'before', 4);
      await h.closeClients();
      await first.stop();

      const second = await h.broker(config);
      const pub2 = await h.connect(second.url, { protocolVersion: 5 });
      const after = await publishNumbered(pub2, 'rs/b', 'after', 3);
      const c = await consumer(second.url, v5(id));
      assert.equal(c.connack.sessionPresent, true);
      await c.inbox.waitFor(7);
      assert.deepEqual(c.inbox.payloads(), [...before, ...after]);
      await h.closeClients();
      await second.stop();
    } finally {
      tmp.cleanup();
    }
  });
});

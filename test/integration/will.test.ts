/**
 * Will messages over real sockets: published on abnormal close, keepalive timeout and protocol
 * error; not on normal DISCONNECT; v5 DISCONNECT 0x04, Will Delay Interval, will properties.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, Inbox, subscribe, uniqueId, versions } from '../helpers/clients.ts';
import { PacketType, pk } from '../helpers/raw.ts';
import type { TestBroker } from '../helpers/broker.ts';

const h = new Harness();
let broker: TestBroker;

before(async () => { broker = await h.broker(); });
after(() => h.teardown());

/** A subscriber (MQTT.js, 3.1.1) listening on `topic`. */
async function listen(topic: string): Promise<Inbox> {
  const c = await h.connect(broker.url, { protocolVersion: 4 });
  const inbox = new Inbox(c);
  await subscribe(c, topic, { qos: 2 });
  return inbox;
}

for (const v of versions) {
  const v5 = v === 5;
  describe(`will, MQTT ${v5 ? '5.0' : '3.1.1'}`, () => {
    test('[MQTT-3.1.2-8] the will is published when the network connection closes without DISCONNECT', async () => {
      const topic = `will/${uniqueId()}`;
      const inbox = await listen(topic);
      const { client: r } = await h.rawConnected(broker.port, { version: v, will: { topic, payload: 'gone', qos: 1 } });
      r.destroy();
      const [m] = await inbox.waitFor(1);
      assert.equal(m!.payload.toString(), 'gone');
      assert.equal(m!.packet.qos, 1);
    });

    test(`[MQTT-3.1.2-${v5 ? '8' : '10'}] [MQTT-3.14.4-3] the will is discarded on a normal DISCONNECT`, async () => {
      const topic = `will/${uniqueId()}`;
      const inbox = await listen(topic);
      const { client: r } = await h.rawConnected(broker.port, { version: v, will: { topic, payload: 'never', qos: 1 } });
      r.send(v5 ? pk.disconnect(0) : pk.disconnect());
      await r.expectClosed();
      await inbox.expectNone(300, 0);
    });

    test('[MQTT-3.1.2-8] the will is published when the server closes the connection for a protocol error', async () => {
      const topic = `will/${uniqueId()}`;
      const inbox = await listen(topic);
      const { client: r } = await h.rawConnected(broker.port, { version: v, will: { topic, payload: 'bad-client', qos: 0 } });
      r.send(pk.publish({ version: v, topic: 'a/+/wildcard', payload: 'x' })); // [MQTT-3.3.2-2]
      await r.expectClosed();
      assert.equal((await inbox.waitFor(1))[0]!.payload.toString(), 'bad-client');
    });

    test('the will is published when the keepalive expires', async () => {
      const topic = `will/${uniqueId()}`;
      const inbox = await listen(topic);
      const { client: r } = await h.rawConnected(broker.port, { version: v, keepalive: 1, will: { topic, payload: 'timeout', qos: 1 } });
      await r.expectClosed(10000);
      assert.equal((await inbox.waitFor(1))[0]!.payload.toString(), 'timeout');
    });

    test(`[MQTT-3.1.2-17] a will with the retain flag is published as a retained message`, async () => {
      const topic = `will/${uniqueId()}`;
      const { client: r } = await h.rawConnected(broker.port, { version: v, will: { topic, payload: 'kept-will', qos: 1, retain: true } });
      const first = await listen(topic);
      r.destroy();
      await first.waitFor(1);
      const later = await listen(topic);
      const [m] = await later.waitFor(1);
      assert.equal(m!.payload.toString(), 'kept-will');
      assert.equal(m!.packet.retain, true);
    });

    test('a client taken over by a new connection with the same id: the old connection\'s will is published', async () => {
      const topic = `will/${uniqueId()}`;
      const inbox = await listen(topic);
      const id = uniqueId('tk');
      const { client: old } = await h.rawConnected(broker.port, { version: v, clientId: id, will: { topic, payload: 'taken-over', qos: 1 } });
      await h.rawConnected(broker.port, { version: v, clientId: id });
      await old.expectClosed();
      assert.equal((await inbox.waitFor(1))[0]!.payload.toString(), 'taken-over');
    });
  });
}

describe('will, MQTT 5.0 specifics', () => {
  test('DISCONNECT with reason 0x04 (Disconnect with Will Message) publishes the will', async () => {
    const topic = `will5/${uniqueId()}`;
    const inbox = await listen(topic);
    const { client: r } = await h.rawConnected(broker.port, { version: 5, will: { topic, payload: 'asked-for', qos: 1 } });
    r.send(pk.disconnect(0x04));
    await r.expectClosed();
    assert.equal((await inbox.waitFor(1))[0]!.payload.toString(), 'asked-for');
  });

  test('[MQTT-3.1.3-9] Will Delay Interval: the will waits for the delay, then is published', async () => {
    const topic = `will5/${uniqueId()}`;
    const inbox = await listen(topic);
    const { client: r } = await h.rawConnected(broker.port, {
      version: 5, properties: [{ id: pk.Prop.SessionExpiryInterval, value: 60 }],
      will: { topic, payload: 'delayed', qos: 1, properties: [{ id: pk.Prop.WillDelayInterval, value: 2 }] },
    });
    r.destroy();
    await inbox.expectNone(500, 0);
    assert.equal((await inbox.waitFor(1, 10000))[0]!.payload.toString(), 'delayed');
  });

  test('[MQTT-3.1.3-9] reconnecting before the Will Delay Interval passed cancels the will', async () => {
    const topic = `will5/${uniqueId()}`;
    const inbox = await listen(topic);
    const id = uniqueId('wd');
    const { client: r } = await h.rawConnected(broker.port, {
      version: 5, clientId: id, properties: [{ id: pk.Prop.SessionExpiryInterval, value: 60 }],
      will: { topic, payload: 'cancelled', qos: 1, properties: [{ id: pk.Prop.WillDelayInterval, value: 2 }] },
    });
    r.destroy();
    await r.closed;
    const { client: again, connack } = await h.rawConnected(broker.port, {
      version: 5, clientId: id, clean: false, properties: [{ id: pk.Prop.SessionExpiryInterval, value: 60 }],
    });
    assert.equal(connack.sessionPresent, true);
    await inbox.expectNone(3000, 0);
    await again.end();
  });

  test('the will is published when the session ends, if that is before the Will Delay Interval', async () => {
    const topic = `will5/${uniqueId()}`;
    const inbox = await listen(topic);
    const { client: r } = await h.rawConnected(broker.port, {
      version: 5, properties: [{ id: pk.Prop.SessionExpiryInterval, value: 1 }],
      will: { topic, payload: 'session-ended', qos: 1, properties: [{ id: pk.Prop.WillDelayInterval, value: 3600 }] },
    });
    r.destroy();
    assert.equal((await inbox.waitFor(1, 10000))[0]!.payload.toString(), 'session-ended');
  });

  test('will properties (content type, user properties in order, response topic) are published with the will', async () => {
    const topic = `will5/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(broker.port, { version: 5 });
    sub.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], 5));
    await sub.expect(PacketType.SUBACK);
    const users: Array<[string, string]> = [['k', 'v1'], ['a', 'b'], ['k', 'v2']];
    const { client: r } = await h.rawConnected(broker.port, {
      version: 5,
      will: {
        topic, payload: 'props', qos: 1, properties: [
          { id: pk.Prop.ContentType, value: 'text/plain' },
          { id: pk.Prop.ResponseTopic, value: 'resp/t' },
          ...users.map((u) => ({ id: pk.Prop.UserProperty, value: u })),
        ],
      },
    });
    r.destroy();
    const m = await sub.expect(PacketType.PUBLISH);
    assert.equal(m.payload!.toString(), 'props');
    assert.equal(pk.prop(m, pk.Prop.ContentType), 'text/plain');
    assert.equal(pk.prop(m, pk.Prop.ResponseTopic), 'resp/t');
    assert.deepEqual(pk.userProps(m), users);
    sub.destroy();
  });
});

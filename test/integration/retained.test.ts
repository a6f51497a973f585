/**
 * Retained messages over real sockets: store, replace, clear, delivery on subscribe, retain
 * flag rules, v5 retain handling / retain as published, v5 properties on retained messages.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, Inbox, subscribe, uniqueId, versions, sleep } from '../helpers/clients.ts';
import { PacketType, pk, rawSubscriber, receivePublishes } from '../helpers/raw.ts';
import type { TestBroker } from '../helpers/broker.ts';

const h = new Harness();
let broker: TestBroker;

before(async () => { broker = await h.broker(); });
after(() => h.teardown());

for (const v of versions) {
  const v5 = v === 5;
  describe(`retained messages, MQTT ${v5 ? '5.0' : '3.1.1'}`, () => {
    test(`[MQTT-3.3.1-${v5 ? '9' : '8'}] a retained message is sent to a new subscriber with RETAIN 1`, async () => {
      const topic = `ret/${uniqueId()}`;
      const pub = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(topic, 'kept', { qos: 1, retain: true });
      const { client: sub } = await rawSubscriber(broker.port, [{ filter: topic, qos: 1 }], { version: v });
      const [m] = await receivePublishes(sub, 1);
      assert.equal(m!.payload!.toString(), 'kept');
      assert.equal(m!.retain, true);
      assert.equal(m!.qos, 1);
      sub.destroy();
    });

    test('[MQTT-3.3.1-5] a newer retained message replaces the previous one', async () => {
      const topic = `ret/${uniqueId()}`;
      const pub = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(topic, 'old', { qos: 1, retain: true });
      await pub.publishAsync(topic, 'new', { qos: 0, retain: true });
      // a QoS 0 PUBLISH has no answer: this PUBACK says the broker has handled 'new' (with several
      // workers, a subscriber on another one may otherwise subscribe before it arrives)
      await pub.publishAsync(`${topic}/after`, 'x', { qos: 1 });
      const sub = await h.connect(broker.url, { protocolVersion: v });
      const inbox = new Inbox(sub);
      await subscribe(sub, topic, { qos: 1 });
      const [m] = await inbox.waitFor(1);
      assert.equal(m!.payload.toString(), 'new');
      assert.equal(m!.packet.qos, 0, 'QoS of the retained message, not of the previous one');
      await inbox.expectNone(200);
    });

    test(`[MQTT-3.3.1-${v5 ? '6' : '10'}] a retained empty payload clears the retained message [MQTT-3.3.1-${v5 ? '7' : '11'}] and is not stored`, async () => {
      const topic = `ret/${uniqueId()}`;
      const pub = await h.connect(broker.url, { protocolVersion: v });
      const live = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(topic, 'soon-gone', { qos: 1, retain: true });
      const liveInbox = new Inbox(live);
      await subscribe(live, topic, { qos: 1 });
      await liveInbox.waitFor(1);
      await pub.publishAsync(topic, '', { qos: 1, retain: true });
      // the clearing message is forwarded to existing subscribers as a normal message
      const cleared = (await liveInbox.waitFor(2))[1]!;
      assert.equal(cleared.payload.length, 0);
      const sub = await h.connect(broker.url, { protocolVersion: v });
      const inbox = new Inbox(sub);
      await subscribe(sub, topic, { qos: 1 });
      await inbox.expectNone(250, 0);
    });

    test(`[MQTT-3.3.1-${v5 ? '12' : '9'}] a message matching an established subscription is sent with RETAIN 0`, async () => {
      const topic = `ret/${uniqueId()}`;
      const { client: sub } = await rawSubscriber(broker.port, [{ filter: topic, qos: 0 }], { version: v });
      const pub = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(topic, 'live', { qos: 0, retain: true });
      const m = await sub.expect(PacketType.PUBLISH);
      assert.equal(m.payload!.toString(), 'live');
      assert.equal(m.retain, false);
      sub.destroy();
    });

    test('retained messages of every topic matching a wildcard subscription are sent, QoS = min(message, subscription)', async () => {
      const base = `retw/${uniqueId()}`;
      const pub = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(`${base}/a`, 'a', { qos: 2, retain: true });
      await pub.publishAsync(`${base}/b/c`, 'bc', { qos: 0, retain: true });
      await pub.publishAsync(`${base}/d`, 'd', { qos: 1, retain: true });
      const sub = await h.connect(broker.url, { protocolVersion: v });
      const inbox = new Inbox(sub);
      await subscribe(sub, `${base}/#`, { qos: 1 });
      const got = await inbox.waitFor(3);
      const byPayload = new Map(got.map((m) => [m.payload.toString(), m.packet]));
      assert.deepEqual([...byPayload.keys()].sort(), ['a', 'bc', 'd']);
      assert.equal(byPayload.get('a')!.qos, 1);
      assert.equal(byPayload.get('bc')!.qos, 0);
      assert.equal(byPayload.get('d')!.qos, 1);
      for (const p of byPayload.values()) assert.equal(p.retain, true);
    });

    test(`[MQTT-3.8.4-3] subscribing again to the same filter re-sends the retained message${v5 ? ' (retain handling 0)' : ''}`, async () => {
      const topic = `ret/${uniqueId()}`;
      const pub = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(topic, 'again', { qos: 1, retain: true });
      const sub = await h.connect(broker.url, { protocolVersion: v });
      const inbox = new Inbox(sub);
      await subscribe(sub, topic, { qos: 1 });
      await inbox.waitFor(1);
      await subscribe(sub, topic, { qos: 1 });
      const got = await inbox.waitFor(2);
      assert.deepEqual(got.map((m) => m.payload.toString()), ['again', 'again']);
    });

    test('a retained message is not sent to a subscription whose filter does not match', async () => {
      const base = `retn/${uniqueId()}`;
      const pub = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(`${base}/x/y`, 'deep', { qos: 1, retain: true });
      const sub = await h.connect(broker.url, { protocolVersion: v });
      const inbox = new Inbox(sub);
      await subscribe(sub, `${base}/+`, { qos: 1 });
      await inbox.expectNone(250, 0);
    });
  });
}

describe('retained messages, MQTT 5.0 options and properties', () => {
  test('[MQTT-3.3.1-10] retain handling 1: retained sent only when the subscription did not exist', async () => {
    const topic = `rh1/${uniqueId()}`;
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    await pub.publishAsync(topic, 'r', { qos: 1, retain: true });
    const sub = await h.connect(broker.url, { protocolVersion: 5 });
    const inbox = new Inbox(sub);
    await subscribe(sub, topic, { qos: 1, rh: 1 });
    await inbox.waitFor(1);
    await subscribe(sub, topic, { qos: 1, rh: 1 });
    await inbox.expectNone(250, 1);
  });

  test('[MQTT-3.3.1-11] retain handling 2: retained messages are not sent on subscribe', async () => {
    const topic = `rh2/${uniqueId()}`;
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    await pub.publishAsync(topic, 'r', { qos: 1, retain: true });
    const sub = await h.connect(broker.url, { protocolVersion: 5 });
    const inbox = new Inbox(sub);
    await subscribe(sub, topic, { qos: 1, rh: 2 });
    await inbox.expectNone(250, 0);
    await pub.publishAsync(topic, 'live', { qos: 1 });
    assert.equal((await inbox.waitFor(1))[0]!.payload.toString(), 'live');
  });

  test('[MQTT-3.3.1-13] retain as published: live messages keep their RETAIN flag', async () => {
    const topic = `rap/${uniqueId()}`;
    const { client: sub } = await rawSubscriber(broker.port, [{ filter: topic, qos: 0, retainAsPublished: true }], { version: 5 });
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    await pub.publishAsync(topic, 'with-retain', { qos: 0, retain: true });
    await pub.publishAsync(topic, 'without', { qos: 0, retain: false });
    const a = await sub.expect(PacketType.PUBLISH);
    const b = await sub.expect(PacketType.PUBLISH);
    assert.deepEqual([a.payload!.toString(), a.retain], ['with-retain', true]);
    assert.deepEqual([b.payload!.toString(), b.retain], ['without', false]);
    sub.destroy();
  });

  test('[MQTT-3.3.2-17] [MQTT-3.3.2-18] a retained message keeps its user properties in order, content type, format indicator, correlation data and response topic', async () => {
    const topic = `retp/${uniqueId()}`;
    const { client: pub } = await h.rawConnected(broker.port, { version: 5 });
    const users: Array<[string, string]> = [['z', '1'], ['a', '2'], ['z', '3'], ['m', '']];
    pub.send(pk.publish({
      version: 5, topic, qos: 1, packetId: 1, retain: true, payload: '{"v":1}',
      properties: [
        ...users.map((u) => ({ id: pk.Prop.UserProperty, value: u })),
        { id: pk.Prop.ContentType, value: 'application/json' },
        { id: pk.Prop.PayloadFormatIndicator, value: 1 },
        { id: pk.Prop.ResponseTopic, value: 'reply/here' },
        { id: pk.Prop.CorrelationData, value: Buffer.from([1, 2, 3]) },
      ],
    }));
    await pub.expect(PacketType.PUBACK);
    const { client: sub } = await rawSubscriber(broker.port, [{ filter: topic, qos: 1 }], { version: 5 });
    const [m] = await receivePublishes(sub, 1);
    assert.equal(m!.retain, true);
    assert.deepEqual(pk.userProps(m!), users);
    assert.equal(pk.prop(m!, pk.Prop.ContentType), 'application/json');
    assert.equal(pk.prop(m!, pk.Prop.PayloadFormatIndicator), 1);
    assert.equal(pk.prop(m!, pk.Prop.ResponseTopic), 'reply/here');
    assert.deepEqual(pk.prop(m!, pk.Prop.CorrelationData), Buffer.from([1, 2, 3]));
    pub.destroy();
    sub.destroy();
  });

  test('[MQTT-3.3.2-6] a retained message is sent with its message expiry counted down', async () => {
    const topic = `retx/${uniqueId()}`;
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    await pub.publishAsync(topic, 'expiring', { qos: 1, retain: true, properties: { messageExpiryInterval: 100 } });
    await sleep(2100);
    const { client: sub } = await rawSubscriber(broker.port, [{ filter: topic, qos: 1 }], { version: 5 });
    const [m] = await receivePublishes(sub, 1);
    const left = pk.prop(m!, pk.Prop.MessageExpiryInterval) as number;
    assert.ok(left >= 1 && left <= 98, `remaining expiry counted down, got ${left}`);
    sub.destroy();
  });

  test('[MQTT-3.3.2-5] an expired retained message is no longer sent', async () => {
    const topic = `retx/${uniqueId()}`;
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    await pub.publishAsync(topic, 'short-lived', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
    await sleep(2200);
    const sub = await h.connect(broker.url, { protocolVersion: 5 });
    const inbox = new Inbox(sub);
    await subscribe(sub, topic, { qos: 1 });
    await inbox.expectNone(250, 0);
  });
});

describe('retain_available false', () => {
  let noRetain: TestBroker;
  before(async () => { noRetain = await h.broker({ retainAvailable: false }); });

  test('MQTT 5.0: CONNACK says Retain Available 0 and a retained PUBLISH gets DISCONNECT 0x9A [MQTT-3.2.2-14] and is closed [MQTT-4.13.2-1]', async () => {
    const { client: r, connack } = await h.rawConnected(noRetain.port, { version: 5 });
    assert.equal(pk.prop(connack, pk.Prop.RetainAvailable), 0);
    r.send(pk.publish({ version: 5, topic: 'x', payload: 'y', qos: 1, retain: true, packetId: 1 }));
    const got = await r.expectClosed();
    assert.equal(got.at(-1)?.type, PacketType.DISCONNECT);
    assert.equal(got.at(-1)?.reasonCode, 0x9a);
  });
});

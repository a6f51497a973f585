/**
 * MQTT 5 properties and options over real sockets: CONNACK properties, message expiry,
 * request/response, user properties, payload format, subscription identifiers, No Local,
 * AUTH, reason strings.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, subscribe, uniqueId, sleep } from '../helpers/clients.ts';
import { PacketType, pk, receivePublishes } from '../helpers/raw.ts';
import type { TestBroker } from '../helpers/broker.ts';

const h = new Harness();
let broker: TestBroker;

before(async () => { broker = await h.broker(); });
after(() => h.teardown());

/** Boolean capability properties: absent means "available" ([MQTT-3.2.2] property definitions). */
function available(connack: pk.Packet, id: number): boolean {
  const v = pk.prop(connack, id);
  return v === undefined || v === 1;
}

describe('CONNACK properties', () => {
  test('a default broker announces its capabilities and limits', async () => {
    const { client: r, connack } = await h.rawConnected(broker.port, { version: 5 });
    assert.equal(connack.reasonCode, 0);
    assert.equal(pk.prop(connack, pk.Prop.ReceiveMaximum), broker.config.maxInflightMessages);
    assert.equal(pk.prop(connack, pk.Prop.TopicAliasMaximum), broker.config.maxTopicAlias);
    assert.ok(available(connack, pk.Prop.RetainAvailable), 'retain available');
    assert.ok(available(connack, pk.Prop.WildcardSubscriptionAvailable), 'wildcards available');
    assert.ok(available(connack, pk.Prop.SharedSubscriptionAvailable), 'shared subscriptions available');
    assert.ok(available(connack, pk.Prop.SubscriptionIdentifierAvailable), 'subscription ids available');
    // absent = QoS 2 [MQTT-3.2.2-9]; absent = no limit
    assert.ok([undefined, 2].includes(pk.prop(connack, pk.Prop.MaximumQoS) as number | undefined));
    assert.equal(pk.prop(connack, pk.Prop.MaximumPacketSize), undefined);
    await r.end();
  });

  test('[MQTT-3.2.2-9] a broker with max_qos 1 announces Maximum QoS 1 and grants at most QoS 1', async () => {
    const b = await h.broker({ maxQos: 1 });
    const { client: r, connack } = await h.rawConnected(b.port, { version: 5 });
    assert.equal(pk.prop(connack, pk.Prop.MaximumQoS), 1);
    r.send(pk.subscribe(1, [{ filter: 'mq/x', qos: 2 }], 5));
    assert.deepEqual((await r.expect(PacketType.SUBACK)).reasonCodes, [1]);
    await r.end();
  });
});

describe('message expiry', () => {
  /** A v5 session subscribed to `topic` at QoS 1, offline, with its client id. */
  async function offline(topic: string): Promise<string> {
    const id = uniqueId('mx');
    const { client } = await h.rawConnected(broker.port, {
      version: 5, clientId: id, properties: [{ id: pk.Prop.SessionExpiryInterval, value: 300 }],
    });
    client.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], 5));
    await client.expect(PacketType.SUBACK);
    await client.end();
    return id;
  }

  test('[MQTT-3.3.2-5] a queued message whose expiry passed is not delivered; [MQTT-3.3.2-6] a live one carries the remaining interval', async () => {
    const topic = `mx/${uniqueId()}`;
    const id = await offline(topic);
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    await pub.publishAsync(topic, 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.publishAsync(topic, 'long', { qos: 1, properties: { messageExpiryInterval: 100 } });
    await pub.publishAsync(topic, 'forever', { qos: 1 });
    await sleep(2200);
    const { client } = await h.rawConnected(broker.port, {
      version: 5, clientId: id, clean: false, properties: [{ id: pk.Prop.SessionExpiryInterval, value: 300 }],
    });
    const got = await receivePublishes(client, 2);
    assert.deepEqual(got.map((m) => m.payload!.toString()), ['long', 'forever']);
    const left = pk.prop(got[0]!, pk.Prop.MessageExpiryInterval) as number;
    assert.ok(left >= 1 && left <= 98, `remaining expiry ${left}`);
    assert.equal(pk.prop(got[1]!, pk.Prop.MessageExpiryInterval), undefined, 'no expiry stays no expiry');
    await client.expectNoPacket(250);
    await client.end();
  });

  test('a message delivered at once carries its Message Expiry Interval', async () => {
    const topic = `mx/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(broker.port, { version: 5 });
    sub.send(pk.subscribe(1, [{ filter: topic, qos: 0 }], 5));
    await sub.expect(PacketType.SUBACK);
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    await pub.publishAsync(topic, 'x', { qos: 0, properties: { messageExpiryInterval: 3600 } });
    const m = await sub.expect(PacketType.PUBLISH);
    const left = pk.prop(m, pk.Prop.MessageExpiryInterval) as number;
    assert.ok(left > 3590 && left <= 3600, `got ${left}`);
    sub.destroy();
  });
});

describe('application properties are forwarded', () => {
  test('[MQTT-3.3.2-4] payload format, [MQTT-3.3.2-20] content type, [MQTT-3.3.2-15] response topic, [MQTT-3.3.2-16] correlation data, [MQTT-3.3.2-17] [MQTT-3.3.2-18] user properties in order', async () => {
    const topic = `props/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(broker.port, { version: 5 });
    sub.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], 5));
    await sub.expect(PacketType.SUBACK);
    const { client: pub } = await h.rawConnected(broker.port, { version: 5 });
    const users: Array<[string, string]> = [['b', '1'], ['a', '2'], ['b', '3'], ['ü', 'ø'], ['a', '2']];
    pub.send(pk.publish({
      version: 5, topic, qos: 1, packetId: 1, payload: 'héllo',
      properties: [
        { id: pk.Prop.PayloadFormatIndicator, value: 1 },
        ...users.slice(0, 2).map((u) => ({ id: pk.Prop.UserProperty, value: u })),
        { id: pk.Prop.ContentType, value: 'text/plain; charset=utf-8' },
        { id: pk.Prop.ResponseTopic, value: 'replies/for/me' },
        ...users.slice(2).map((u) => ({ id: pk.Prop.UserProperty, value: u })),
        { id: pk.Prop.CorrelationData, value: Buffer.from([0, 1, 2, 255]) },
      ],
    }));
    await pub.expect(PacketType.PUBACK);
    const [m] = await receivePublishes(sub, 1);
    assert.equal(m!.payload!.toString(), 'héllo');
    assert.equal(pk.prop(m!, pk.Prop.PayloadFormatIndicator), 1);
    assert.equal(pk.prop(m!, pk.Prop.ContentType), 'text/plain; charset=utf-8');
    assert.equal(pk.prop(m!, pk.Prop.ResponseTopic), 'replies/for/me');
    assert.deepEqual(pk.prop(m!, pk.Prop.CorrelationData), Buffer.from([0, 1, 2, 255]));
    assert.deepEqual(pk.userProps(m!), users);
    pub.destroy();
    sub.destroy();
  });

  test('a request/response round trip with MQTT.js: the responder answers on the Response Topic with the Correlation Data', async () => {
    const requester = await h.connect(broker.url, { protocolVersion: 5 });
    const responder = await h.connect(broker.url, { protocolVersion: 5 });
    const service = `svc/${uniqueId()}`;
    const replyTo = `reply/${uniqueId()}`;
    await subscribe(responder, service, { qos: 1 });
    responder.on('message', (_t, payload, packet) => {
      const p = packet.properties!;
      void responder.publishAsync(p.responseTopic!, `re:${payload.toString()}`, { qos: 1, properties: { correlationData: p.correlationData } });
    });
    await subscribe(requester, replyTo, { qos: 1 });
    const reply = new Promise<{ payload: string; corr: Buffer | undefined }>((resolve) => {
      requester.on('message', (_t, payload, packet) => resolve({ payload: payload.toString(), corr: packet.properties?.correlationData }));
    });
    await requester.publishAsync(service, 'ping', { qos: 1, properties: { responseTopic: replyTo, correlationData: Buffer.from('c-42') } });
    const r = await reply;
    assert.equal(r.payload, 're:ping');
    assert.deepEqual(r.corr, Buffer.from('c-42'));
  });

  test('invalid UTF-8 payload with Payload Format Indicator 1 is refused (PUBACK 0x99) or forwarded unchanged', async () => {
    const topic = `pfi/${uniqueId()}`;
    const { client: pub } = await h.rawConnected(broker.port, { version: 5 });
    pub.send(pk.publish({
      version: 5, topic, qos: 1, packetId: 1, payload: Buffer.from([0xc0, 0xaf]),
      properties: [{ id: pk.Prop.PayloadFormatIndicator, value: 1 }],
    }));
    const ack = await pub.nextPacket();
    if (ack.type === PacketType.PUBACK) assert.ok([0x00, 0x10, 0x99].includes(ack.reasonCode!));
    else assert.equal(ack.type, PacketType.DISCONNECT);
    pub.destroy();
  });
});

describe('subscription identifiers', () => {
  test('[MQTT-3.3.4-3] a PUBLISH carries the Subscription Identifier of the matching subscription', async () => {
    const topic = `sid/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(broker.port, { version: 5 });
    sub.send(pk.subscribe(1, [{ filter: topic, qos: 0 }], 5, [{ id: pk.Prop.SubscriptionIdentifier, value: 268435455 }]));
    await sub.expect(PacketType.SUBACK);
    sub.send(pk.subscribe(2, [{ filter: `${topic}/none`, qos: 0 }], 5));
    await sub.expect(PacketType.SUBACK);
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    await pub.publishAsync(topic, 'a', { qos: 0 });
    await pub.publishAsync(`${topic}/none`, 'b', { qos: 0 });
    const a = await sub.expect(PacketType.PUBLISH);
    assert.deepEqual(a.properties.filter((p) => p.id === pk.Prop.SubscriptionIdentifier).map((p) => p.value), [268435455]);
    const b = await sub.expect(PacketType.PUBLISH);
    assert.equal(pk.prop(b, pk.Prop.SubscriptionIdentifier), undefined, 'no identifier for a subscription without one');
    sub.destroy();
  });

  test('[MQTT-3.3.4-2] [MQTT-3.3.4-4] overlapping subscriptions: one PUBLISH, at the highest QoS, carrying every matching Subscription Identifier', async () => {
    const base = `sid/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(broker.port, { version: 5 });
    sub.send(pk.subscribe(1, [{ filter: `${base}/#`, qos: 1 }], 5, [{ id: pk.Prop.SubscriptionIdentifier, value: 1 }]));
    await sub.expect(PacketType.SUBACK);
    sub.send(pk.subscribe(2, [{ filter: `${base}/+`, qos: 2 }], 5, [{ id: pk.Prop.SubscriptionIdentifier, value: 2 }]));
    await sub.expect(PacketType.SUBACK);
    sub.send(pk.subscribe(3, [{ filter: `${base}/x`, qos: 0 }], 5));
    await sub.expect(PacketType.SUBACK);
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    await pub.publishAsync(`${base}/x`, 'o', { qos: 2 });
    const [m] = await receivePublishes(sub, 1);
    assert.equal(m!.qos, 2, '[MQTT-3.3.4-2] maximum QoS of the matching subscriptions');
    const ids = m!.properties.filter((p) => p.id === pk.Prop.SubscriptionIdentifier).map((p) => p.value as number);
    assert.deepEqual(ids.sort(), [1, 2]);
    sub.send(pk.ack(PacketType.PUBCOMP, (await sub.expect(PacketType.PUBREL)).packetId!));
    await sub.expectNoPacket(300);
    sub.destroy();
  });

  test('Subscription Identifier 0 is a protocol error (DISCONNECT 0x82)', async () => {
    const { client: r } = await h.rawConnected(broker.port, { version: 5 });
    r.send(pk.subscribe(1, [{ filter: 'sid0', qos: 0 }], 5, [{ id: pk.Prop.SubscriptionIdentifier, value: 0 }]));
    const got = await r.expectClosed();
    for (const p of got) {
      assert.equal(p.type, PacketType.DISCONNECT);
      assert.ok([0x81, 0x82].includes(p.reasonCode!));
    }
  });
});

describe('No Local', () => {
  test('[MQTT-3.8.3-3] with No Local, a client does not receive its own messages; other clients do', async () => {
    const topic = `nl/${uniqueId()}`;
    const { client: me } = await h.rawConnected(broker.port, { version: 5 });
    me.send(pk.subscribe(1, [{ filter: topic, qos: 1, noLocal: true }], 5));
    await me.expect(PacketType.SUBACK);
    const { client: other } = await h.rawConnected(broker.port, { version: 5 });
    other.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], 5));
    await other.expect(PacketType.SUBACK);
    me.send(pk.publish({ version: 5, topic, qos: 1, packetId: 5, payload: 'mine' }));
    assert.equal((await me.expect(PacketType.PUBACK)).packetId, 5);
    assert.equal((await receivePublishes(other, 1))[0]!.payload!.toString(), 'mine');
    await me.expectNoPacket(250);
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    await pub.publishAsync(topic, 'theirs', { qos: 1 });
    assert.equal((await receivePublishes(me, 1))[0]!.payload!.toString(), 'theirs');
    me.destroy();
    other.destroy();
  });
});

describe('enhanced authentication', () => {
  test('[MQTT-4.12.0-1] [MQTT-3.2.2-5] an unsupported Authentication Method: CONNACK 0x8C (or 0x87) and close', async () => {
    const r = await h.raw(broker.port, 5);
    r.send(pk.connect({
      version: 5, clientId: uniqueId(),
      properties: [{ id: pk.Prop.AuthenticationMethod, value: 'SCRAM-SHA-999' }, { id: pk.Prop.AuthenticationData, value: Buffer.from('x') }],
    }));
    const connack = await r.expect(PacketType.CONNACK);
    assert.ok([0x8c, 0x87].includes(connack.reasonCode!), `got 0x${connack.reasonCode!.toString(16)}`);
    await r.expectClosed();
  });

  test('an AUTH packet without an authentication method in CONNECT is a protocol error', async () => {
    const { client: r } = await h.rawConnected(broker.port, { version: 5 });
    r.send(pk.auth(0x19, [{ id: pk.Prop.AuthenticationMethod, value: 'X' }]));
    const got = await r.expectClosed();
    for (const p of got) {
      assert.equal(p.type, PacketType.DISCONNECT);
      assert.ok(p.reasonCode! >= 0x80);
    }
  });
});

describe('Request Problem Information', () => {
  test('[MQTT-3.1.2-29] with Request Problem Information 0, no Reason String or User Property on UNSUBACK / SUBACK / PUBACK', async () => {
    const { client: r } = await h.rawConnected(broker.port, { version: 5, properties: [{ id: pk.Prop.RequestProblemInformation, value: 0 }] });
    r.send(pk.unsubscribe(1, ['never/subscribed'], 5));
    const unsuback = await r.expect(PacketType.UNSUBACK);
    r.send(pk.subscribe(2, [{ filter: 'bad/#/x', qos: 0 }, { filter: 'ok', qos: 0 }], 5));
    let suback: pk.Packet | undefined;
    try { suback = await r.nextPacket(); } catch { suback = undefined; }
    const { client: r2 } = await h.rawConnected(broker.port, { version: 5, properties: [{ id: pk.Prop.RequestProblemInformation, value: 0 }] });
    r2.send(pk.publish({ version: 5, topic: `nobody/${uniqueId()}`, qos: 1, packetId: 3, payload: 'x' }));
    const puback = await r2.expect(PacketType.PUBACK);
    for (const p of [unsuback, suback, puback]) {
      if (p === undefined || p.type === PacketType.DISCONNECT) continue;
      assert.equal(pk.prop(p, pk.Prop.ReasonString), undefined);
      assert.equal(pk.prop(p, pk.Prop.UserProperty), undefined);
    }
    r.destroy();
    r2.destroy();
  });
});

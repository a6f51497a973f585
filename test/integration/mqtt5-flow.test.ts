/**
 * MQTT 5 flow control over real sockets: Receive Maximum both ways, Maximum Packet Size both
 * ways, Topic Alias inbound and outbound.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, Inbox, publishMany, subscribe, uniqueId } from '../helpers/clients.ts';
import { PacketType, pk, receivePublishes, type Packet } from '../helpers/raw.ts';
import type { TestBroker } from '../helpers/broker.ts';

const h = new Harness();
let broker: TestBroker;

before(async () => { broker = await h.broker(); });
after(() => h.teardown());

describe('Receive Maximum', () => {
  test('[MQTT-3.3.4-9] the broker never has more unacknowledged QoS 1 PUBLISH than the client\'s Receive Maximum', async () => {
    const topic = `rm/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(broker.port, { version: 5, properties: [{ id: pk.Prop.ReceiveMaximum, value: 3 }] });
    sub.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], 5));
    await sub.expect(PacketType.SUBACK);
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    await publishMany(pub, topic, 10, 1);
    const first = await receivePublishes(sub, 3, false);
    await sub.expectNoPacket(300);
    sub.send(pk.ack(PacketType.PUBACK, first[0]!.packetId!));
    const fourth = await receivePublishes(sub, 1, false);
    await sub.expectNoPacket(300);
    for (const m of [...first.slice(1), ...fourth]) sub.send(pk.ack(PacketType.PUBACK, m.packetId!));
    const rest: Packet[] = [];
    while (rest.length < 6) {
      const batch = await receivePublishes(sub, 1, false);
      rest.push(...batch);
      // keep at most 3 unacknowledged: ack as we go
      sub.send(pk.ack(PacketType.PUBACK, batch[0]!.packetId!));
    }
    const order = [...first, ...fourth, ...rest].map((m) => Number(m.payload!.toString()));
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    sub.destroy();
  });

  test('[MQTT-3.3.4-9] a QoS 2 delivery counts against Receive Maximum until the client sends PUBCOMP (Receive Maximum 1)', async () => {
    const topic = `rm2/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(broker.port, { version: 5, properties: [{ id: pk.Prop.ReceiveMaximum, value: 1 }] });
    sub.send(pk.subscribe(1, [{ filter: topic, qos: 2 }], 5));
    await sub.expect(PacketType.SUBACK);
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    await publishMany(pub, topic, 2, 2);
    const [m1] = await receivePublishes(sub, 1, false);
    sub.send(pk.ack(PacketType.PUBREC, m1!.packetId!));
    const rel = await sub.expect(PacketType.PUBREL);
    await sub.expectNoPacket(300);
    sub.send(pk.ack(PacketType.PUBCOMP, rel.packetId!));
    const [m2] = await receivePublishes(sub, 1, false);
    assert.equal(m2!.payload!.toString(), '1');
    sub.destroy();
  });

  test('[MQTT-4.13.2-1] a client sending more QoS 2 PUBLISH than the broker\'s Receive Maximum gets DISCONNECT 0x93 and is closed', async () => {
    const { client: r, connack } = await h.rawConnected(broker.port, { version: 5 });
    const max = (pk.prop(connack, pk.Prop.ReceiveMaximum) as number | undefined) ?? 65535;
    assert.ok(max < 1000, `Receive Maximum announced: ${max}`);
    for (let i = 1; i <= max + 1; i++) r.send(pk.publish({ version: 5, topic: `rmx/${i}`, qos: 2, packetId: i, payload: 'x' }));
    const got = await r.expectClosed();
    const last = got.at(-1)!;
    assert.equal(last.type, PacketType.DISCONNECT);
    assert.equal(last.reasonCode, 0x93);
    assert.equal(got.filter((p) => p.type === PacketType.PUBREC).length, max);
  });
});

describe('Maximum Packet Size', () => {
  test('[MQTT-3.1.2-24] [MQTT-3.1.2-25] a message larger than the client\'s Maximum Packet Size is not sent; later ones are', async () => {
    const topic = `mps/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(broker.port, { version: 5, properties: [{ id: pk.Prop.MaximumPacketSize, value: 200 }] });
    sub.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], 5));
    await sub.expect(PacketType.SUBACK);
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    await pub.publishAsync(topic, 'small-1', { qos: 1 });
    await pub.publishAsync(topic, Buffer.alloc(500, 0x41), { qos: 1 });
    await pub.publishAsync(topic, 'small-2', { qos: 0 });
    await pub.publishAsync(topic, 'small-3', { qos: 1 });
    const got = await receivePublishes(sub, 3);
    assert.deepEqual(got.map((m) => m.payload!.toString()), ['small-1', 'small-2', 'small-3']);
    await sub.expectNoPacket(250);
    assert.equal(sub.isClosed, false);
    sub.destroy();
  });

  test('[MQTT-3.1.2-24] a Maximum Packet Size below the CONNACK\'s size: closed without a CONNACK (Mosquitto\'s 12-prop-maximum-packet-size-connect.py); a will is not published', async () => {
    const topic = `mps-will/${uniqueId()}`;
    const watcher = await h.connect(broker.url, { protocolVersion: 5 });
    const inbox = new Inbox(watcher);
    await watcher.subscribeAsync(topic, { qos: 1 });
    for (const max of [2, 5]) {
      const r = await h.raw(broker.port, 5);
      r.send(pk.connect({ version: 5, clientId: uniqueId(), will: { topic, payload: 'gone' }, properties: [{ id: pk.Prop.MaximumPacketSize, value: max }] }));
      assert.deepEqual(await r.expectClosed(), [], `Maximum Packet Size ${max}: nothing before the close`);
    }
    // a maximum the CONNACK fits in is served
    const { connack } = await h.rawConnected(broker.port, { version: 5, properties: [{ id: pk.Prop.MaximumPacketSize, value: 64 }] });
    assert.equal(connack.reasonCode, 0);
    await inbox.expectNone(300, 0);
  });

  test('a dropped oversize QoS 1 message does not use up the Receive Maximum [MQTT-3.1.2-25]', async () => {
    const topic = `mps2/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(broker.port, {
      version: 5, properties: [{ id: pk.Prop.MaximumPacketSize, value: 200 }, { id: pk.Prop.ReceiveMaximum, value: 1 }],
    });
    sub.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], 5));
    await sub.expect(PacketType.SUBACK);
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    for (let i = 0; i < 3; i++) await pub.publishAsync(topic, Buffer.alloc(500, 0x41), { qos: 1 });
    await pub.publishAsync(topic, 'fits', { qos: 1 });
    const [m] = await receivePublishes(sub, 1);
    assert.equal(m!.payload!.toString(), 'fits');
    sub.destroy();
  });

  describe('broker max_packet_size', () => {
    let small: TestBroker;
    before(async () => { small = await h.broker({ maxPacketSize: 1000 }); });

    test('[MQTT-3.2.2-15] [MQTT-4.13.2-1] CONNACK announces Maximum Packet Size; a larger PUBLISH gets DISCONNECT 0x95 and is closed', async () => {
      const { client: r, connack } = await h.rawConnected(small.port, { version: 5 });
      assert.equal(pk.prop(connack, pk.Prop.MaximumPacketSize), 1000);
      r.send(pk.publish({ version: 5, topic: 'big', qos: 1, packetId: 1, payload: Buffer.alloc(2000) }));
      const got = await r.expectClosed();
      assert.equal(got.length, 1);
      assert.equal(got[0]!.type, PacketType.DISCONNECT);
      assert.equal(got[0]!.reasonCode, 0x95);
    });

    test('MQTT 3.1.1: a PUBLISH larger than max_packet_size closes the connection', async () => {
      const { client: r } = await h.rawConnected(small.port, { version: 4 });
      r.send(pk.publish({ version: 4, topic: 'big', qos: 1, packetId: 1, payload: Buffer.alloc(2000) }));
      assert.deepEqual(await r.expectClosed(), []);
    });

    test('a PUBLISH just under max_packet_size is accepted', async () => {
      const { client: r } = await h.rawConnected(small.port, { version: 5 });
      const packet = pk.publish({ version: 5, topic: 'fits', qos: 1, packetId: 1, payload: Buffer.alloc(1000 - 12) });
      assert.ok(packet.length <= 1000);
      r.send(packet);
      assert.equal((await r.expect(PacketType.PUBACK)).packetId, 1);
      await r.end();
    });
  });
});

describe('Topic Alias', () => {
  test('[MQTT-3.3.2-12] inbound: an alias set with a topic is used for later PUBLISH with an empty topic', async () => {
    const topic = `ta/${uniqueId()}`;
    const sub = await h.connect(broker.url, { protocolVersion: 5 });
    const inbox = new Inbox(sub);
    await subscribe(sub, 'ta/#', { qos: 1 });
    const { client: r, connack } = await h.rawConnected(broker.port, { version: 5 });
    assert.equal(pk.prop(connack, pk.Prop.TopicAliasMaximum), broker.config.maxTopicAlias);
    r.send(pk.publish({ version: 5, topic, qos: 1, packetId: 1, payload: 'set', properties: [{ id: pk.Prop.TopicAlias, value: 1 }] }));
    r.send(pk.publish({ version: 5, topic: '', qos: 1, packetId: 2, payload: 'use', properties: [{ id: pk.Prop.TopicAlias, value: 1 }] }));
    r.send(pk.publish({ version: 5, topic: `${topic}/other`, qos: 1, packetId: 3, payload: 'remap', properties: [{ id: pk.Prop.TopicAlias, value: 1 }] }));
    r.send(pk.publish({ version: 5, topic: '', qos: 1, packetId: 4, payload: 'use2', properties: [{ id: pk.Prop.TopicAlias, value: 1 }] }));
    const got = await inbox.waitFor(4);
    assert.deepEqual(got.map((m) => [m.topic, m.payload.toString()]), [
      [topic, 'set'], [topic, 'use'], [`${topic}/other`, 'remap'], [`${topic}/other`, 'use2'],
    ]);
    for (const m of got) assert.equal(m.packet.properties?.topicAlias, undefined, 'alias not forwarded');
    await r.end();
  });

  // the spec names 0x94 for an alias above the maximum; alias 0 is "not permitted" without a
  // code of its own, so a malformed-packet or protocol-error code is accepted too
  for (const [name, alias, codes, tag] of [
    ['alias 0', 0, [0x81, 0x82, 0x94], '[MQTT-3.3.2-8]'],
    ['alias above Topic Alias Maximum', 11, [0x94], '[MQTT-3.3.2-9]'],
  ] as const) {
    test(`${tag} inbound ${name}: DISCONNECT ${codes.map((c) => `0x${c.toString(16)}`).join(' / ')}`, async () => {
      const { client: r } = await h.rawConnected(broker.port, { version: 5 });
      r.send(pk.publish({ version: 5, topic: 'ta/x', payload: 'x', properties: [{ id: pk.Prop.TopicAlias, value: alias }] }));
      const got = await r.expectClosed();
      assert.equal(got.at(-1)?.type, PacketType.DISCONNECT);
      assert.ok((codes as readonly number[]).includes(got.at(-1)!.reasonCode!), `got 0x${got.at(-1)!.reasonCode!.toString(16)}`);
    });
  }

  test('inbound empty topic with an alias never set: DISCONNECT with a protocol error code', async () => {
    const { client: r } = await h.rawConnected(broker.port, { version: 5 });
    r.send(pk.publish({ version: 5, topic: '', payload: 'x', properties: [{ id: pk.Prop.TopicAlias, value: 2 }] }));
    const got = await r.expectClosed();
    assert.equal(got.at(-1)?.type, PacketType.DISCONNECT);
    assert.ok([0x82, 0x94].includes(got.at(-1)!.reasonCode!), `0x82 or 0x94, got ${got.at(-1)!.reasonCode}`);
  });

  test('inbound empty topic without alias: DISCONNECT with a protocol error code [MQTT-4.7.3-1]', async () => {
    const { client: r } = await h.rawConnected(broker.port, { version: 5 });
    r.send(pk.publish({ version: 5, topic: '', payload: 'x' }));
    const got = await r.expectClosed();
    for (const p of got) {
      assert.equal(p.type, PacketType.DISCONNECT);
      assert.ok(p.reasonCode! >= 0x80);
    }
  });

  test('[MQTT-3.3.2-11] outbound: aliases stay within the client\'s Topic Alias Maximum and always resolve to the right topic', async () => {
    const base = `tao/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(broker.port, { version: 5, properties: [{ id: pk.Prop.TopicAliasMaximum, value: 2 }] });
    sub.send(pk.subscribe(1, [{ filter: `${base}/#`, qos: 0 }], 5));
    await sub.expect(PacketType.SUBACK);
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    const sent: string[] = [];
    for (let i = 0; i < 12; i++) {
      const t = `${base}/${i % 4}`;
      sent.push(t);
      await pub.publishAsync(t, String(i), { qos: 0 });
    }
    const aliases = new Map<number, string>();
    const resolved: string[] = [];
    for (let i = 0; i < 12; i++) {
      const m = await sub.expect(PacketType.PUBLISH);
      const alias = pk.prop(m, pk.Prop.TopicAlias) as number | undefined;
      let topic = m.topic!;
      if (alias !== undefined) {
        assert.ok(alias >= 1 && alias <= 2, `alias ${alias} within maximum 2`);
        if (topic === '') topic = aliases.get(alias) ?? assert.fail(`alias ${alias} used before it was set`);
        else aliases.set(alias, topic);
      } else {
        assert.notEqual(topic, '');
      }
      resolved.push(topic);
    }
    assert.deepEqual(resolved, sent);
    sub.destroy();
  });

  test('outbound: no Topic Alias is sent to a client that announced none', async () => {
    const topic = `tan/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(broker.port, { version: 5 });
    sub.send(pk.subscribe(1, [{ filter: topic, qos: 0 }], 5));
    await sub.expect(PacketType.SUBACK);
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    for (let i = 0; i < 3; i++) await pub.publishAsync(topic, String(i), { qos: 0 });
    for (let i = 0; i < 3; i++) {
      const m = await sub.expect(PacketType.PUBLISH);
      assert.equal(pk.prop(m, pk.Prop.TopicAlias), undefined);
      assert.equal(m.topic, topic);
    }
    sub.destroy();
  });
});

/**
 * Malformed and forbidden input over raw sockets. Every case checks the v5 reason code (DISCONNECT
 * after CONNACK, CONNACK before it) or the silent close of 3.1.1, and that a witness pair of
 * clients connected all along still exchanges messages afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, Inbox, subscribe, uniqueId, versions, type MqttClient } from '../helpers/clients.ts';
import { PacketType, pk, typeName, type RawClient } from '../helpers/raw.ts';
import type { TestBroker } from '../helpers/broker.ts';
import type { Version } from '../helpers/packets.ts';

const h = new Harness();
let broker: TestBroker;
let witnessPub: MqttClient;
let witnessInbox: Inbox;
let witnessCount = 0;
const witnessTopic = `witness/${uniqueId()}`;

before(async () => {
  broker = await h.broker({ maxPacketSize: 10000 });
  const sub = await h.connect(broker.url, { protocolVersion: 5 });
  witnessInbox = new Inbox(sub);
  await subscribe(sub, witnessTopic, { qos: 1 });
  witnessPub = await h.connect(broker.url, { protocolVersion: 4 });
});
after(() => h.teardown());

/** The clients connected before the bad one still publish and receive. */
async function witnessStillWorks(): Promise<void> {
  const n = ++witnessCount;
  await witnessPub.publishAsync(witnessTopic, `w${n}`, { qos: 1 });
  const got = await witnessInbox.waitFor(n);
  assert.equal(got[n - 1]!.payload.toString(), `w${n}`);
}

/**
 * The broker must close the connection: 3.1.1 without sending anything, 5.0 after a DISCONNECT
 * whose reason code is one of `codes`.
 */
async function expectRejected(r: RawClient, v: Version, codes: readonly number[]): Promise<void> {
  const got = await r.expectClosed();
  if (v === 5) {
    assert.equal(got.length, 1, `one DISCONNECT, got ${got.map((p) => typeName(p.type)).join(',') || 'nothing'}`);
    assert.equal(got[0]!.type, PacketType.DISCONNECT);
    assert.ok(codes.includes(got[0]!.reasonCode!), `reason 0x${got[0]!.reasonCode!.toString(16)}, expected one of ${codes.map((c) => `0x${c.toString(16)}`)}`);
  } else {
    assert.deepEqual(got.map((p) => typeName(p.type)), []);
  }
  await witnessStillWorks();
}

const MALFORMED = 0x81;
const PROTOCOL_ERROR = 0x82;
const TOPIC_NAME_INVALID = 0x90;

/** Cases sent after a successful CONNECT: name, tag, bytes for the version, acceptable v5 codes. */
interface Case {
  readonly name: string;
  readonly bytes: (v: Version) => Buffer | string;
  readonly codes: readonly number[];
}

const afterConnect: Case[] = [
  { name: '[MQTT-3.8.1-1] SUBSCRIBE with fixed-header flags 0000', codes: [MALFORMED],
    bytes: (v) => pk.subscribe(1, [{ filter: 'a', qos: 0 }], v, [], 0x00) },
  { name: '[MQTT-3.10.1-1] UNSUBSCRIBE with fixed-header flags 0000', codes: [MALFORMED],
    bytes: (v) => pk.unsubscribe(1, ['a'], v, 0x00) },
  { name: '[MQTT-3.6.1-1] PUBREL with fixed-header flags 0000', codes: [MALFORMED],
    bytes: () => pk.frame(PacketType.PUBREL, 0, pk.u16(1)) },
  { name: '[MQTT-2.2.2-2] PINGREQ with fixed-header flags 0001', codes: [MALFORMED],
    bytes: () => 'c100' },
  { name: '[MQTT-3.3.1-4] PUBLISH with QoS 3', codes: [MALFORMED],
    bytes: (v) => pk.frame(PacketType.PUBLISH, 0x06, Buffer.concat([pk.str('a'), pk.u16(1), v === 5 ? pk.properties() : Buffer.alloc(0), Buffer.from('x')])) },
  { name: '[MQTT-2.2.1-1] reserved packet type 0', codes: [MALFORMED, PROTOCOL_ERROR],
    bytes: () => '0000' },
  { name: 'remaining length of 5 bytes', codes: [MALFORMED],
    bytes: () => '30ffffffff7f' },
  { name: 'PUBLISH whose topic length runs past the packet', codes: [MALFORMED],
    bytes: () => '3003000a61' },
  { name: 'SUBSCRIBE whose filter has no options byte', codes: [MALFORMED],
    bytes: (v) => pk.frame(PacketType.SUBSCRIBE, 2, Buffer.concat([pk.u16(1), v === 5 ? pk.properties() : Buffer.alloc(0), pk.str('a/b')])) },
  { name: '[MQTT-1.5.4-1] PUBLISH topic that is not valid UTF-8', codes: [MALFORMED, TOPIC_NAME_INVALID],
    bytes: (v) => pk.publish({ version: v, topic: Buffer.from([0x61, 0xff, 0x62]), payload: 'x' }) },
  { name: '[MQTT-1.5.4-1] PUBLISH topic with a UTF-16 surrogate encoded in UTF-8', codes: [MALFORMED, TOPIC_NAME_INVALID],
    bytes: (v) => pk.publish({ version: v, topic: Buffer.from([0x61, 0xed, 0xa0, 0x80]), payload: 'x' }) },
  { name: '[MQTT-1.5.4-2] PUBLISH topic containing U+0000', codes: [MALFORMED, TOPIC_NAME_INVALID],
    bytes: (v) => pk.publish({ version: v, topic: Buffer.from([0x61, 0x00, 0x62]), payload: 'x' }) },
  { name: '[MQTT-3.3.2-2] PUBLISH topic containing +', codes: [TOPIC_NAME_INVALID, PROTOCOL_ERROR, MALFORMED],
    bytes: (v) => pk.publish({ version: v, topic: 'a/+/b', payload: 'x' }) },
  { name: '[MQTT-3.3.2-2] PUBLISH topic containing #', codes: [TOPIC_NAME_INVALID, PROTOCOL_ERROR, MALFORMED],
    bytes: (v) => pk.publish({ version: v, topic: 'a/#', qos: 1, packetId: 3, payload: 'x' }) },
  { name: '[MQTT-2.3.1-1] QoS 1 PUBLISH with packet id 0', codes: [MALFORMED, PROTOCOL_ERROR],
    bytes: (v) => pk.publish({ version: v, topic: 'a', qos: 1, packetId: 0, payload: 'x' }) },
  { name: '[MQTT-2.3.1-1] SUBSCRIBE with packet id 0', codes: [MALFORMED, PROTOCOL_ERROR],
    bytes: (v) => pk.subscribe(0, [{ filter: 'a', qos: 0 }], v) },
  { name: '[MQTT-3.8.3-3] SUBSCRIBE without any topic filter', codes: [MALFORMED, PROTOCOL_ERROR],
    bytes: (v) => pk.subscribe(1, [], v) },
  { name: '[MQTT-3.10.3-2] UNSUBSCRIBE without any topic filter', codes: [MALFORMED, PROTOCOL_ERROR],
    bytes: (v) => pk.unsubscribe(1, [], v) },
  { name: '[MQTT-3.8.3-4] SUBSCRIBE options with QoS 3', codes: [MALFORMED],
    bytes: (v) => pk.subscribe(1, [{ filter: 'a', optionsByte: 0x03 }], v) },
  { name: '[MQTT-3.8.3-5] SUBSCRIBE options with reserved bits set', codes: [MALFORMED],
    bytes: (v) => pk.subscribe(1, [{ filter: 'a', optionsByte: 0xc1 }], v) },
  { name: 'a second CONNECT [MQTT-3.1.0-2]', codes: [PROTOCOL_ERROR],
    bytes: (v) => pk.connect({ version: v, clientId: 'second' }) },
];

const v5Only: Case[] = [
  { name: 'SUBSCRIBE options with Retain Handling 3', codes: [PROTOCOL_ERROR, MALFORMED],
    bytes: () => pk.subscribe(1, [{ filter: 'a', retainHandling: 3 }], 5) },
  { name: 'PUBLISH with an unknown property id', codes: [MALFORMED, PROTOCOL_ERROR],
    bytes: () => pk.frame(PacketType.PUBLISH, 0, Buffer.concat([pk.str('a'), Buffer.from([2, 0x7f, 0x00]), Buffer.from('x')])) },
  // a property id not valid for the packet type is a Malformed Packet (2.2.2.2), as Mosquitto's 13-malformed-publish-v5.py
  { name: 'PUBLISH with a property not allowed in PUBLISH (Session Expiry Interval)', codes: [MALFORMED],
    bytes: () => pk.publish({ version: 5, topic: 'a', payload: 'x', properties: [{ id: pk.Prop.SessionExpiryInterval, value: 1 }] }) },
  { name: 'PUBLISH with Content Type twice', codes: [PROTOCOL_ERROR, MALFORMED],
    bytes: () => pk.publish({ version: 5, topic: 'a', payload: 'x', properties: [{ id: pk.Prop.ContentType, value: 'a' }, { id: pk.Prop.ContentType, value: 'b' }] }) },
  { name: 'PUBLISH whose property length runs past the packet', codes: [MALFORMED],
    bytes: () => pk.frame(PacketType.PUBLISH, 0, Buffer.concat([pk.str('a'), Buffer.from([0x20, 0x01, 0x01])])) },
  { name: '[MQTT-3.3.4-6] PUBLISH with a Subscription Identifier (client to server)', codes: [PROTOCOL_ERROR, MALFORMED],
    bytes: () => pk.publish({ version: 5, topic: 'a', payload: 'x', properties: [{ id: pk.Prop.SubscriptionIdentifier, value: 3 }] }) },
];

for (const v of versions) {
  describe(`bad input after CONNECT, MQTT ${v === 5 ? '5.0' : '3.1.1'}`, () => {
    for (const c of [...afterConnect, ...(v === 5 ? v5Only : [])]) {
      test(`${c.name}: ${v === 5 ? `DISCONNECT ${c.codes.map((x) => `0x${x.toString(16)}`).join('/')}` : 'closed'}, others unaffected`, async () => {
        const { client: r } = await h.rawConnected(broker.port, { version: v });
        r.send(c.bytes(v));
        await expectRejected(r, v, c.codes);
      });
    }

    test('a packet over max_packet_size is refused from its header alone, before the body is sent', async () => {
      const { client: r } = await h.rawConnected(broker.port, { version: v });
      // PUBLISH header announcing 100000 bytes; the body never follows
      r.send(Buffer.concat([Buffer.from([0x30]), pk.varint(100000), pk.str('a')]));
      await expectRejected(r, v, [0x95]);
    });

    test('3.1.1-style empty topic PUBLISH (no alias) is refused [MQTT-4.7.3-1]', async () => {
      const { client: r } = await h.rawConnected(broker.port, { version: v });
      r.send(pk.publish({ version: v, topic: '', payload: 'x' }));
      await expectRejected(r, v, [PROTOCOL_ERROR, TOPIC_NAME_INVALID, MALFORMED]);
    });

    test('the bytes of a packet split over many TCP writes are reassembled (not bad input)', async () => {
      const topic = `split/${uniqueId()}`;
      const { client: sub } = await h.rawConnected(broker.port, { version: v });
      sub.send(pk.subscribe(1, [{ filter: topic, qos: 0 }], v));
      await sub.expect(PacketType.SUBACK);
      const { client: r } = await h.rawConnected(broker.port, { version: v });
      const bytes = Buffer.concat([pk.publish({ version: v, topic, payload: 'one' }), pk.publish({ version: v, topic, payload: 'two' })]);
      for (let i = 0; i < bytes.length; i++) {
        r.send(bytes.subarray(i, i + 1));
        await new Promise((res) => setImmediate(res));
      }
      assert.equal((await sub.expect(PacketType.PUBLISH)).payload!.toString(), 'one');
      assert.equal((await sub.expect(PacketType.PUBLISH)).payload!.toString(), 'two');
      await r.end();
      await sub.end();
    });
  });

  describe(`acks for unknown packet ids, MQTT ${v === 5 ? '5.0' : '3.1.1'}`, () => {
    test('PUBREL for an unknown packet id is answered with PUBCOMP 70 02 (Success), as Mosquitto 2.0.11', async () => {
      const { client: r } = await h.rawConnected(broker.port, { version: v });
      r.send(pk.ack(PacketType.PUBREL, 4321));
      const pubcomp = await r.expect(PacketType.PUBCOMP);
      assert.equal(pubcomp.body.toString('hex'), '10e1');
      await r.end();
      await witnessStillWorks();
    });

    test('PUBACK and PUBCOMP for unknown packet ids are ignored; the connection stays usable', async () => {
      const { client: r } = await h.rawConnected(broker.port, { version: v });
      r.send(pk.ack(PacketType.PUBACK, 999));
      r.send(pk.ack(PacketType.PUBCOMP, 998));
      r.send(pk.pingreq());
      await r.expect(PacketType.PINGRESP);
      await r.end();
    });

    test('PUBREC for an unknown packet id is answered with PUBREL 62 02 (Success), as Mosquitto 2.0.11', async () => {
      const { client: r } = await h.rawConnected(broker.port, { version: v });
      r.send(pk.ack(PacketType.PUBREC, 997));
      const pubrel = await r.expect(PacketType.PUBREL);
      assert.equal(pubrel.body.toString('hex'), '03e5');
      await witnessStillWorks();
      r.destroy();
    });
  });

  describe(`bad CONNECT, MQTT ${v === 5 ? '5.0' : '3.1.1'}`, () => {
    test('CONNECT whose remaining length is shorter than its fields: closed, not accepted', async () => {
      const r = await h.raw(broker.port, v);
      const full = pk.connect({ version: v, clientId: 'truncated-client' });
      const cut = Buffer.from(full.subarray(0, full.length - 5));
      cut[1] = cut.length - 2;
      r.send(cut);
      const got = await r.expectClosed();
      for (const p of got) {
        assert.equal(p.type, PacketType.CONNACK);
        if (v === 5) assert.equal(p.reasonCode, MALFORMED);
        else assert.notEqual(p.reasonCode, 0);
      }
      await witnessStillWorks();
    });

    test('a CONNECT larger than max_packet_size is refused from its header alone', async () => {
      const r = await h.raw(broker.port, v);
      r.send(Buffer.concat([Buffer.from([0x10]), pk.varint(200000), pk.str('MQTT')]));
      const got = await r.expectClosed();
      for (const p of got) {
        assert.equal(p.type, PacketType.CONNACK);
        if (v === 5) assert.equal(p.reasonCode, 0x95);
      }
      await witnessStillWorks();
    });
  });
}

describe('bad CONNECT, MQTT 5.0 properties: closed without CONNACK, as Mosquitto 2.0.11 (spec 4.13.1 lets the server choose)', () => {
  for (const [name, props, codes] of [
    ['Session Expiry Interval twice', [{ id: pk.Prop.SessionExpiryInterval, value: 1 }, { id: pk.Prop.SessionExpiryInterval, value: 2 }], [PROTOCOL_ERROR]],
    ['Receive Maximum 0', [{ id: pk.Prop.ReceiveMaximum, value: 0 }], [PROTOCOL_ERROR]],
    ['Maximum Packet Size 0', [{ id: pk.Prop.MaximumPacketSize, value: 0 }], [PROTOCOL_ERROR]],
    ['a Topic Alias property (not allowed in CONNECT: 2.2.2.2)', [{ id: pk.Prop.TopicAlias, value: 1 }], [MALFORMED]],
    ['Request Problem Information 2', [{ id: pk.Prop.RequestProblemInformation, value: 2 }], [PROTOCOL_ERROR]],
  ] as const) {
    test(`CONNECT with ${name} (${codes.map((c) => `0x${c.toString(16)}`).join('/')}): closed without CONNACK`, async () => {
      const r = await h.raw(broker.port, 5);
      r.send(pk.connect({ version: 5, clientId: uniqueId(), properties: props }));
      const got = await r.expectClosed();
      assert.equal(got.length, 0, `nothing before the close, got ${got.map((p) => typeName(p.type))}`);
      await witnessStillWorks();
    });
  }
});

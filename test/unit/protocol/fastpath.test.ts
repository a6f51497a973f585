import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { decodePacket } from '../../../src/protocol/decode.ts';
import type { ProtocolVersion } from '../../../src/protocol/decode.ts';
import { encodeAck, encodeAckPacket } from '../../../src/protocol/packets/ack.ts';
import { encodeDisconnect } from '../../../src/protocol/packets/disconnect.ts';
import { encodePublish } from '../../../src/protocol/packets/publish.ts';
import { parseWithMqttPacket } from '../../../src/protocol/mqttPacketCodec.ts';
import { fixtureBytes, packetFixtures } from '../../fixtures/packets.ts';
import { frameAll, title } from './helpers.ts';

/** The fields the broker reads from a PUBLISH or an ack. */
const FIELDS = ['cmd', 'topic', 'payload', 'qos', 'dup', 'retain', 'messageId', 'properties', 'reasonCode'] as const;

function crossCheck(bytes: Buffer, version: ProtocolVersion, context: string): Packet {
  const [[frame, bodyOffset]] = frameAll(bytes) as [[Buffer, number]];
  const fast = decodePacket(frame, bodyOffset, version) as unknown as Record<string, unknown>;
  const reference = parseWithMqttPacket(frame, version) as unknown as Record<string, unknown>;
  for (const field of FIELDS) {
    if (field === 'topic' || field === 'payload' || field === 'qos' || field === 'dup' || field === 'retain') {
      if (fast.cmd !== 'publish') continue; // mqtt-packet puts publish defaults on every packet
    }
    assert.deepStrictEqual(fast[field], reference[field], `${context}: ${field}`);
  }
  return fast as unknown as Packet;
}

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOPIC_CHARS = ['a', 'b', '/', '$', 'Z', '0', ' ', 'é', '€', '😀', '-'];

function randomPublish(rand: () => number, version: ProtocolVersion): IPublishPacket {
  const int = (n: number): number => Math.floor(rand() * n);
  let topic = '';
  for (let i = 1 + int(20); i > 0; i--) topic += TOPIC_CHARS[int(TOPIC_CHARS.length)];
  const qos = int(3) as 0 | 1 | 2;
  const sizes = [0, 1, 50, 127, 128, 200, 16_383, 16_384, 70_000];
  const payload = Buffer.alloc(sizes[int(sizes.length)]!, int(256));
  const packet: IPublishPacket = { cmd: 'publish', topic, payload, qos, dup: qos > 0 && rand() < 0.3, retain: rand() < 0.3 };
  if (qos > 0) packet.messageId = 1 + int(65535);
  if (version === 5 && rand() < 0.7) {
    const properties: NonNullable<IPublishPacket['properties']> = {};
    if (rand() < 0.5) properties.payloadFormatIndicator = rand() < 0.5;
    if (rand() < 0.5) properties.messageExpiryInterval = int(0xffffffff);
    if (rand() < 0.3) properties.topicAlias = 1 + int(100);
    if (rand() < 0.3) properties.responseTopic = `resp/${int(100)}`;
    if (rand() < 0.3) properties.correlationData = Buffer.from([int(256), int(256)]);
    if (rand() < 0.3) properties.contentType = 'application/json';
    if (rand() < 0.3) properties.subscriptionIdentifier = rand() < 0.5 ? 1 + int(268_435_455) : [1 + int(100), 1 + int(2_000_000)];
    if (rand() < 0.3) {
      properties.userProperties = Object.assign(Object.create(null) as Record<string, string | string[]>,
        rand() < 0.5 ? { k: 'v' } : { k: ['v1', 'v2'], 'ü': 'x' });
    }
    packet.properties = properties;
  }
  return packet;
}

describe('fast path agrees with mqtt-packet', () => {
  for (const fixture of packetFixtures) {
    const type = Buffer.from(fixture.hex.slice(0, 2), 'hex')[0]! >> 4;
    if (fixture.packet === undefined || type < 3 || type > 7) continue;
    test(`decode: ${title(fixture)}`, () => {
      crossCheck(fixtureBytes(fixture), fixture.version, fixture.name);
    });
  }

  for (const version of [3, 4, 5] as const) {
    test(`3000 random PUBLISH packets, protocol level ${version}: same bytes from encodePublish, same fields from decode`, () => {
      const rand = random(version * 7919);
      for (let i = 0; i < 3000; i++) {
        const packet = randomPublish(rand, version);
        const reference = mqttPacket.generate(packet, { protocolVersion: version });
        const encoded = encodePublish(packet.topic, packet.payload as Buffer, packet.qos, packet.retain, packet.dup,
          packet.messageId ?? 0, version, packet.properties);
        assert.ok(encoded.bytes.equals(reference), `packet ${i}: bytes differ for ${JSON.stringify({ ...packet, payload: undefined })}`);
        const decoded = crossCheck(reference, version, `packet ${i}`) as IPublishPacket;
        assert.equal(decoded.topic, packet.topic);
        assert.ok((decoded.payload as Buffer).equals(packet.payload as Buffer));
      }
    });
  }

  test('encodeAck matches mqtt-packet for 3.1.1 and for the 5.0 short form; encodeAckPacket for a reason string', () => {
    for (const cmd of ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const) {
      for (const id of [1, 255, 256, 65535]) {
        assert.ok(encodeAck(cmd, id, 4).equals(mqttPacket.generate({ cmd, messageId: id }, { protocolVersion: 4 })), `${cmd} ${id} v4`);
        assert.ok(encodeAck(cmd, id, 5).equals(mqttPacket.generate({ cmd, messageId: id, reasonCode: 0 }, { protocolVersion: 5 })), `${cmd} ${id} v5`);
        const withString = mqttPacket.generate({ cmd, messageId: id, reasonCode: 0x80, properties: { reasonString: 'no' } }, { protocolVersion: 5 });
        assert.ok(encodeAckPacket(cmd, id, 5, 0x80, { reasonString: 'no' }).equals(withString), `${cmd} ${id} v5 reason string`);
        // what the broker sends: the reason code without a Property Length, never a Reason String
        assert.deepStrictEqual([...encodeAck(cmd, id, 5, 0x80).subarray(1)], [3, id >> 8, id & 0xff, 0x80], `${cmd} ${id} v5 reason code only`);
      }
    }
  });
});

describe('encodePublish', () => {
  test('packetIdOffset locates the packet id, DUP can be set in place, QoS 0 has no id', () => {
    for (const version of [4, 5] as const) {
      const encoded = encodePublish('t/é', Buffer.from('x'), 1, false, false, 1, version, version === 5 ? { messageExpiryInterval: 9 } : undefined);
      const copy = Buffer.from(encoded.bytes);
      copy.writeUInt16BE(4321, encoded.packetIdOffset);
      copy[0]! |= 0x08;
      const decoded = decodePacket(copy, 2, version) as IPublishPacket;
      assert.equal(decoded.messageId, 4321);
      assert.equal(decoded.dup, true);
      assert.equal(decoded.topic, 't/é');
      assert.equal(encodePublish('t', Buffer.alloc(0), 0, false, false, 0, version).packetIdOffset, -1);
    }
  });

  test('properties are ignored before MQTT 5', () => {
    const plain = encodePublish('t', Buffer.from('p'), 0, true, false, 0, 4);
    const withProps = encodePublish('t', Buffer.from('p'), 0, true, false, 0, 4, { contentType: 'x' });
    assert.ok(plain.bytes.equals(withProps.bytes));
  });

  test('a packet id outside 1..65535 with QoS > 0 is a caller bug', () => {
    assert.throws(() => encodePublish('t', Buffer.alloc(0), 1, false, false, 0, 4), /packet id/);
    assert.throws(() => encodePublish('t', Buffer.alloc(0), 2, false, false, 65536, 4), /packet id/);
  });
});

describe('encodeAck', () => {
  test('[MQTT-3.4.2-1] v5 reason 0 without properties uses remaining length 2', () => {
    assert.deepStrictEqual([...encodeAck('puback', 0x0102, 5, 0)], [0x40, 0x02, 0x01, 0x02]);
  });

  test('v5 non-zero reason without properties uses remaining length 3 and decodes back', () => {
    const bytes = encodeAck('pubrec', 7, 5, 0x10);
    assert.deepStrictEqual([...bytes], [0x50, 0x03, 0x00, 0x07, 0x10]);
    const decoded = decodePacket(bytes, 2, 5);
    assert.equal(decoded.cmd, 'pubrec');
    if (decoded.cmd === 'pubrec') assert.equal(decoded.reasonCode, 0x10);
  });

  test('[MQTT-3.6.1-1] [MQTT-2.2.2-1] PUBREL carries fixed-header flags 0010; the reason code is dropped before v5', () => {
    assert.deepStrictEqual([...encodeAck('pubrel', 1, 4, 0x92)], [0x62, 0x02, 0x00, 0x01]);
  });
});

describe('encodeDisconnect: Mosquitto 2.0.11\'s shapes (send_disconnect.c)', () => {
  test('3.1.1 and v5 reason 0: e0 00', () => {
    assert.deepStrictEqual([...encodeDisconnect(4, 0x82)], [0xe0, 0x00]);
    assert.deepStrictEqual([...encodeDisconnect(5, 0)], [0xe0, 0x00]);
  });

  test('[MQTT-3.14.2-1] v5 reason code without properties: e0 01 RC, and it decodes back', () => {
    const bytes = encodeDisconnect(5, 0x8e);
    assert.deepStrictEqual([...bytes], [0xe0, 0x01, 0x8e]);
    const decoded = decodePacket(bytes, 2, 5);
    assert.equal(decoded.cmd === 'disconnect' ? decoded.reasonCode : -1, 0x8e);
  });

  test('v5 with a Reason String matches mqtt-packet', () => {
    const reference = mqttPacket.generate({ cmd: 'disconnect', reasonCode: 0x82, properties: { reasonString: 'why' } }, { protocolVersion: 5 });
    assert.ok(encodeDisconnect(5, 0x82, 'why').equals(reference));
  });
});

/**
 * Packets the broker must refuse whatever came before them on a valid connection: each one breaks
 * a MUST of the specification in a way that leaves nothing to interpret, so the only right
 * outcomes are a close (v5: after a DISCONNECT with a reason code >= 0x80) or, for a CONNECT, a
 * CONNACK with a failure code and a close. The fixture table's malformed packets come first;
 * the builders below vary them (random topics, property ids, flag bits, lengths).
 * called from: tests, scripts/fuzz.ts
 */
import { fixtureBytes, packetFixtures } from '../../fixtures/packets.ts';
import * as pk from '../packets.ts';
import { PacketType, Prop } from '../packets.ts';
import type { Rng } from './prng.ts';
import { TOPICS, type Version } from './valid.ts';

/** A named invalid packet. */
export interface Poison {
  readonly name: string;
  readonly bytes: Buffer;
}

const fixturePoisons = packetFixtures.filter((f) => f.expectReason !== undefined);
/** CONNECT packets the broker must refuse, by the protocol level the fixture speaks */
const connectFixtures = fixturePoisons.filter((f) => f.hex.startsWith('10'));
const afterConnectFixtures = fixturePoisons.filter((f) => !f.hex.startsWith('10'));

/** Byte sequences that are not valid UTF-8 or that MQTT forbids in a string [MQTT-1.5.4-1/2]. */
const BAD_TEXT: readonly Buffer[] = [
  Buffer.from([0xc3, 0x28]), Buffer.from([0x80]), Buffer.from([0xff]), Buffer.from([0xc0, 0x80]),
  Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from([0x00]), Buffer.from([0xe2, 0x82]),
];

/** Property ids MQTT 5 does not define: a receiver cannot know their length, so the packet is malformed. */
export const UNDEFINED_PROPERTY_IDS: readonly number[] = [
  0x00, 0x04, 0x05, 0x06, 0x07, 0x0a, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x14, 0x1b, 0x1d, 0x1e, 0x20, 0x2b, 0x2c, 0x40, 0x7f,
];

/** Properties that are defined but not allowed in a client's PUBLISH (each with a well-formed value). */
const NOT_IN_PUBLISH: readonly pk.Property[] = [
  { id: Prop.SessionExpiryInterval, value: 10 }, { id: Prop.AssignedClientIdentifier, value: 'x' },
  { id: Prop.ServerKeepAlive, value: 10 }, { id: Prop.AuthenticationMethod, value: 'x' },
  { id: Prop.RequestProblemInformation, value: 1 }, { id: Prop.WillDelayInterval, value: 1 },
  { id: Prop.ReceiveMaximum, value: 10 }, { id: Prop.TopicAliasMaximum, value: 10 }, { id: Prop.MaximumQoS, value: 1 },
  { id: Prop.MaximumPacketSize, value: 1000 }, { id: Prop.ReasonString, value: 'r' }, { id: Prop.ServerReference, value: 's' },
  // [MQTT-3.3.4-6] a PUBLISH from a client must not carry a Subscription Identifier
  { id: Prop.SubscriptionIdentifier, value: 7 },
];

/** PUBLISH properties that may appear at most once (a second one is a Protocol Error). */
const ONCE_IN_PUBLISH: readonly pk.Property[] = [
  { id: Prop.PayloadFormatIndicator, value: 0 }, { id: Prop.MessageExpiryInterval, value: 30 },
  { id: Prop.ContentType, value: 'text/plain' }, { id: Prop.ResponseTopic, value: 'fz/r' },
  { id: Prop.CorrelationData, value: Buffer.from('cd') }, { id: Prop.TopicAlias, value: 1 },
];

function withBad(topic: string, rng: Rng): Buffer {
  const b = Buffer.from(topic);
  const at = rng.int(b.length + 1);
  return Buffer.concat([b.subarray(0, at), rng.pick(BAD_TEXT), b.subarray(at)]);
}

function wildcardTopic(rng: Rng): string {
  const levels = rng.pick(TOPICS).split('/');
  levels[rng.int(levels.length)] = rng.pick(['+', '#', 'a+', '#b']);
  return levels.join('/');
}

/** A CONNECT at `version` the broker must refuse (CONNACK with a failure code, or a close). */
export function connectPoison(rng: Rng, version: Version): Poison {
  const own = connectFixtures.filter((f) => f.version === version);
  if (own.length > 0 && rng.chance(0.6)) {
    const f = rng.pick(own);
    return { name: `fixture: ${f.name}`, bytes: fixtureBytes(f) };
  }
  const clientId = `fzp${rng.int(1000)}`;
  const base: pk.ConnectFields = { version, clientId };
  const build = rng.weighted<() => Poison>([
    [1, () => ({ name: 'CONNECT reserved flag [MQTT-3.1.2-3]', bytes: pk.connect({ ...base, reservedFlag: true }) })],
    [1, () => ({ name: 'CONNECT will QoS 3 [MQTT-3.1.2-14]', bytes: pk.connect({ ...base, will: { topic: 'fz/w', payload: 'x', qos: 3 } }) })],
    [1, () => ({ name: 'CONNECT will QoS/retain without will flag [MQTT-3.1.2-13/15]', bytes: pk.connect({ ...base, flagsByte: 0x02 | rng.pick([0x08, 0x10, 0x18, 0x20, 0x28]) }) })],
    [1, () => ({ name: 'CONNECT will topic with a wildcard [MQTT-4.7.1-1]', bytes: pk.connect({ ...base, will: { topic: wildcardTopic(rng), payload: 'x' } }) })],
    [1, () => ({ name: 'CONNECT client id not UTF-8 or with U+0000 [MQTT-1.5.4-1/2]', bytes: pk.connect({ ...base, clientId: withBad('fzp', rng) }) })],
    [1, () => ({ name: 'CONNECT will topic not UTF-8 [MQTT-1.5.4-1]', bytes: pk.connect({ ...base, will: { topic: withBad('fz/w', rng), payload: 'x' } }) })],
    [1, () => ({ name: 'CONNECT user name not UTF-8 [MQTT-1.5.4-1]', bytes: pk.connect({ ...base, username: withBad('user', rng) }) })],
    [1, () => ({ name: 'CONNECT fixed-header flags [MQTT-2.2.2-2]', bytes: setFlags(pk.connect(base), rng.range(1, 15)) })],
    [1, () => ({ name: 'CONNECT 5-byte remaining length', bytes: overlong(PacketType.CONNECT, 0) })],
    ...(version === 5
      ? ([
        [1, () => ({ name: 'CONNECT undefined property id', bytes: v5ConnectWithRawProps(clientId, undefinedProperty(rng)) })],
        [1, () => ({ name: 'CONNECT repeated session expiry', bytes: pk.connect({ ...base, properties: [{ id: Prop.SessionExpiryInterval, value: 1 }, { id: Prop.SessionExpiryInterval, value: 2 }] }) })],
        [1, () => ({ name: 'CONNECT property length past the end', bytes: v5ConnectWithRawProps(clientId, Buffer.alloc(0), rng.range(20, 200)) })],
        [1, () => ({ name: 'CONNECT authentication method (none supported)', bytes: pk.connect({ ...base, properties: [{ id: Prop.AuthenticationMethod, value: rng.pick(['SCRAM-SHA-256', 'x']) }] }) })],
      ] as const)
      : version === 4
        ? ([[1, () => ({ name: 'CONNECT 3.1.1 password without user name [MQTT-3.1.2-22]', bytes: pk.connect({ ...base, flagsByte: 0x42, password: 'pw' }) })]] as const)
        : []),
  ]);
  return build();
}

/** A packet a connected client at `version` must not send: the broker has to close the connection. */
export function sessionPoison(rng: Rng, version: Version, maxTopicAlias: number): Poison {
  const own = afterConnectFixtures.filter((f) => f.version === version || (version === 3 && f.version === 4));
  if (own.length > 0 && rng.chance(0.4)) {
    const f = rng.pick(own);
    return { name: `fixture: ${f.name}`, bytes: fixtureBytes(f) };
  }
  const v = version;
  const topic = rng.pick(TOPICS);
  const id = rng.range(1, 65535);
  const table: (readonly [number, () => Poison])[] = [
    [1, () => ({ name: 'reserved packet type 0', bytes: pk.frame(0, rng.int(16), rng.bytes(rng.int(8))) })],
    [1, () => ({ name: 'second CONNECT [MQTT-3.1.0-2]', bytes: pk.connect({ version: v, clientId: `fzp${rng.int(1000)}` }) })],
    [1, () => ({ name: '5-byte remaining length', bytes: overlong(rng.pick([3, 4, 8, 12, 14]), rng.pick([0, 2])) })],
    [1, () => ({ name: 'fixed-header flags of PUBACK/PUBREC/PUBCOMP/PINGREQ/DISCONNECT [MQTT-2.2.2-2]', bytes: badFlags(rng, v) })],
    [1, () => ({ name: 'PUBREL/SUBSCRIBE/UNSUBSCRIBE flags other than 0010 (3.1: or 1010) [MQTT-2.2.2-2]', bytes: badFlags0010(rng, v) })],
    [1, () => ({ name: 'PUBLISH QoS 3 [MQTT-3.3.1-4]', bytes: setFlags(pk.publish({ version: v, topic, qos: 1, packetId: id }), 0x06 | rng.int(2) | (rng.int(2) << 3)) })],
    [1, () => ({ name: 'PUBLISH topic with a wildcard [MQTT-3.3.2-2]', bytes: pk.publish({ version: v, topic: wildcardTopic(rng), qos: rng.int(3), packetId: id, payload: 'x' }) })],
    [1, () => ({ name: 'PUBLISH topic not UTF-8 or with U+0000 [MQTT-1.5.4-1/2]', bytes: pk.publish({ version: v, topic: withBad(topic, rng), qos: rng.int(3), packetId: id }) })],
    [1, () => ({ name: 'PUBLISH QoS > 0 with packet id 0 [MQTT-2.3.1-1]', bytes: pk.publish({ version: v, topic, qos: rng.range(1, 2), packetId: 0 }) })],
    [1, () => ({ name: 'PUBLISH topic deeper than 201 levels (Mosquitto TOPIC_HIERARCHY_LIMIT)', bytes: pk.publish({ version: v, topic: 'fz/'.repeat(201 + rng.int(50)), qos: rng.int(3), packetId: id }) })],
    [1, () => ({ name: 'SUBSCRIBE filter deeper than 201 levels (Mosquitto TOPIC_HIERARCHY_LIMIT)', bytes: pk.subscribe(id, [{ filter: '+/'.repeat(201 + rng.int(50)) + '#' }], v) })],
    [1, () => ({ name: 'SUBSCRIBE packet id 0 [MQTT-2.3.1-1]', bytes: pk.subscribe(0, [{ filter: 'fz/#', qos: rng.int(3) }], v) })],
    [1, () => ({ name: 'UNSUBSCRIBE packet id 0 [MQTT-2.3.1-1]', bytes: pk.unsubscribe(0, ['fz/#'], v) })],
    [1, () => ({ name: 'SUBSCRIBE without filters [MQTT-3.8.3-3]', bytes: pk.subscribe(id, [], v) })],
    [1, () => ({ name: 'UNSUBSCRIBE without filters [MQTT-3.10.3-2]', bytes: pk.unsubscribe(id, [], v) })],
    [1, () => ({ name: 'SUBSCRIBE filter not UTF-8 [MQTT-1.5.4-1]', bytes: pk.subscribe(id, [{ filter: withBad('fz/+', rng) }], v) })],
    [1, () => ({ name: 'SUBSCRIBE options QoS 3 or reserved bits [MQTT-3.8.3-4/5]', bytes: pk.subscribe(id, [{ filter: 'fz/#', optionsByte: badOptions(rng, v) }], v) })],
  ];
  if (v === 5) {
    table.push(
      [1, () => ({ name: 'AUTH without an authentication method in CONNECT', bytes: pk.auth(rng.pick([0x18, 0x19]), [{ id: Prop.AuthenticationMethod, value: 'x' }]) })],
      [1, () => ({ name: 'PUBLISH undefined property id', bytes: publishRawProps(topic, undefinedProperty(rng)) })],
      [1, () => ({ name: 'PUBLISH property not allowed from a client', bytes: pk.publish({ version: 5, topic, properties: [rng.pick(NOT_IN_PUBLISH)] }) })],
      [1, () => {
        const p = rng.pick(ONCE_IN_PUBLISH);
        return { name: 'PUBLISH repeated property', bytes: pk.publish({ version: 5, topic, properties: [p, { id: Prop.UserProperty, value: ['k', 'v'] }, p] }) };
      }],
      [1, () => ({ name: 'PUBLISH property length past the end', bytes: publishRawProps(topic, Buffer.alloc(0), rng.range(1, 100)) })],
      [1, () => ({ name: 'PUBLISH topic alias 0 [MQTT-3.3.2-8]', bytes: pk.publish({ version: 5, topic, properties: [{ id: Prop.TopicAlias, value: 0 }] }) })],
      [1, () => ({ name: 'PUBLISH topic alias above the maximum [MQTT-3.3.2-9]', bytes: pk.publish({ version: 5, topic, properties: [{ id: Prop.TopicAlias, value: rng.range(maxTopicAlias + 1, 65535) }] }) })],
      [1, () => ({ name: 'SUBSCRIBE subscription identifier 0', bytes: pk.subscribe(id, [{ filter: 'fz/#' }], 5, [{ id: Prop.SubscriptionIdentifier, value: 0 }]) })],
      [1, () => ({ name: 'SUBSCRIBE No Local on a shared subscription [MQTT-3.8.3-4]', bytes: pk.subscribe(id, [{ filter: '$share/g1/fz/#', noLocal: true }], 5) })],
    );
  } else {
    table.push([1, () => ({ name: 'AUTH on 3.1.1 (reserved packet type 15)', bytes: pk.frame(PacketType.AUTH, rng.int(16), rng.bytes(rng.int(6))) })]);
  }
  return rng.weighted(table)();
}

/** Replaces the fixed-header flags (low nibble of the first byte). */
export function setFlags(packet: Buffer, flags: number): Buffer {
  const out = Buffer.from(packet);
  out[0] = (out[0]! & 0xf0) | (flags & 0x0f);
  return out;
}

/** A fixed header whose remaining length takes 5 bytes (the maximum is 4) [MQTT-1.5.5]. */
function overlong(type: number, flags: number): Buffer {
  return Buffer.from([(type << 4) | flags, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00]);
}

function badFlags(rng: Rng, v: Version): Buffer {
  const nonzero = rng.range(1, 15);
  return rng.pick([
    () => setFlags(pk.ack(PacketType.PUBACK, rng.range(1, 65535)), nonzero),
    () => setFlags(pk.ack(PacketType.PUBREC, rng.range(1, 65535)), nonzero),
    () => setFlags(pk.ack(PacketType.PUBCOMP, rng.range(1, 65535)), nonzero),
    () => setFlags(pk.pingreq(), nonzero),
    () => setFlags(v === 5 ? pk.disconnect(0) : pk.disconnect(), nonzero),
  ])();
}

function badFlags0010(rng: Rng, v: Version): Buffer {
  // 1010 (DUP) is a re-send in MQTT 3.1, which the broker accepts there (src/protocol/decode.ts)
  const flags = rng.pick(v === 3 ? [0, 1, 3, 4, 6, 8, 15] : [0, 1, 3, 4, 6, 8, 10, 15]);
  return rng.pick([
    () => setFlags(pk.ack(PacketType.PUBREL, rng.range(1, 65535)), flags),
    () => pk.subscribe(rng.range(1, 65535), [{ filter: 'fz/#' }], v, [], flags),
    () => pk.unsubscribe(rng.range(1, 65535), ['fz/#'], v, flags),
  ])();
}

function badOptions(rng: Rng, v: Version): number {
  if (v === 5) return rng.pick([0x03, 0x30, 0x40, 0x80, 0xc0, 0x33, 0xff]); // QoS 3, retain handling 3, reserved bits
  return rng.pick([0x03, 0x04, 0x08, 0x10, 0x80, 0xfc, 0xff]); // 3.1.1: QoS 3 or any of the upper 6 bits
}

/** One property of an id MQTT 5 does not define, with a few value bytes. */
function undefinedProperty(rng: Rng): Buffer {
  return Buffer.concat([Buffer.from([rng.pick(UNDEFINED_PROPERTY_IDS)]), rng.bytes(rng.int(5))]);
}

/** A v5 QoS 0 PUBLISH whose property section is `raw`, its length field claiming `raw.length + lie`. */
function publishRawProps(topic: string, raw: Buffer, lie = 0): Buffer {
  return pk.frame(PacketType.PUBLISH, 0, Buffer.concat([pk.str(topic), pk.varint(raw.length + lie), raw, Buffer.from('p')]));
}

/** A v5 CONNECT whose property section is `raw`, its length field claiming `raw.length + lie`. */
function v5ConnectWithRawProps(clientId: string, raw: Buffer, lie = 0): Buffer {
  return pk.frame(PacketType.CONNECT, 0, Buffer.concat([
    pk.str('MQTT'), Buffer.from([5, 0x02]), pk.u16(30), pk.varint(raw.length + lie), raw, pk.str(clientId),
  ]));
}

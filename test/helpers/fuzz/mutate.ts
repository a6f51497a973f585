/**
 * Byte mutations of valid packets: blind ones (bit flips, byte insert/delete, truncation,
 * remaining-length corruption including 5-byte varints) that desynchronise the framer, and
 * structured ones that keep the frame consistent so the bytes reach the decoders (property
 * length lies, duplicated and undefined properties, invalid UTF-8 or U+0000 in strings,
 * wildcards in PUBLISH topics, zero packet ids, reserved flag bits, packet types 0 and 15).
 * A structured mutation that does not apply to the packet it is given returns it unchanged
 * and the caller picks another.
 * called from: tests, scripts/fuzz.ts
 */
import { PacketType, varint } from '../packets.ts';
import type { Rng } from './prng.ts';
import { UNDEFINED_PROPERTY_IDS } from './poison.ts';
import type { Version } from './valid.ts';

/** Fixed header + body of one whole frame; undefined when `b` is not one. */
interface Frame {
  readonly first: number;
  readonly body: Buffer;
}

function parseFrame(b: Buffer): Frame | undefined {
  let len = 0;
  let mult = 1;
  for (let pos = 1; pos < 5 && pos < b.length; pos++) {
    const x = b[pos]!;
    len += (x & 0x7f) * mult;
    mult *= 128;
    if ((x & 0x80) === 0) return pos + 1 + len === b.length ? { first: b[0]!, body: b.subarray(pos + 1) } : undefined;
  }
  return undefined;
}

function build(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first]), varint(body.length), body]);
}

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x23, 0x2b, 0x2f, 0x24];
const BAD_TEXT = [[0xc3, 0x28], [0x80], [0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x00], [0xf8, 0x88, 0x80, 0x80, 0x80]];

/** Offset in `body` of the v5 property length, or -1 when the packet has no property section. */
function propsOffset(first: number, body: Buffer): number {
  const type = first >> 4;
  switch (type) {
    case PacketType.CONNECT: {
      if (body.length < 2) return -1;
      const at = 2 + body.readUInt16BE(0);
      return body[at] === 5 && at + 4 < body.length ? at + 4 : -1;
    }
    case PacketType.PUBLISH: {
      if (body.length < 2) return -1;
      const at = 2 + body.readUInt16BE(0) + (((first >> 1) & 3) > 0 ? 2 : 0);
      return at < body.length ? at : -1;
    }
    case PacketType.PUBACK: case PacketType.PUBREC: case PacketType.PUBREL: case PacketType.PUBCOMP:
      return body.length > 3 ? 3 : -1;
    case PacketType.SUBSCRIBE: case PacketType.UNSUBSCRIBE:
      return body.length > 2 ? 2 : -1;
    case PacketType.DISCONNECT: case PacketType.AUTH:
      return body.length > 1 ? 1 : -1;
    default:
      return -1;
  }
}

function readVarint(b: Buffer, at: number): { value: number; end: number } | undefined {
  let value = 0;
  let mult = 1;
  for (let pos = at; pos < b.length && pos < at + 4; pos++) {
    value += (b[pos]! & 0x7f) * mult;
    mult *= 128;
    if ((b[pos]! & 0x80) === 0) return { value, end: pos + 1 };
  }
  return undefined;
}

/** Rewrites the v5 property section of a frame; `f` gets the properties and returns the new section (length field included). */
function editProps(packet: Buffer, f: (props: Buffer) => Buffer): Buffer {
  const fr = parseFrame(packet);
  if (fr === undefined) return packet;
  const at = propsOffset(fr.first, fr.body);
  if (at < 0) return packet;
  const len = readVarint(fr.body, at);
  if (len === undefined || len.end + len.value > fr.body.length) return packet;
  const props = fr.body.subarray(len.end, len.end + len.value);
  return build(fr.first, Buffer.concat([fr.body.subarray(0, at), f(props), fr.body.subarray(len.end + len.value)]));
}

/** Offset of the first length-prefixed string in the body (PUBLISH topic, SUBSCRIBE filter, CONNECT client id), or -1. */
function stringOffset(fr: Frame, version: Version): number {
  const type = fr.first >> 4;
  if (type === PacketType.PUBLISH) return 0;
  if (type === PacketType.SUBSCRIBE || type === PacketType.UNSUBSCRIBE) {
    if (version !== 5) return 2;
    const len = readVarint(fr.body, 2);
    return len === undefined ? -1 : len.end + len.value;
  }
  if (type === PacketType.CONNECT) {
    const pa = propsOffset(fr.first, fr.body);
    if (pa < 0) return fr.body.length >= 2 ? 2 + fr.body.readUInt16BE(0) + 4 : -1;
    const len = readVarint(fr.body, pa);
    return len === undefined ? -1 : len.end + len.value;
  }
  return -1;
}

/** A mutation: `(rng, packet, version) -> bytes`. Blind ones may return anything, including nothing. */
export type Mutation = (rng: Rng, packet: Buffer, version: Version) => Buffer;

export const mutations: Readonly<Record<string, Mutation>> = {
  bitFlip: (rng, p) => {
    if (p.length === 0) return p;
    const out = Buffer.from(p);
    for (let n = rng.range(1, 4); n > 0; n--) {
      const i = rng.int(out.length);
      out[i] = out[i]! ^ (1 << rng.int(8));
    }
    return out;
  },
  byteSet: (rng, p) => {
    if (p.length === 0) return p;
    const out = Buffer.from(p);
    out[rng.int(out.length)] = rng.chance(0.7) ? rng.pick(INTERESTING) : rng.int(256);
    return out;
  },
  insertBytes: (rng, p) => {
    const at = rng.int(p.length + 1);
    return Buffer.concat([p.subarray(0, at), rng.bytes(rng.range(1, 8)), p.subarray(at)]);
  },
  deleteBytes: (rng, p) => {
    const at = rng.int(p.length + 1);
    return Buffer.concat([p.subarray(0, at), p.subarray(at + rng.range(1, 8))]);
  },
  truncate: (rng, p) => p.subarray(0, rng.int(p.length)),
  /** the remaining length replaced: off by a little, random, 0, the maximum, 5 bytes long, or not minimal */
  remainingLength: (rng, p) => {
    const fr = parseFrame(p);
    if (fr === undefined) return p;
    const n = fr.body.length;
    const len = rng.pick([
      () => varint(Math.max(0, n + rng.range(-3, 3))),
      () => varint(rng.int(268435456)),
      () => varint(0),
      () => Buffer.from([0xff, 0xff, 0xff, 0x7f]),
      () => Buffer.from([0x80 | (n & 0x7f), 0x80, 0x80, 0x80, 0x00]),
      () => Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
      () => { // not minimal [MQTT-1.5.5-1]: the same value with one more byte
        const v = Buffer.from(varint(n));
        v[v.length - 1] = v[v.length - 1]! | 0x80;
        return Buffer.concat([v, Buffer.from([0])]);
      },
    ])();
    return Buffer.concat([Buffer.from([fr.first]), len, fr.body]);
  },
  /** bytes inserted into the body and the remaining length fixed: the frame holds, the fields do not */
  bodyInsert: (rng, p) => {
    const fr = parseFrame(p);
    if (fr === undefined) return p;
    const at = rng.int(fr.body.length + 1);
    return build(fr.first, Buffer.concat([fr.body.subarray(0, at), rng.bytes(rng.range(1, 6)), fr.body.subarray(at)]));
  },
  bodyDelete: (rng, p) => {
    const fr = parseFrame(p);
    if (fr === undefined || fr.body.length === 0) return p;
    const at = rng.int(fr.body.length);
    return build(fr.first, Buffer.concat([fr.body.subarray(0, at), fr.body.subarray(at + rng.range(1, 4))]));
  },
  reservedFlags: (rng, p) => {
    if (p.length === 0) return p;
    const out = Buffer.from(p);
    out[0] = (out[0]! & 0xf0) | ((out[0]! & 0x0f) ^ (1 << rng.int(4)));
    return out;
  },
  packetType: (rng, p) => {
    if (p.length === 0) return p;
    const out = Buffer.from(p);
    out[0] = (rng.pick([0, 15, 15, rng.int(16)]) << 4) | (out[0]! & 0x0f);
    return out;
  },
  /** v5: the property length claims more or fewer bytes than follow */
  propertyLengthLie: (rng, p) => editProps(p, (props) => Buffer.concat([varint(Math.max(0, props.length + rng.pick([-2, -1, 1, 2, 7, 300]))), props])),
  /** v5: the whole property list twice (every property repeated) */
  duplicateProperties: (_rng, p) => editProps(p, (props) => (props.length === 0 ? Buffer.from([0]) : Buffer.concat([varint(props.length * 2), props, props]))),
  /** v5: an undefined or misplaced property id first, with some value bytes */
  randomPropertyId: (rng, p) => editProps(p, (props) => {
    const id = rng.chance(0.5) ? Buffer.from([rng.pick(UNDEFINED_PROPERTY_IDS)]) : rng.chance(0.5) ? Buffer.from([rng.range(1, 0x2a)]) : Buffer.from([0x80 | rng.int(128), rng.int(128)]);
    const extra = Buffer.concat([id, rng.bytes(rng.int(6))]);
    return Buffer.concat([varint(props.length + extra.length), extra, props]);
  }),
  /** invalid UTF-8 or U+0000 inside the topic, filter or client id */
  badString: (rng, p, version) => {
    const fr = parseFrame(p);
    if (fr === undefined) return p;
    const at = stringOffset(fr, version);
    if (at < 0 || at + 2 > fr.body.length) return p;
    const n = fr.body.readUInt16BE(at);
    if (at + 2 + n > fr.body.length) return p;
    const s = fr.body.subarray(at + 2, at + 2 + n);
    const cut = rng.int(n + 1);
    const bad = Buffer.from(rng.pick(BAD_TEXT));
    const ns = Buffer.concat([s.subarray(0, cut), bad, s.subarray(cut)]);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(ns.length);
    return build(fr.first, Buffer.concat([fr.body.subarray(0, at), len, ns, fr.body.subarray(at + 2 + n)]));
  },
  /** a wildcard in a PUBLISH topic [MQTT-3.3.2-2] */
  wildcardTopic: (rng, p) => {
    const fr = parseFrame(p);
    if (fr === undefined || fr.first >> 4 !== PacketType.PUBLISH || fr.body.length < 2) return p;
    const n = fr.body.readUInt16BE(0);
    if (2 + n > fr.body.length) return p;
    const topic = Buffer.concat([fr.body.subarray(2, 2 + n), Buffer.from(rng.pick(['/+', '/#', '+', '#', '/+/x']))]);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(topic.length);
    return build(fr.first, Buffer.concat([len, topic, fr.body.subarray(2 + n)]));
  },
  /** packet id 0 where one is required [MQTT-2.3.1-1] */
  zeroPacketId: (_rng, p) => {
    const fr = parseFrame(p);
    if (fr === undefined) return p;
    const type = fr.first >> 4;
    let at = -1;
    if (type === PacketType.PUBLISH && ((fr.first >> 1) & 3) > 0 && fr.body.length >= 2) at = 2 + fr.body.readUInt16BE(0);
    else if (type >= PacketType.PUBACK && type <= PacketType.UNSUBSCRIBE && type !== PacketType.SUBACK) at = 0;
    if (at < 0 || at + 2 > fr.body.length) return p;
    const body = Buffer.from(fr.body);
    body.writeUInt16BE(0, at);
    return build(fr.first, body);
  },
};

const NAMES = Object.keys(mutations);
/** the mutations that change the frame's fields but keep it a frame */
const STRUCTURED = ['propertyLengthLie', 'duplicateProperties', 'randomPropertyId', 'badString', 'wildcardTopic', 'zeroPacketId', 'bodyInsert', 'bodyDelete', 'remainingLength'];

/** Applies one random mutation (a structured one first, if it applies); returns the bytes and its name. */
export function mutate(rng: Rng, packet: Buffer, version: Version): { bytes: Buffer; name: string } {
  if (rng.chance(0.5)) {
    for (let tries = 0; tries < 3; tries++) {
      const name = rng.pick(STRUCTURED);
      const out = mutations[name]!(rng, packet, version);
      if (out !== packet) return { bytes: out, name };
    }
  }
  const name = rng.pick(NAMES);
  return { bytes: mutations[name]!(rng, packet, version), name };
}

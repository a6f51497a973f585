/**
 * Hand-written MQTT packet builders and a small decoder for what the broker sends, for black-box
 * tests over raw sockets. Every field is taken as given (no validation), so malformed variants
 * are one argument away. Nothing here imports from src/: these encode the specification, not
 * the broker's codec.
 */

/** MQTT control packet types (fixed header, high nibble). */
export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
  AUTH: 15,
} as const;

/** MQTT 5 property identifiers. */
export const Prop = {
  PayloadFormatIndicator: 0x01,
  MessageExpiryInterval: 0x02,
  ContentType: 0x03,
  ResponseTopic: 0x08,
  CorrelationData: 0x09,
  SubscriptionIdentifier: 0x0b,
  SessionExpiryInterval: 0x11,
  AssignedClientIdentifier: 0x12,
  ServerKeepAlive: 0x13,
  AuthenticationMethod: 0x15,
  AuthenticationData: 0x16,
  RequestProblemInformation: 0x17,
  WillDelayInterval: 0x18,
  RequestResponseInformation: 0x19,
  ResponseInformation: 0x1a,
  ServerReference: 0x1c,
  ReasonString: 0x1f,
  ReceiveMaximum: 0x21,
  TopicAliasMaximum: 0x22,
  TopicAlias: 0x23,
  MaximumQoS: 0x24,
  RetainAvailable: 0x25,
  UserProperty: 0x26,
  MaximumPacketSize: 0x27,
  WildcardSubscriptionAvailable: 0x28,
  SubscriptionIdentifierAvailable: 0x29,
  SharedSubscriptionAvailable: 0x2a,
} as const;

type PropKind = 'byte' | 'u16' | 'u32' | 'varint' | 'string' | 'binary' | 'pair';

const propKinds: Record<number, PropKind> = {
  0x01: 'byte', 0x02: 'u32', 0x03: 'string', 0x08: 'string', 0x09: 'binary', 0x0b: 'varint',
  0x11: 'u32', 0x12: 'string', 0x13: 'u16', 0x15: 'string', 0x16: 'binary', 0x17: 'byte',
  0x18: 'u32', 0x19: 'byte', 0x1a: 'string', 0x1c: 'string', 0x1f: 'string', 0x21: 'u16',
  0x22: 'u16', 0x23: 'u16', 0x24: 'byte', 0x25: 'byte', 0x26: 'pair', 0x27: 'u32', 0x28: 'byte',
  0x29: 'byte', 0x2a: 'byte',
};

/** One MQTT 5 property, in wire order; duplicates (user properties) are kept. */
export interface Property {
  readonly id: number;
  readonly value: number | string | Buffer | readonly [string, string];
}

/** MQTT Variable Byte Integer. */
export function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/** UTF-8 string with its 2-byte length; a Buffer is taken as already-encoded (possibly invalid) bytes. */
export function str(s: string | Buffer): Buffer {
  const body = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([u16(body.length), body]);
}

/** Binary data with its 2-byte length. */
export const bin = str;

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Encodes a property list (without its length prefix). */
export function encodePropertyList(props: readonly Property[]): Buffer {
  const parts: Buffer[] = [];
  for (const p of props) {
    parts.push(varint(p.id));
    const v = p.value;
    switch (propKinds[p.id]) {
      case 'byte': parts.push(Buffer.from([v as number])); break;
      case 'u16': parts.push(u16(v as number)); break;
      case 'u32': parts.push(u32(v as number)); break;
      case 'varint': parts.push(varint(v as number)); break;
      case 'string': parts.push(str(v as string | Buffer)); break;
      case 'binary': parts.push(bin(v as Buffer | string)); break;
      case 'pair': parts.push(str((v as readonly [string, string])[0]), str((v as readonly [string, string])[1])); break;
      default: throw new Error(`unknown property id ${p.id}`);
    }
  }
  return Buffer.concat(parts);
}

/** Property length + property list, as they appear in a v5 packet. */
export function properties(props: readonly Property[] = []): Buffer {
  const list = encodePropertyList(props);
  return Buffer.concat([varint(list.length), list]);
}

/** Fixed header (type << 4 | flags, remaining length) + body. */
export function frame(type: number, flags: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(type << 4) | (flags & 0x0f)]), varint(body.length), body]);
}

/** Protocol level: 3 = MQTT 3.1 (MQIsdp), 4 = 3.1.1, 5 = 5.0. */
export type Version = 3 | 4 | 5;

export interface WillFields {
  readonly topic: string | Buffer;
  readonly payload: string | Buffer;
  readonly qos?: number;
  readonly retain?: boolean;
  readonly properties?: readonly Property[];
}

export interface ConnectFields {
  readonly version?: Version;
  /** default: 'MQIsdp' for level 3, else 'MQTT' */
  readonly protocolName?: string | Buffer;
  /** overrides the level byte written (default: version) */
  readonly level?: number;
  readonly clientId?: string | Buffer;
  readonly clean?: boolean;
  readonly keepalive?: number;
  readonly will?: WillFields;
  readonly username?: string | Buffer;
  readonly password?: string | Buffer;
  readonly properties?: readonly Property[];
  /** the reserved bit 0 of the connect flags */
  readonly reservedFlag?: boolean;
  /** replaces the whole connect-flags byte */
  readonly flagsByte?: number;
}

/** CONNECT packet; v5 fields are written only for version 5. */
export function connect(f: ConnectFields = {}): Buffer {
  const version = f.version ?? 4;
  const name = f.protocolName ?? (version === 3 ? 'MQIsdp' : 'MQTT');
  let flags = 0;
  if (f.clean ?? true) flags |= 0x02;
  if (f.will) {
    flags |= 0x04 | ((f.will.qos ?? 0) << 3);
    if (f.will.retain) flags |= 0x20;
  }
  if (f.password !== undefined) flags |= 0x40;
  if (f.username !== undefined) flags |= 0x80;
  if (f.reservedFlag) flags |= 0x01;
  if (f.flagsByte !== undefined) flags = f.flagsByte;
  const parts: Buffer[] = [str(name), Buffer.from([f.level ?? version, flags]), u16(f.keepalive ?? 60)];
  if (version === 5) parts.push(properties(f.properties));
  parts.push(str(f.clientId ?? ''));
  if (f.will) {
    if (version === 5) parts.push(properties(f.will.properties));
    parts.push(str(f.will.topic), bin(f.will.payload));
  }
  if (f.username !== undefined) parts.push(str(f.username));
  if (f.password !== undefined) parts.push(bin(f.password));
  return frame(PacketType.CONNECT, 0, Buffer.concat(parts));
}

export interface PublishFields {
  readonly version?: Version;
  readonly topic: string | Buffer;
  readonly payload?: string | Buffer;
  readonly qos?: number;
  readonly retain?: boolean;
  readonly dup?: boolean;
  readonly packetId?: number;
  readonly properties?: readonly Property[];
}

/** PUBLISH packet; a packet id is written when qos > 0 (default 1). */
export function publish(f: PublishFields): Buffer {
  const qos = f.qos ?? 0;
  const flags = (f.dup ? 0x08 : 0) | (qos << 1) | (f.retain ? 0x01 : 0);
  const parts: Buffer[] = [str(f.topic)];
  if (qos > 0) parts.push(u16(f.packetId ?? 1));
  if ((f.version ?? 4) === 5) parts.push(properties(f.properties));
  const payload = f.payload ?? '';
  parts.push(typeof payload === 'string' ? Buffer.from(payload) : payload);
  return frame(PacketType.PUBLISH, flags, Buffer.concat(parts));
}

/**
 * PUBACK / PUBREC / PUBREL / PUBCOMP. For v5 the reason code (and properties) are written
 * only when given, as the spec allows the short form for 0x00.
 */
export function ack(type: number, packetId: number, reasonCode?: number, props?: readonly Property[]): Buffer {
  const parts: Buffer[] = [u16(packetId)];
  if (reasonCode !== undefined) parts.push(Buffer.from([reasonCode]));
  if (props !== undefined) parts.push(properties(props));
  return frame(type, type === PacketType.PUBREL ? 0x02 : 0, Buffer.concat(parts));
}

export interface SubscriptionFields {
  readonly filter: string | Buffer;
  readonly qos?: number;
  readonly noLocal?: boolean;
  readonly retainAsPublished?: boolean;
  readonly retainHandling?: number;
  /** replaces the whole options byte */
  readonly optionsByte?: number;
}

export function subscribe(
  packetId: number,
  subs: readonly SubscriptionFields[],
  version: Version = 4,
  props: readonly Property[] = [],
  flags = 0x02,
): Buffer {
  const parts: Buffer[] = [u16(packetId)];
  if (version === 5) parts.push(properties(props));
  for (const s of subs) {
    const opts = s.optionsByte ?? ((s.qos ?? 0) | (s.noLocal ? 0x04 : 0) | (s.retainAsPublished ? 0x08 : 0)
      | ((s.retainHandling ?? 0) << 4));
    parts.push(str(s.filter), Buffer.from([opts]));
  }
  return frame(PacketType.SUBSCRIBE, flags, Buffer.concat(parts));
}

export function unsubscribe(packetId: number, filters: readonly (string | Buffer)[], version: Version = 4, flags = 0x02): Buffer {
  const parts: Buffer[] = [u16(packetId)];
  if (version === 5) parts.push(properties([]));
  for (const f of filters) parts.push(str(f));
  return frame(PacketType.UNSUBSCRIBE, flags, Buffer.concat(parts));
}

export function pingreq(): Buffer {
  return Buffer.from([0xc0, 0x00]);
}

/** DISCONNECT; v5 reason code and properties are written when given. */
export function disconnect(reasonCode?: number, props?: readonly Property[]): Buffer {
  const parts: Buffer[] = [];
  if (reasonCode !== undefined) parts.push(Buffer.from([reasonCode]));
  if (props !== undefined) parts.push(properties(props));
  return frame(PacketType.DISCONNECT, 0, Buffer.concat(parts));
}

export function auth(reasonCode: number, props: readonly Property[] = []): Buffer {
  return frame(PacketType.AUTH, 0, Buffer.concat([Buffer.from([reasonCode]), properties(props)]));
}

/** Parses a property list from `buf` starting at its length prefix. */
export function decodeProperties(buf: Buffer, offset: number): { props: Property[]; end: number } {
  const len = readVarint(buf, offset);
  let pos = len.end;
  const end = pos + len.value;
  const props: Property[] = [];
  while (pos < end) {
    const id = readVarint(buf, pos);
    pos = id.end;
    switch (propKinds[id.value]) {
      case 'byte': props.push({ id: id.value, value: buf[pos]! }); pos += 1; break;
      case 'u16': props.push({ id: id.value, value: buf.readUInt16BE(pos) }); pos += 2; break;
      case 'u32': props.push({ id: id.value, value: buf.readUInt32BE(pos) }); pos += 4; break;
      case 'varint': { const v = readVarint(buf, pos); props.push({ id: id.value, value: v.value }); pos = v.end; break; }
      case 'string': { const n = buf.readUInt16BE(pos); props.push({ id: id.value, value: buf.toString('utf8', pos + 2, pos + 2 + n) }); pos += 2 + n; break; }
      case 'binary': { const n = buf.readUInt16BE(pos); props.push({ id: id.value, value: Buffer.from(buf.subarray(pos + 2, pos + 2 + n)) }); pos += 2 + n; break; }
      case 'pair': {
        const k = buf.readUInt16BE(pos);
        const key = buf.toString('utf8', pos + 2, pos + 2 + k);
        pos += 2 + k;
        const n = buf.readUInt16BE(pos);
        props.push({ id: id.value, value: [key, buf.toString('utf8', pos + 2, pos + 2 + n)] });
        pos += 2 + n;
        break;
      }
      default: throw new Error(`unknown property id 0x${id.value.toString(16)} in packet from broker`);
    }
  }
  return { props, end };
}

export function readVarint(buf: Buffer, offset: number): { value: number; end: number } {
  let value = 0;
  let mult = 1;
  let pos = offset;
  for (;;) {
    const b = buf[pos++];
    if (b === undefined) throw new Error('truncated variable byte integer');
    value += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) return { value, end: pos };
    mult *= 128;
  }
}

/** A packet as framed off the wire, with the fields tests look at decoded for the given version. */
export interface Packet {
  readonly type: number;
  readonly flags: number;
  /** bytes after the fixed header */
  readonly body: Buffer;
  /** CONNACK return/reason code, ack reason code (0 when omitted), DISCONNECT / AUTH reason code */
  readonly reasonCode?: number;
  /** SUBACK / UNSUBACK codes (UNSUBACK v3.1.1 has none) */
  readonly reasonCodes?: number[];
  readonly packetId?: number;
  readonly sessionPresent?: boolean;
  readonly properties: Property[];
  readonly topic?: string;
  readonly payload?: Buffer;
  readonly qos?: number;
  readonly retain?: boolean;
  readonly dup?: boolean;
}

/** Decodes the fields of a packet received from the broker (the version decides v5 layouts). */
export function decodePacket(type: number, flags: number, body: Buffer, version: Version): Packet {
  const v5 = version === 5;
  const base = { type, flags, body, properties: [] as Property[] };
  switch (type) {
    case PacketType.CONNACK: {
      const props = v5 && body.length > 2 ? decodeProperties(body, 2).props : [];
      return { ...base, sessionPresent: (body[0]! & 1) === 1, reasonCode: body[1], properties: props };
    }
    case PacketType.PUBLISH: {
      const qos = (flags >> 1) & 3;
      const tlen = body.readUInt16BE(0);
      const topic = body.toString('utf8', 2, 2 + tlen);
      let pos = 2 + tlen;
      let packetId: number | undefined;
      if (qos > 0) { packetId = body.readUInt16BE(pos); pos += 2; }
      let props: Property[] = [];
      if (v5) { const p = decodeProperties(body, pos); props = p.props; pos = p.end; }
      return {
        ...base, topic, qos, packetId, retain: (flags & 1) === 1, dup: (flags & 8) === 8,
        properties: props, payload: Buffer.from(body.subarray(pos)),
      };
    }
    case PacketType.PUBACK: case PacketType.PUBREC: case PacketType.PUBREL: case PacketType.PUBCOMP: {
      const props = v5 && body.length > 3 ? decodeProperties(body, 3).props : [];
      return { ...base, packetId: body.readUInt16BE(0), reasonCode: body.length > 2 ? body[2] : 0, properties: props };
    }
    case PacketType.SUBACK: case PacketType.UNSUBACK: {
      let pos = 2;
      let props: Property[] = [];
      if (v5) { const p = decodeProperties(body, pos); props = p.props; pos = p.end; }
      return { ...base, packetId: body.readUInt16BE(0), reasonCodes: [...body.subarray(pos)], properties: props };
    }
    case PacketType.DISCONNECT: case PacketType.AUTH: {
      const props = body.length > 1 ? decodeProperties(body, 1).props : [];
      return { ...base, reasonCode: body.length > 0 ? body[0] : 0, properties: props };
    }
    default:
      return base;
  }
}

/** First value of property `id`, or undefined. */
export function prop(p: { readonly properties: readonly Property[] }, id: number): Property['value'] | undefined {
  return p.properties.find((x) => x.id === id)?.value;
}

/** All user properties, in wire order. */
export function userProps(p: { readonly properties: readonly Property[] }): Array<readonly [string, string]> {
  return p.properties.filter((x) => x.id === Prop.UserProperty).map((x) => x.value as readonly [string, string]);
}

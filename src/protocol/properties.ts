/**
 * MQTT 5 properties (spec 2.2.2): reading with full validation and writing, in the object shape
 * mqtt-packet uses (camelCase names; Byte properties as booleans, except maximumQoS; user properties in
 * a null-prototype object whose repeated names hold arrays, wire order kept aside: userProperties.ts).
 * Pure; called from: worker.
 *
 * Lifetime: Binary Data values (correlationData, authenticationData) are views of the frame they were
 * read from, like the PUBLISH payload: whatever is stored beyond the synchronous handler must own a copy.
 */
import { malformed, protocolError } from './errors.ts';
import { addUserProperty, userPropertyPairs } from './userProperties.ts';
import type { UserProperties } from './userProperties.ts';
import { readMqttString } from './utf8.ts';
import { MAX_VARINT, readVarint, varintEnd, varintSize, writeVarint } from './varint.ts';

/** Which packet a property section belongs to (a bit per section kind; spec table 2-4). */
export const PropertyKind = {
  Connect: 1 << 0,
  Connack: 1 << 1,
  Publish: 1 << 2,
  Will: 1 << 3,
  /** PUBACK, PUBREC, PUBREL and PUBCOMP */
  Ack: 1 << 4,
  Subscribe: 1 << 5,
  Suback: 1 << 6,
  Unsubscribe: 1 << 7,
  Unsuback: 1 << 8,
  Disconnect: 1 << 9,
  Auth: 1 << 10,
} as const;

/** The properties of any packet, as mqtt-packet types them. */
export type Properties = Record<string, unknown>;

/** Wire data type of a property value. */
const ValueType = {
  Bool: 0, // Byte holding 0 or 1, surfaced as a boolean
  Byte: 1,
  Int16: 2,
  Int32: 3,
  VarInt: 4,
  String: 5,
  Binary: 6,
  Pair: 7,
} as const;
type ValueType = (typeof ValueType)[keyof typeof ValueType];
const T = ValueType;

interface PropertyDefinition {
  readonly id: number;
  readonly name: string;
  readonly type: ValueType;
  /** PropertyKind bits of the packets that may carry it */
  readonly kinds: number;
  /** the value may not be 0 (a Protocol Error) */
  readonly nonZero: boolean;
}

const K = PropertyKind;
const ALL = 0x7ff;
const DEFINITIONS: readonly PropertyDefinition[] = [
  def(0x01, 'payloadFormatIndicator', T.Bool, K.Publish | K.Will),
  def(0x02, 'messageExpiryInterval', T.Int32, K.Publish | K.Will),
  def(0x03, 'contentType', T.String, K.Publish | K.Will),
  def(0x08, 'responseTopic', T.String, K.Publish | K.Will),
  def(0x09, 'correlationData', T.Binary, K.Publish | K.Will),
  def(0x0b, 'subscriptionIdentifier', T.VarInt, K.Publish | K.Subscribe, true), // 0 is a Protocol Error (3.8.2.1.2)
  def(0x11, 'sessionExpiryInterval', T.Int32, K.Connect | K.Connack | K.Disconnect),
  def(0x12, 'assignedClientIdentifier', T.String, K.Connack),
  def(0x13, 'serverKeepAlive', T.Int16, K.Connack),
  def(0x15, 'authenticationMethod', T.String, K.Connect | K.Connack | K.Auth),
  def(0x16, 'authenticationData', T.Binary, K.Connect | K.Connack | K.Auth),
  def(0x17, 'requestProblemInformation', T.Bool, K.Connect),
  def(0x18, 'willDelayInterval', T.Int32, K.Will),
  def(0x19, 'requestResponseInformation', T.Bool, K.Connect),
  def(0x1a, 'responseInformation', T.String, K.Connack),
  def(0x1c, 'serverReference', T.String, K.Connack | K.Disconnect),
  def(0x1f, 'reasonString', T.String, K.Connack | K.Ack | K.Suback | K.Unsuback | K.Disconnect | K.Auth),
  def(0x21, 'receiveMaximum', T.Int16, K.Connect | K.Connack, true), // 0 is a Protocol Error (3.1.2.11.3)
  def(0x22, 'topicAliasMaximum', T.Int16, K.Connect | K.Connack),
  def(0x23, 'topicAlias', T.Int16, K.Publish, true), // [MQTT-3.3.2-8] topic alias 0
  def(0x24, 'maximumQoS', T.Byte, K.Connack),
  def(0x25, 'retainAvailable', T.Bool, K.Connack),
  def(0x26, 'userProperties', T.Pair, ALL),
  def(0x27, 'maximumPacketSize', T.Int32, K.Connect | K.Connack, true), // 0 is a Protocol Error (3.1.2.11.4)
  def(0x28, 'wildcardSubscriptionAvailable', T.Bool, K.Connack),
  def(0x29, 'subscriptionIdentifiersAvailable', T.Bool, K.Connack),
  def(0x2a, 'sharedSubscriptionAvailable', T.Bool, K.Connack),
];

function def(id: number, name: string, type: ValueType, kinds: number, nonZero = false): PropertyDefinition {
  return { id, name, type, kinds, nonZero };
}

const BY_ID: (PropertyDefinition | undefined)[] = [];
const BY_NAME = new Map<string, PropertyDefinition>();
for (const d of DEFINITIONS) {
  BY_ID[d.id] = d;
  BY_NAME.set(d.name, d);
}
const ID_USER_PROPERTY = 0x26;
const ID_SUBSCRIPTION_IDENTIFIER = 0x0b;

/** Position after the property section read by the last {@link readProperties} call. */
export let propertiesEnd = 0;

/**
 * Reads the property section (Property Length + properties) at buf[pos..end) for a packet of `kind`;
 * sets {@link propertiesEnd}. Returns undefined when the section is empty.
 * Throws MalformedPacket for truncated values, unknown ids, ids not allowed in `kind` and ill-formed
 * UTF-8; ProtocolError for a repeated property or a value out of range.
 */
export function readProperties(buf: Buffer, pos: number, end: number, kind: number): Properties | undefined {
  const length = readVarint(buf, pos, end);
  const start = varintEnd;
  const stop = start + length;
  if (stop > end) throw malformed('MQTT_ERR_PROPERTIES_LENGTH', 'property length runs past the end of the packet');
  propertiesEnd = stop;
  if (length === 0) return undefined;
  const result: Properties = {};
  let seenLow = 0; // ids 0..31
  let seenHigh = 0; // ids 32..63
  let p = start;
  while (p < stop) {
    const id = buf[p++]!;
    const d = BY_ID[id];
    if (d === undefined) throw malformed('MQTT_ERR_PROPERTY_UNKNOWN', `unknown property id 0x${id.toString(16)}`);
    if ((d.kinds & kind) === 0) {
      // "an Identifier which is not valid for its packet type ... is a Malformed Packet" (2.2.2.2)
      throw malformed('MQTT_ERR_PROPERTY_NOT_ALLOWED', `property ${d.name} is not allowed in this packet`);
    }
    const bit = 1 << (id & 31);
    const repeatable = id === ID_USER_PROPERTY || (id === ID_SUBSCRIPTION_IDENTIFIER && kind === PropertyKind.Publish);
    if (!repeatable) {
      if (((id < 32 ? seenLow : seenHigh) & bit) !== 0) {
        throw protocolError('MQTT_ERR_PROPERTY_REPEATED', `property ${d.name} included more than once`);
      }
      if (id < 32) seenLow |= bit;
      else seenHigh |= bit;
    }
    p = readValue(buf, p, stop, d, result);
  }
  return result;
}

/** Reads one property value into `result`; returns the position after it. */
function readValue(buf: Buffer, p: number, stop: number, d: PropertyDefinition, result: Properties): number {
  let value: unknown;
  switch (d.type) {
    case T.Bool:
    case T.Byte: {
      need(p + 1, stop);
      const byte = buf[p++]!;
      if (byte > 1) throw protocolError('MQTT_ERR_PROPERTY_VALUE', `property ${d.name} must be 0 or 1`);
      value = d.type === T.Bool ? byte === 1 : byte;
      break;
    }
    case T.Int16:
      need(p + 2, stop);
      value = buf.readUInt16BE(p);
      p += 2;
      break;
    case T.Int32:
      need(p + 4, stop);
      value = buf.readUInt32BE(p);
      p += 4;
      break;
    case T.VarInt:
      value = readVarint(buf, p, stop);
      p = varintEnd;
      break;
    case T.String:
      value = readString(buf, p, stop, d.name);
      p = stringEnd;
      break;
    case T.Binary: {
      need(p + 2, stop);
      const valueEnd = p + 2 + buf.readUInt16BE(p);
      need(valueEnd, stop);
      value = buf.subarray(p + 2, valueEnd);
      p = valueEnd;
      break;
    }
    case T.Pair: {
      const name = readString(buf, p, stop, d.name);
      const text = readString(buf, stringEnd, stop, d.name);
      let pairs = result.userProperties as UserProperties | undefined;
      if (pairs === undefined) pairs = result.userProperties = Object.create(null) as UserProperties;
      addUserProperty(pairs, name, text);
      return stringEnd;
    }
  }
  if (d.nonZero && value === 0) throw protocolError('MQTT_ERR_PROPERTY_VALUE', `property ${d.name} must not be 0`);
  const previous = result[d.name];
  if (previous === undefined) result[d.name] = value;
  else if (Array.isArray(previous)) previous.push(value); // repeated subscriptionIdentifier
  else result[d.name] = [previous, value];
  return p;
}

let stringEnd = 0;

function readString(buf: Buffer, p: number, stop: number, name: string): string {
  need(p + 2, stop);
  const valueEnd = p + 2 + buf.readUInt16BE(p);
  need(valueEnd, stop);
  const text = readMqttString(buf, p + 2, valueEnd);
  if (text === undefined) throw malformed('MQTT_ERR_UTF8', `property ${name} is not a well-formed UTF-8 string without U+0000`, 'MQTT-1.5.4-1');
  stringEnd = valueEnd;
  return text;
}

function need(position: number, stop: number): void {
  if (position > stop) throw malformed('MQTT_ERR_TRUNCATED', 'property value runs past the end of the property section');
}

/** Bytes of the property section for `properties` without its Property Length prefix. Throws a plain
 *  Error for an unknown property name or a value of the wrong type (a caller bug). */
export function propertiesLength(properties: Properties | undefined): number {
  if (properties === undefined) return 0;
  let length = 0;
  for (const name in properties) {
    const value = properties[name];
    if (value === undefined) continue;
    const d = definition(name);
    if (d.type === T.Pair) {
      for (const [key, text] of userPropertyPairs(value as UserProperties)) length += 5 + Buffer.byteLength(key) + Buffer.byteLength(text);
    } else if (Array.isArray(value)) {
      for (const v of value) length += 1 + valueLength(d, v);
    } else {
      length += 1 + valueLength(d, value);
    }
  }
  return length;
}

function definition(name: string): PropertyDefinition {
  const d = BY_NAME.get(name);
  if (d === undefined) throw new Error(`unknown MQTT 5 property ${name}`);
  return d;
}

function valueLength(d: PropertyDefinition, value: unknown): number {
  switch (d.type) {
    case T.Bool:
    case T.Byte: return 1;
    case T.Int16: return 2;
    case T.Int32: return 4;
    case T.VarInt:
      if (typeof value !== 'number' || value < 0 || value > MAX_VARINT) throw new Error(`invalid ${d.name}: ${String(value)}`);
      return varintSize(value);
    case T.String: return 2 + Buffer.byteLength(value as string);
    case T.Binary: return 2 + (value as Buffer).length;
    case T.Pair: return 0;
  }
}

/** Writes the property section (Property Length included) at buf[pos]; `length` = propertiesLength(properties).
 *  Returns the position after it. */
export function writeProperties(buf: Buffer, pos: number, properties: Properties | undefined, length: number): number {
  pos = writeVarint(buf, pos, length);
  if (properties === undefined) return pos;
  for (const name in properties) {
    const value = properties[name];
    if (value === undefined) continue;
    const d = definition(name);
    if (d.type === T.Pair) {
      for (const [key, text] of userPropertyPairs(value as UserProperties)) pos = writePair(buf, pos, key, text);
    } else if (Array.isArray(value)) {
      for (const v of value) pos = writeValue(buf, pos, d, v);
    } else {
      pos = writeValue(buf, pos, d, value);
    }
  }
  return pos;
}

function writePair(buf: Buffer, pos: number, key: string, value: string): number {
  buf[pos++] = ID_USER_PROPERTY;
  pos = writeString(buf, pos, key);
  return writeString(buf, pos, value);
}

function writeString(buf: Buffer, pos: number, text: string): number {
  const written = buf.write(text, pos + 2, 'utf8');
  buf.writeUInt16BE(written, pos);
  return pos + 2 + written;
}

function writeValue(buf: Buffer, pos: number, d: PropertyDefinition, value: unknown): number {
  buf[pos++] = d.id;
  switch (d.type) {
    case T.Bool:
    case T.Byte: buf[pos] = Number(value); return pos + 1;
    case T.Int16: return buf.writeUInt16BE(value as number, pos);
    case T.Int32: return buf.writeUInt32BE(value as number, pos);
    case T.VarInt: return writeVarint(buf, pos, value as number);
    case T.String: return writeString(buf, pos, value as string);
    case T.Binary: {
      const data = value as Buffer;
      buf.writeUInt16BE(data.length, pos);
      data.copy(buf, pos + 2);
      return pos + 2 + data.length;
    }
    case T.Pair: return pos;
  }
}

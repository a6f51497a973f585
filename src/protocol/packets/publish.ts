/**
 * PUBLISH codec: the hand-written fast path (STYLE pattern 2). Pure; called from: worker.
 * Decoding allocates the result object, the topic string and the payload view, plus the properties
 * object when a v5 packet carries properties. Encoding computes the exact size and writes one buffer.
 *
 * Lifetime: the decoded payload (and Binary properties) are views of the frame: anything kept after the
 * synchronous handler (inflight, retained, persistence, cross-worker rings) must own a copy.
 */
import type { IPublishPacket } from 'mqtt-packet';
import { MqttProtocolError, ReasonCode, malformed, protocolError } from '../errors.ts';
import { PropertyKind, propertiesEnd, propertiesLength, readProperties, writeProperties } from '../properties.ts';
import type { ProtocolVersion } from '../mqttPacketCodec.ts';
import { MAX_STRING_BYTES, readMqttString } from '../utf8.ts';
import { MAX_TOPIC_SEPARATORS } from '../topic.ts';
import { varintSize, writeVarint } from '../varint.ts';

const PUBLISH = 0x30;
const DUP = 0x08;
const RETAIN = 0x01;
const PLUS = 0x2b;
const HASH = 0x23;
const NUL = 0x00;
const SLASH = 0x2f;

/** One encoded PUBLISH shared by every subscriber with the same layout. */
export interface EncodedPublish {
  readonly bytes: Buffer;
  /** offset of the 2-byte packet id in `bytes`; -1 for QoS 0 */
  readonly packetIdOffset: number;
}

/** Encodes one PUBLISH once for a (version, qos, retain, properties) layout; the caller copies `bytes` and
 *  writes the packet id at packetIdOffset per subscriber (writeUInt16BE) and may set DUP with bytes[0] |= 0x08.
 *  Throws a plain Error for arguments no valid PUBLISH can carry (a caller bug). */
export function encodePublish(topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean, dup: boolean,
    packetId: number, version: ProtocolVersion, properties?: IPublishPacket['properties']): EncodedPublish {
  const topicBytes = Buffer.byteLength(topic);
  if (topicBytes > MAX_STRING_BYTES) throw new Error(`topic of ${topicBytes} bytes is too long`);
  if (qos > 0 && !(packetId >= 1 && packetId <= 0xffff)) throw new Error(`invalid packet id ${packetId}`);
  let propsLength = 0;
  let remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + payload.length;
  if (version === 5) {
    propsLength = propertiesLength(properties);
    remaining += varintSize(propsLength) + propsLength;
  }
  const bytes = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining);
  bytes[0] = PUBLISH | (dup ? DUP : 0) | (qos << 1) | (retain ? RETAIN : 0);
  let pos = writeVarint(bytes, 1, remaining);
  bytes[pos] = topicBytes >> 8;
  bytes[pos + 1] = topicBytes & 0xff;
  pos += 2 + bytes.write(topic, pos + 2, 'utf8');
  let packetIdOffset = -1;
  if (qos > 0) {
    packetIdOffset = pos;
    bytes[pos] = packetId >> 8;
    bytes[pos + 1] = packetId & 0xff;
    pos += 2;
  }
  if (version === 5) pos = writeProperties(bytes, pos, properties, propsLength);
  payload.copy(bytes, pos);
  return { bytes, packetIdOffset };
}

/**
 * Decodes a PUBLISH frame (fixed header included); the payload is a view of `frame`.
 * Validates QoS 3 [MQTT-3.3.1-4], DUP on QoS 0 [MQTT-3.3.1-2], packet id 0 [MQTT-2.3.1-1], the topic
 * name's UTF-8 [MQTT-1.5.4-1/2], wildcards [MQTT-3.3.2-2], its depth (MAX_TOPIC_SEPARATORS), an empty topic
 * without a topic alias [MQTT-3.3.2-1], truncated fields and the v5 properties.
 */
export function decodePublish(frame: Buffer, bodyOffset: number, version: ProtocolVersion): IPublishPacket {
  const header = frame[0]!;
  const qos = (header >> 1) & 0x03;
  if (qos === 3) throw malformed('MQTT_ERR_QOS', 'PUBLISH with QoS 3', 'MQTT-3.3.1-4');
  const dup = (header & DUP) !== 0;
  if (dup && qos === 0) throw malformed('MQTT_ERR_DUP_QOS0', 'DUP set on a QoS 0 PUBLISH', 'MQTT-3.3.1-2');
  const end = frame.length;
  let pos = bodyOffset + 2;
  if (pos > end) throw malformed('MQTT_ERR_TRUNCATED', 'PUBLISH too short for a topic length');
  const topicEnd = pos + ((frame[pos - 2]! << 8) | frame[pos - 1]!);
  if (topicEnd > end) throw malformed('MQTT_ERR_TRUNCATED', 'topic name runs past the end of the PUBLISH');
  const topic = readTopic(frame, pos, topicEnd, version);
  pos = topicEnd;
  let messageId: number | undefined;
  if (qos > 0) {
    if (pos + 2 > end) throw malformed('MQTT_ERR_TRUNCATED', 'PUBLISH too short for a packet identifier');
    messageId = (frame[pos]! << 8) | frame[pos + 1]!;
    if (messageId === 0) throw protocolError('MQTT_ERR_PACKET_ID_ZERO', 'packet identifier 0', 'MQTT-2.3.1-1');
    pos += 2;
  }
  let properties: IPublishPacket['properties'];
  if (version === 5) {
    if (pos < end && frame[pos] === 0) {
      pos++; // empty property section, the common case
    } else {
      properties = readProperties(frame, pos, end, PropertyKind.Publish);
      pos = propertiesEnd;
    }
  }
  if (topic.length === 0 && properties?.topicAlias === undefined) { // [MQTT-3.3.2-1] [MQTT-4.7.3-1]
    throw protocolError('MQTT_ERR_TOPIC_EMPTY', 'empty topic name without a topic alias', 'MQTT-3.3.2-1');
  }
  return {
    cmd: 'publish',
    retain: (header & RETAIN) !== 0,
    qos: qos as 0 | 1 | 2,
    dup,
    length: end - bodyOffset,
    topic,
    payload: frame.subarray(pos, end),
    messageId,
    properties,
  };
}

/**
 * Reads the topic name in one pass over its bytes: U+0000, wildcards and level separators are found on
 * the bytes (UTF-8 never uses bytes below 0x80 inside a multi-byte sequence), and the full UTF-8 check
 * runs only when a non-ASCII byte is present. A topic deeper than MAX_TOPIC_SEPARATORS is a Protocol Error
 * (0x82), as Mosquitto 2.0.11 answers it (handle_publish.c, test/broker/03-publish-long-topic.py).
 */
function readTopic(frame: Buffer, start: number, end: number, version: ProtocolVersion): string {
  let seen = 0;
  let separators = 0;
  for (let i = start; i < end; i++) {
    const byte = frame[i]!;
    if (byte >= 0x80) seen |= 1;
    else if (byte === SLASH) separators++;
    else if (byte === PLUS || byte === HASH) seen |= 2;
    else if (byte === NUL) seen |= 4;
  }
  if ((seen & 4) !== 0) throw malformed('MQTT_ERR_UTF8', 'topic name contains U+0000', 'MQTT-1.5.4-2');
  // ASCII decodes the same as latin1, which skips the UTF-8 decoder
  const topic = (seen & 1) === 0 ? frame.toString('latin1', start, end) : readMqttString(frame, start, end);
  if (topic === undefined) throw malformed('MQTT_ERR_UTF8', 'topic name is not well-formed UTF-8', 'MQTT-1.5.4-1');
  if ((seen & 2) !== 0) {
    throw new MqttProtocolError(version === 5 ? ReasonCode.TopicNameInvalid : ReasonCode.ProtocolError,
      'MQTT_ERR_TOPIC_WILDCARD', 'wildcard in a topic name', 'MQTT-3.3.2-2');
  }
  if (separators > MAX_TOPIC_SEPARATORS) {
    throw protocolError('MQTT_ERR_TOPIC_DEPTH', `topic name with more than ${MAX_TOPIC_SEPARATORS + 1} levels`);
  }
  return topic;
}

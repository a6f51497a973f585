/**
 * Packet decoding entry points for the connection layer. Pure; called from: worker.
 * Input is one whole frame from the Framer; output uses mqtt-packet's packet types so the broker sees
 * one shape whichever path decoded it.
 */
import type { IConnectPacket, IPublishPacket, ISubscribePacket, IUnsubscribePacket, Packet } from 'mqtt-packet';
import { MqttProtocolError, ReasonCode, malformed, protocolError } from './errors.ts';
import { parseConnectWithMqttPacket, parseWithMqttPacket } from './mqttPacketCodec.ts';
import type { ProtocolVersion } from './mqttPacketCodec.ts';
import { isValidTopicName } from './topic.ts';

export type { ProtocolVersion } from './mqttPacketCodec.ts';

const TYPE_CONNECT = 1;
const TYPE_PUBLISH = 3;

/** Decodes a CONNECT (the first packet; version-independent). Validates protocol name/level
 *  (unknown level → UnsupportedProtocolVersion 0x84 with protocolVersion set to 4 so the answer is a
 *  v3 CONNACK code 1 [MQTT-3.1.2-2]; for level 5 packets errors carry protocolVersion 5), reserved flag
 *  [MQTT-3.1.2-3], will flags [MQTT-3.1.2-11..15], password without username in 3.1.1 [MQTT-3.1.2-22],
 *  UTF-8 of client id / username / will topic, will topic valid (no wildcards), properties.
 *  Throws MqttProtocolError. A non-CONNECT first packet is the caller's business. */
export function decodeConnect(frame: Buffer, bodyOffset: number): IConnectPacket {
  if (frame[0] !== TYPE_CONNECT << 4) {
    throw malformed('MQTT_ERR_HEADER_FLAGS', 'CONNECT fixed-header flags must be 0', 'MQTT-2.2.2-2');
  }
  const version = readConnectLevel(frame, bodyOffset);
  try {
    const packet = parseConnectWithMqttPacket(frame);
    if (packet.will !== undefined && !isValidTopicName(packet.will.topic)) {
      throw new MqttProtocolError(ReasonCode.TopicNameInvalid, 'MQTT_ERR_WILL_TOPIC', 'invalid will topic', 'MQTT-3.1.3-11');
    }
    return packet;
  } catch (error) {
    if (error instanceof MqttProtocolError) error.protocolVersion = version;
    throw error;
  }
}

/** Reads the protocol name and level of a CONNECT; throws when they are not one of
 *  MQIsdp/3, MQTT/4, MQTT/5 (the bridge bit 0x80 is accepted, as Mosquitto bridges set it). */
function readConnectLevel(frame: Buffer, bodyOffset: number): ProtocolVersion {
  const end = frame.length;
  if (bodyOffset + 2 > end) throw malformed('MQTT_ERR_TRUNCATED', 'CONNECT too short');
  const nameLength = frame.readUInt16BE(bodyOffset);
  const levelAt = bodyOffset + 2 + nameLength;
  if (levelAt >= end) throw malformed('MQTT_ERR_TRUNCATED', 'CONNECT too short');
  const name = frame.toString('latin1', bodyOffset + 2, levelAt);
  if (name !== 'MQTT' && name !== 'MQIsdp') {
    throw protocolError('MQTT_ERR_PROTOCOL_NAME', `unknown protocol name ${JSON.stringify(name)}`, 'MQTT-3.1.2-1');
  }
  const level = frame[levelAt]! & 0x7f;
  if ((name === 'MQTT' && (level === 4 || level === 5)) || (name === 'MQIsdp' && level === 3)) return level;
  const error = new MqttProtocolError(ReasonCode.UnsupportedProtocolVersion, 'MQTT_ERR_PROTOCOL_VERSION',
    `unsupported protocol level ${level} for ${name}`, 'MQTT-3.1.2-2');
  error.protocolVersion = 4;
  throw error;
}

/** Decodes any packet other than CONNECT for a connection at `version`. PUBLISH and PUBACK/PUBREC/
 *  PUBREL/PUBCOMP take the hand-written fast path; the rest go through mqtt-packet.
 *  The PUBLISH payload is a view of `frame` (no copy). Malformed → 0x81, protocol violations → 0x82. */
export function decodePacket(frame: Buffer, bodyOffset: number, version: ProtocolVersion): Packet {
  void bodyOffset;
  const type = frame[0]! >> 4;
  if (type === TYPE_CONNECT) throw protocolError('MQTT_ERR_SECOND_CONNECT', 'second CONNECT', 'MQTT-3.1.0-2');
  if (type === TYPE_PUBLISH && (frame[0]! & 0x0e) === 0x08) {
    throw malformed('MQTT_ERR_DUP_QOS0', 'DUP set on a QoS 0 PUBLISH', 'MQTT-3.3.1-2');
  }
  const packet = parseWithMqttPacket(frame, version);
  switch (packet.cmd) {
    case 'publish': checkPublish(packet, version); break;
    case 'subscribe': checkSubscribe(packet); break;
    case 'unsubscribe': checkUnsubscribe(packet); break;
    default: break;
  }
  if (packet.messageId === 0) throw malformed('MQTT_ERR_PACKET_ID_ZERO', 'packet identifier 0', 'MQTT-2.3.1-1');
  return packet;
}

function checkPublish(packet: IPublishPacket, version: ProtocolVersion): void {
  if (packet.topic === '' && (version !== 5 || packet.properties?.topicAlias === undefined)) {
    throw protocolError('MQTT_ERR_TOPIC_EMPTY', 'empty topic name without a topic alias', 'MQTT-3.3.2-1');
  }
  if (packet.topic !== '' && !isValidTopicName(packet.topic)) {
    throw new MqttProtocolError(version === 5 ? ReasonCode.TopicNameInvalid : ReasonCode.MalformedPacket,
      'MQTT_ERR_TOPIC_NAME', 'invalid topic name', 'MQTT-3.3.2-2');
  }
}

function checkSubscribe(packet: ISubscribePacket): void {
  if (packet.subscriptions.length === 0) throw protocolError('MQTT_ERR_SUBSCRIBE_EMPTY', 'SUBSCRIBE without filters', 'MQTT-3.8.3-3');
}

function checkUnsubscribe(packet: IUnsubscribePacket): void {
  if (packet.unsubscriptions.length === 0) throw protocolError('MQTT_ERR_UNSUBSCRIBE_EMPTY', 'UNSUBSCRIBE without filters', 'MQTT-3.10.3-2');
}

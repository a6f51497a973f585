/**
 * CONNECT decoding: one validating walk over the bytes that builds mqtt-packet's IConnectPacket shape
 * (mqtt-packet's own parser tolerates what the spec forbids — trailing bytes, ill-formed UTF-8, repeated
 * or misplaced properties — and copies every field through a BufferList). Pure; called from: worker.
 */
import type { IConnectPacket } from 'mqtt-packet';
import { MqttProtocolError, ReasonCode, malformed, protocolError } from '../errors.ts';
import type { ProtocolVersion } from '../mqttPacketCodec.ts';
import { PropertyKind } from '../properties.ts';
import type { Properties } from '../properties.ts';
import { FieldReader } from '../reader.ts';
import { isValidTopicName } from '../topic.ts';

const CONNECT_FIRST_BYTE = 0x10;
const FLAG_RESERVED = 0x01;
const FLAG_CLEAN = 0x02;
const FLAG_WILL = 0x04;
const FLAG_WILL_QOS = 0x18;
const FLAG_WILL_RETAIN = 0x20;
const FLAG_PASSWORD = 0x40;
const FLAG_USERNAME = 0x80;
const BRIDGE_BIT = 0x80;

/** Decodes a CONNECT (the first packet; version-independent). Validates protocol name/level
 *  (unknown level → UnsupportedProtocolVersion 0x84 with protocolVersion set to 4 so the answer is a
 *  v3 CONNACK code 1 [MQTT-3.1.2-2]; for level 5 packets errors carry protocolVersion 5), reserved flag
 *  [MQTT-3.1.2-3], will flags [MQTT-3.1.2-11..15], password without username in 3.1.1 [MQTT-3.1.2-22],
 *  UTF-8 of client id / username / will topic, will topic valid (no wildcards), properties.
 *  Also: an empty client id with CleanSession 0 in 3.1.1 [MQTT-3.1.3-8] or any empty client id in 3.1
 *  is ClientIdentifierNotValid (0x85); client ids longer than 3.1's 23 bytes are accepted, as Mosquitto does.
 *  The bridge bit (0x80) of the level is accepted (Mosquitto bridges set it). Throws MqttProtocolError. A non-CONNECT first packet is the caller's business. */
export function decodeConnect(frame: Buffer, bodyOffset: number): IConnectPacket {
  if (frame[0] !== CONNECT_FIRST_BYTE) {
    throw malformed('MQTT_ERR_HEADER_FLAGS', 'CONNECT fixed-header flags must be 0', 'MQTT-2.2.2-2');
  }
  const reader = new FieldReader(frame, bodyOffset);
  const version = readProtocolLevel(reader);
  const bridge = (frame[reader.pos - 1]! & BRIDGE_BIT) !== 0;
  try {
    const packet = readConnect(reader, version);
    // a Mosquitto bridge (try_private): mqtt-packet's own parser names it the same way
    if (bridge) (packet as IConnectPacket & { bridgeMode?: boolean }).bridgeMode = true;
    return packet;
  } catch (error) {
    if (error instanceof MqttProtocolError) error.protocolVersion = version;
    throw error;
  }
}

/** the protocol names' bytes, big-endian: "MQTT", and "MQIsdp" as "MQIs" + "dp" */
const MQTT_NAME = 0x4d515454;
const MQIS_NAME = 0x4d514973;
const DP_NAME = 0x6470;

/** Reads the protocol name and level; throws unless they are MQIsdp/3, MQTT/4 or MQTT/5. */
function readProtocolLevel(reader: FieldReader): ProtocolVersion {
  const nameLength = reader.u16('protocol name');
  if (reader.left < nameLength + 1) throw malformed('MQTT_ERR_TRUNCATED', 'CONNECT too short for the protocol name and level');
  const frame = reader.frame;
  const at = reader.pos;
  // compared as bytes: no string made for every CONNECT
  const mqtt = nameLength === 4 && frame.readUInt32BE(at) === MQTT_NAME;
  const mqisdp = nameLength === 6 && frame.readUInt32BE(at) === MQIS_NAME && frame.readUInt16BE(at + 4) === DP_NAME;
  reader.pos += nameLength;
  if (!mqtt && !mqisdp) {
    // [MQTT-3.1.2-1] the server MAY disconnect: no CONNACK, since the protocol is not known to be MQTT
    const name = frame.toString('latin1', at, at + nameLength);
    throw protocolError('MQTT_ERR_PROTOCOL_NAME', `unknown protocol name ${JSON.stringify(name)}`, 'MQTT-3.1.2-1');
  }
  const level = reader.u8('protocol level') & ~BRIDGE_BIT;
  if ((mqtt && (level === 4 || level === 5)) || (mqisdp && level === 3)) return level;
  const name = mqtt ? 'MQTT' : 'MQIsdp';
  const error = new MqttProtocolError(ReasonCode.UnsupportedProtocolVersion, 'MQTT_ERR_PROTOCOL_VERSION',
    `unsupported protocol level ${level} for ${name}`, 'MQTT-3.1.2-2');
  error.protocolVersion = 4;
  throw error;
}

/**
 * Reads the CONNECT after the protocol level into the packet object. The will payload and the
 * password are views of the frame: the will is copied by willFromConnect, the password is read
 * before the frame's chunk can be reused.
 */
function readConnect(reader: FieldReader, version: ProtocolVersion): IConnectPacket {
  const flags = reader.u8('connect flags');
  if ((flags & FLAG_RESERVED) !== 0) throw malformed('MQTT_ERR_CONNECT_RESERVED', 'reserved connect flag set', 'MQTT-3.1.2-3');
  const will = (flags & FLAG_WILL) !== 0;
  const willQos = (flags & FLAG_WILL_QOS) >> 3;
  if (!will) {
    if (willQos !== 0) throw malformed('MQTT_ERR_WILL_FLAGS', 'will QoS set without a will', 'MQTT-3.1.2-13');
    if ((flags & FLAG_WILL_RETAIN) !== 0) throw malformed('MQTT_ERR_WILL_FLAGS', 'will retain set without a will', 'MQTT-3.1.2-15');
  } else if (willQos === 3) {
    throw malformed('MQTT_ERR_WILL_FLAGS', 'will QoS 3', 'MQTT-3.1.2-14');
  }
  const hasUsername = (flags & FLAG_USERNAME) !== 0;
  const hasPassword = (flags & FLAG_PASSWORD) !== 0;
  if (version !== 5 && hasPassword && !hasUsername) {
    throw protocolError('MQTT_ERR_PASSWORD_WITHOUT_USERNAME', 'password flag set without the user name flag', 'MQTT-3.1.2-22');
  }
  const keepalive = reader.u16('keep alive');
  let properties: Properties | undefined;
  if (version === 5) {
    properties = reader.properties(PropertyKind.Connect);
    if (properties?.authenticationData !== undefined && properties.authenticationMethod === undefined) {
      throw protocolError('MQTT_ERR_AUTH_DATA_WITHOUT_METHOD', 'authentication data without an authentication method');
    }
  }
  const clientId = reader.string('client identifier', 'MQTT-3.1.3-4');
  if (clientId === '' && (version === 3 || (version === 4 && (flags & FLAG_CLEAN) === 0))) {
    throw new MqttProtocolError(ReasonCode.ClientIdentifierNotValid, 'MQTT_ERR_CLIENT_ID',
      version === 3 ? 'empty client identifier (MQTT 3.1)' : 'empty client identifier without a clean session',
      version === 3 ? undefined : 'MQTT-3.1.3-8');
  }
  const packet: IConnectPacket = {
    cmd: 'connect',
    protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: version,
    clean: (flags & FLAG_CLEAN) !== 0,
    keepalive,
    clientId,
  };
  if (properties !== undefined) packet.properties = properties;
  if (will) {
    const willProperties = version === 5 ? reader.properties(PropertyKind.Will) : undefined;
    const topic = reader.string('will topic', 'MQTT-3.1.3-10');
    if (!isValidTopicName(topic)) {
      throw new MqttProtocolError(version === 5 ? ReasonCode.TopicNameInvalid : ReasonCode.ProtocolError,
        'MQTT_ERR_WILL_TOPIC', 'will topic is not a valid topic name', 'MQTT-4.7.1-1');
    }
    const payload = reader.binary('will payload');
    packet.will = { topic, payload, qos: willQos as 0 | 1 | 2, retain: (flags & FLAG_WILL_RETAIN) !== 0 };
    if (willProperties !== undefined) packet.will.properties = willProperties;
  }
  if (hasUsername) packet.username = reader.string('user name', 'MQTT-3.1.3-11');
  if (hasPassword) packet.password = reader.binary('password');
  reader.expectEnd('CONNECT payload');
  return packet;
}

/**
 * SUBSCRIBE and UNSUBSCRIBE decoding: a validating walk over the bytes, then mqtt-packet builds the
 * packet object. Filter syntax is NOT checked here: an invalid filter is answered per filter by the
 * broker (SUBACK 0x8F / 0x80), which calls isValidTopicFilter. A filter deeper than
 * MAX_TOPIC_SEPARATORS is a Malformed Packet here, as in Mosquitto 2.0.11 (handle_subscribe.c:
 * "Invalid subscription string … disconnecting"), so a client cannot make the topic tree arbitrarily
 * deep. Pure; called from: worker.
 */
import type { ISubscribePacket, IUnsubscribePacket } from 'mqtt-packet';
import { malformed, protocolError } from '../errors.ts';
import { parseWithMqttPacket } from '../mqttPacketCodec.ts';
import type { ProtocolVersion } from '../mqttPacketCodec.ts';
import { PropertyKind } from '../properties.ts';
import type { Properties } from '../properties.ts';
import { FieldReader } from '../reader.ts';
import { MAX_TOPIC_SEPARATORS, parseSharedFilter, tooDeep } from '../topic.ts';

const V3_OPTION_RESERVED = 0xfc;
const V5_OPTION_RESERVED = 0xc0;
const OPTION_NO_LOCAL = 0x04;

/** Decodes a SUBSCRIBE (fixed-header flags already checked). Validates packet id 0 [MQTT-2.3.1-1], the
 *  filter depth, an
 *  empty filter list [MQTT-3.8.3-3], filter UTF-8 [MQTT-3.8.3-1], reserved option bits [MQTT-3.8.3-5]
 *  (v3: [MQTT-3-8.3-4]), QoS 3, retain handling 3, No Local on a shared subscription [MQTT-3.8.3-4]
 *  and the v5 properties. */
export function decodeSubscribe(frame: Buffer, bodyOffset: number, version: ProtocolVersion): ISubscribePacket {
  const reader = new FieldReader(frame, bodyOffset);
  readPacketId(reader);
  const properties = version === 5 ? reader.properties(PropertyKind.Subscribe) : undefined;
  if (reader.left === 0) throw protocolError('MQTT_ERR_SUBSCRIBE_EMPTY', 'SUBSCRIBE without topic filters', 'MQTT-3.8.3-3');
  while (reader.left > 0) {
    const filter = reader.string('topic filter', 'MQTT-3.8.3-1');
    checkDepth(filter);
    const options = reader.u8('subscription options');
    checkOptions(options, filter, version);
  }
  const packet = parseWithMqttPacket(frame, version) as ISubscribePacket;
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function checkOptions(options: number, filter: string, version: ProtocolVersion): void {
  if ((options & (version === 5 ? V5_OPTION_RESERVED : V3_OPTION_RESERVED)) !== 0) {
    throw malformed('MQTT_ERR_SUBSCRIPTION_OPTIONS', 'reserved subscription option bits set',
      version === 5 ? 'MQTT-3.8.3-5' : 'MQTT-3-8.3-4');
  }
  if ((options & 0x03) === 3) throw malformed('MQTT_ERR_QOS', 'subscription with QoS 3');
  if (version !== 5) return;
  if (((options >> 4) & 0x03) === 3) throw protocolError('MQTT_ERR_RETAIN_HANDLING', 'retain handling 3');
  if ((options & OPTION_NO_LOCAL) !== 0 && parseSharedFilter(filter) !== undefined) {
    throw protocolError('MQTT_ERR_SHARED_NO_LOCAL', 'No Local set on a shared subscription', 'MQTT-3.8.3-4');
  }
}

/** Decodes an UNSUBSCRIBE (fixed-header flags already checked). Validates packet id 0, the filter depth, an empty filter
 *  list [MQTT-3.10.3-2], filter UTF-8 [MQTT-3.10.3-1] and the v5 properties. */
export function decodeUnsubscribe(frame: Buffer, bodyOffset: number, version: ProtocolVersion): IUnsubscribePacket {
  const reader = new FieldReader(frame, bodyOffset);
  readPacketId(reader);
  const properties: Properties | undefined = version === 5 ? reader.properties(PropertyKind.Unsubscribe) : undefined;
  if (reader.left === 0) throw protocolError('MQTT_ERR_UNSUBSCRIBE_EMPTY', 'UNSUBSCRIBE without topic filters', 'MQTT-3.10.3-2');
  while (reader.left > 0) checkDepth(reader.string('topic filter', 'MQTT-3.10.3-1'));
  const packet = parseWithMqttPacket(frame, version) as IUnsubscribePacket;
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function checkDepth(filter: string): void {
  if (tooDeep(filter)) throw malformed('MQTT_ERR_TOPIC_DEPTH', `topic filter with more than ${MAX_TOPIC_SEPARATORS + 1} levels`);
}

/** Packet id 0 [MQTT-2.3.1-1]: a Malformed Packet (0x81), as Mosquitto 2.0.11 answers it in SUBSCRIBE and
 *  UNSUBSCRIBE (handle_subscribe.c, handle_unsubscribe.c). */
function readPacketId(reader: FieldReader): void {
  if (reader.u16('packet identifier') === 0) {
    throw malformed('MQTT_ERR_PACKET_ID_ZERO', 'packet identifier 0', 'MQTT-2.3.1-1');
  }
}

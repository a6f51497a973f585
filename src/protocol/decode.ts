/**
 * Packet decoding entry points for the connection layer. Pure; called from: worker.
 * Input is one whole frame from the Framer; output uses mqtt-packet's packet types so the broker sees
 * one shape whichever path decoded it.
 */
import type { Packet } from 'mqtt-packet';
import { malformed, protocolError } from './errors.ts';
import { parseWithMqttPacket } from './mqttPacketCodec.ts';
import type { ProtocolVersion } from './mqttPacketCodec.ts';
import { decodeAck } from './packets/ack.ts';
import { decodeAuth, decodeDisconnect } from './packets/disconnect.ts';
import { decodePublish } from './packets/publish.ts';
import { decodeSubscribe, decodeUnsubscribe } from './packets/subscribe.ts';

export type { ProtocolVersion } from './mqttPacketCodec.ts';
export { decodeConnect } from './packets/connect.ts';

/** Required fixed-header flags per packet type [MQTT-2.2.2-1]; -1 = PUBLISH (flags carry DUP/QoS/RETAIN). */
const REQUIRED_FLAGS = [0, 0, 0, -1, 0, 0, 0b0010, 0, 0b0010, 0, 0b0010, 0, 0, 0, 0, 0];

/** MQTT 3.1 sets DUP on a re-sent PUBREL, SUBSCRIBE or UNSUBSCRIBE (3.1 spec 2.1; Mosquitto 2.0.11 does not
 *  check these flags for 3.1 at all): accepted on top of their 0010, and cleared in the frame (the broker has
 *  no use for it, and mqtt-packet, which builds SUBSCRIBE, refuses it) */
const DUP = 0b1000;
const TYPE_RESERVED = 0;
const TYPE_CONNECT = 1;
const TYPE_PUBLISH = 3;
const TYPE_PUBCOMP = 7;
const TYPE_SUBSCRIBE = 8;
const TYPE_UNSUBSCRIBE = 10;
const TYPE_PINGREQ = 12;
const TYPE_PINGRESP = 13;
const TYPE_DISCONNECT = 14;
const TYPE_AUTH = 15;

/** Decodes any packet other than CONNECT for a connection at `version`. PUBLISH and PUBACK/PUBREC/
 *  PUBREL/PUBCOMP take the hand-written fast path; SUBSCRIBE/UNSUBSCRIBE are validated by hand and built
 *  by mqtt-packet; DISCONNECT/AUTH/PINGREQ are hand-written; CONNACK/SUBACK/UNSUBACK/PINGRESP (received
 *  only by a bridge) go through mqtt-packet with its own checks.
 *  The PUBLISH payload is a view of `frame` (no copy). Validates: fixed-header flags per type
 *  [MQTT-2.2.2-1/2] (MQTT 3.1 may add DUP to PUBREL/SUBSCRIBE/UNSUBSCRIBE: see DUP), PUBLISH QoS 3
 *  [MQTT-3.3.1-4], DUP with QoS 0 [MQTT-3.3.1-2], packet id 0 [MQTT-2.3.1-1], topic names [MQTT-1.5.4-1/2]
 *  [MQTT-3.3.2-1/2], empty SUBSCRIBE [MQTT-3.8.3-3] /
 *  UNSUBSCRIBE [MQTT-3.10.3-2], subscription options [MQTT-3.8.3-5], retain handling 3, truncated fields
 *  and trailing bytes, v5 properties (repeated, unknown, not allowed in the packet, out of range).
 *  A second CONNECT is a Protocol Error [MQTT-3.1.0-2]. Malformed → 0x81, protocol violations → 0x82. */
export function decodePacket(frame: Buffer, bodyOffset: number, version: ProtocolVersion): Packet {
  const first = frame[0]!;
  const type = first >> 4;
  if (type === TYPE_PUBLISH) return decodePublish(frame, bodyOffset, version);
  const flags = first & 0x0f;
  if (version === 3 && flags === (0b0010 | DUP) && REQUIRED_FLAGS[type] === 0b0010) {
    frame[0] = first & ~DUP;
  } else if (flags !== REQUIRED_FLAGS[type]) {
    throw malformed('MQTT_ERR_HEADER_FLAGS', `invalid fixed-header flags 0x${(first & 0x0f).toString(16)} for packet type ${type}`, 'MQTT-2.2.2-2');
  }
  if (type > TYPE_PUBLISH && type <= TYPE_PUBCOMP) return decodeAck(frame, bodyOffset, version);
  switch (type) {
    case TYPE_SUBSCRIBE: return decodeSubscribe(frame, bodyOffset, version);
    case TYPE_UNSUBSCRIBE: return decodeUnsubscribe(frame, bodyOffset, version);
    case TYPE_PINGREQ:
    case TYPE_PINGRESP:
      if (frame.length !== bodyOffset) throw malformed('MQTT_ERR_TRAILING_BYTES', 'PINGREQ/PINGRESP with a body');
      return type === TYPE_PINGREQ ? { cmd: 'pingreq' } : { cmd: 'pingresp' };
    case TYPE_DISCONNECT: return decodeDisconnect(frame, bodyOffset, version);
    case TYPE_AUTH: return decodeAuth(frame, bodyOffset, version);
    case TYPE_CONNECT: throw protocolError('MQTT_ERR_SECOND_CONNECT', 'second CONNECT', 'MQTT-3.1.0-2');
    case TYPE_RESERVED: throw malformed('MQTT_ERR_PACKET_TYPE', 'reserved packet type 0', 'MQTT-2.2.2-2');
    default: return parseWithMqttPacket(frame, version);
  }
}

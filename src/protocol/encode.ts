/**
 * Packet encoding entry point. Pure; called from: worker.
 */
import type { Packet } from 'mqtt-packet';
import { generateWithMqttPacket } from './mqttPacketCodec.ts';
import type { ProtocolVersion } from './mqttPacketCodec.ts';
import { encodeAckPacket } from './packets/ack.ts';
import { encodePublish } from './packets/publish.ts';

/** Encodes any packet for `version` into one Buffer (exact size computed first). PUBLISH and the
 *  four acks use the fast path; the rest use mqtt-packet's generate(). Throws a plain Error for a
 *  packet object no valid packet can represent (a caller bug). */
export function encodePacket(packet: Packet, version: ProtocolVersion): Buffer {
  switch (packet.cmd) {
    case 'publish': {
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      return encodePublish(packet.topic, payload, packet.qos, packet.retain, packet.dup, packet.messageId ?? 0,
        version, packet.properties).bytes;
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return encodeAckPacket(packet.cmd, packet.messageId ?? 0, version, packet.reasonCode ?? 0, packet.properties);
    default:
      return generateWithMqttPacket(packet, version);
  }
}

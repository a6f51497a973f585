/**
 * Packet encoding entry point. Pure; called from: worker.
 */
import type { Packet } from 'mqtt-packet';
import { generateWithMqttPacket } from './mqttPacketCodec.ts';
import type { ProtocolVersion } from './mqttPacketCodec.ts';

/** Encodes any packet for `version` into one Buffer (exact size computed first). PUBLISH and the
 *  four acks use the fast path; the rest use mqtt-packet's generate(). */
export function encodePacket(packet: Packet, version: ProtocolVersion): Buffer {
  return generateWithMqttPacket(packet, version);
}

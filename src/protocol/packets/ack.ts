/**
 * PUBACK / PUBREC / PUBREL / PUBCOMP codec (stage 1: wraps mqtt-packet). Pure; called from: worker.
 */
import type { IPubackPacket } from 'mqtt-packet';
import { generateWithMqttPacket } from '../mqttPacketCodec.ts';
import type { ProtocolVersion } from '../mqttPacketCodec.ts';

/** The four publish acknowledgement packet types. */
export type AckCmd = 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';

/** Encodes an acknowledgement; on v5 the reason code and reason string are included when needed
 *  (short form when the reason is 0 and there are no properties [MQTT-3.4.2-1]). */
export function encodeAck(cmd: AckCmd, packetId: number, version: ProtocolVersion, reasonCode?: number, reasonString?: string): Buffer {
  const packet = { cmd, messageId: packetId, reasonCode: reasonCode ?? 0 } as IPubackPacket;
  if (reasonString !== undefined) packet.properties = { reasonString };
  return generateWithMqttPacket(packet, version);
}

/**
 * PUBLISH codec (stage 1: wraps mqtt-packet). Pure; called from: worker.
 */
import type { IPublishPacket } from 'mqtt-packet';
import { generateWithMqttPacket, parseWithMqttPacket } from '../mqttPacketCodec.ts';
import type { ProtocolVersion } from '../mqttPacketCodec.ts';

/** One encoded PUBLISH shared by every subscriber with the same layout. */
export interface EncodedPublish {
  readonly bytes: Buffer;
  /** offset of the 2-byte packet id in `bytes`; -1 for QoS 0 */
  readonly packetIdOffset: number;
}

/** Encodes one PUBLISH once for a (version, qos, retain, properties) layout; the caller copies `bytes` and
 *  writes the packet id at packetIdOffset per subscriber (writeUInt16BE) and may set DUP with bytes[0] |= 0x08. */
export function encodePublish(topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean, dup: boolean,
    packetId: number, version: ProtocolVersion, properties?: IPublishPacket['properties']): EncodedPublish {
  const packet: IPublishPacket = { cmd: 'publish', topic, payload, qos, retain, dup, messageId: packetId };
  if (properties !== undefined) packet.properties = properties;
  const bytes = generateWithMqttPacket(packet, version);
  let packetIdOffset = -1;
  if (qos > 0) {
    let i = 1;
    while ((bytes[i]! & 0x80) !== 0) i++;
    packetIdOffset = i + 1 + 2 + Buffer.byteLength(topic);
  }
  return { bytes, packetIdOffset };
}

/** Decodes a PUBLISH frame; the payload is a view of `frame`. */
export function decodePublish(frame: Buffer, bodyOffset: number, version: ProtocolVersion): IPublishPacket {
  void bodyOffset;
  return parseWithMqttPacket(frame, version) as IPublishPacket;
}

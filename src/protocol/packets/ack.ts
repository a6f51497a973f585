/**
 * PUBACK / PUBREC / PUBREL / PUBCOMP codec: the hand-written fast path. Pure; called from: worker.
 */
import type { IPubackPacket, IPubcompPacket, IPubrecPacket, IPubrelPacket } from 'mqtt-packet';
import { malformed, protocolError } from '../errors.ts';
import { PropertyKind, propertiesEnd, propertiesLength, readProperties, writeProperties } from '../properties.ts';
import type { Properties } from '../properties.ts';
import type { ProtocolVersion } from '../mqttPacketCodec.ts';
import { varintSize, writeVarint } from '../varint.ts';

/** The four publish acknowledgement packet types. */
export type AckCmd = 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';
/** A decoded acknowledgement. */
export type AckPacket = IPubackPacket | IPubrecPacket | IPubrelPacket | IPubcompPacket;

/** First byte per packet type 4..7; PUBREL's fixed-header flags are 0b0010 [MQTT-3.6.1-1]. */
const FIRST_BYTE: Readonly<Record<AckCmd, number>> = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 };
const CMD_BY_TYPE: readonly (AckCmd | undefined)[] = [undefined, undefined, undefined, undefined, 'puback', 'pubrec', 'pubrel', 'pubcomp'];

/** Reason codes allowed in PUBACK/PUBREC (spec 3.4.2.1) and in PUBREL/PUBCOMP (3.6.2.1). */
const PUBACK_REASONS = new Set([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]);
const PUBREL_REASONS = new Set([0x00, 0x92]);

/** Encodes an acknowledgement as the broker sends it: no properties, so never a Reason String (widely used
 *  v5 clients reject acks that carry properties; Mosquitto sends none). On v5 the short form (remaining
 *  length 2) is used for reason 0 [MQTT-3.4.2-1], else the reason code without a Property Length
 *  (remaining length 3). */
export function encodeAck(cmd: AckCmd, packetId: number, version: ProtocolVersion, reasonCode?: number): Buffer {
  return encodeAckPacket(cmd, packetId, version, reasonCode ?? 0, undefined);
}

/** encodeAck with any v5 ack properties (reasonString, userProperties); ignored before v5. */
export function encodeAckPacket(cmd: AckCmd, packetId: number, version: ProtocolVersion, reasonCode: number,
    properties: Properties | undefined): Buffer {
  if (!(packetId >= 1 && packetId <= 0xffff)) throw new Error(`invalid packet id ${packetId}`);
  let remaining = 2;
  let propsLength = 0;
  if (version === 5) {
    propsLength = propertiesLength(properties);
    if (propsLength > 0) remaining = 3 + varintSize(propsLength) + propsLength;
    else if (reasonCode !== 0) remaining = 3;
  }
  const bytes = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining);
  bytes[0] = FIRST_BYTE[cmd];
  let pos = writeVarint(bytes, 1, remaining);
  bytes[pos] = packetId >> 8;
  bytes[pos + 1] = packetId & 0xff;
  pos += 2;
  if (remaining > 2) bytes[pos++] = reasonCode;
  if (propsLength > 0) writeProperties(bytes, pos, properties, propsLength);
  return bytes;
}

/**
 * Decodes PUBACK, PUBREC, PUBREL or PUBCOMP (fixed-header flags already checked by the caller).
 * v3/v4: remaining length exactly 2. v5: remaining length 2 means reason 0 [MQTT-3.4.2-1]; 3 = reason
 * code without properties; more = reason code + properties. Packet id 0 and reason codes the packet type
 * does not allow are Protocol Errors.
 */
export function decodeAck(frame: Buffer, bodyOffset: number, version: ProtocolVersion): AckPacket {
  const cmd = CMD_BY_TYPE[frame[0]! >> 4]!;
  const end = frame.length;
  const remaining = end - bodyOffset;
  if (remaining < 2 || (version !== 5 && remaining !== 2)) {
    throw malformed('MQTT_ERR_ACK_LENGTH', `${cmd} with remaining length ${remaining}`);
  }
  const messageId = (frame[bodyOffset]! << 8) | frame[bodyOffset + 1]!;
  if (messageId === 0) throw protocolError('MQTT_ERR_PACKET_ID_ZERO', 'packet identifier 0', 'MQTT-2.3.1-1');
  if (version !== 5) return { cmd, messageId, length: remaining } as AckPacket;
  let reasonCode = 0;
  let properties: AckPacket['properties'];
  if (remaining > 2) {
    reasonCode = frame[bodyOffset + 2]!;
    const allowed = cmd === 'puback' || cmd === 'pubrec' ? PUBACK_REASONS : PUBREL_REASONS;
    if (!allowed.has(reasonCode)) {
      throw protocolError('MQTT_ERR_REASON_CODE', `reason code 0x${reasonCode.toString(16)} not allowed in ${cmd}`);
    }
    if (remaining > 3) {
      properties = readProperties(frame, bodyOffset + 3, end, PropertyKind.Ack);
      if (propertiesEnd !== end) throw malformed('MQTT_ERR_TRAILING_BYTES', `bytes after the properties of ${cmd}`);
    }
  }
  return { cmd, messageId, length: remaining, reasonCode, properties } as AckPacket;
}

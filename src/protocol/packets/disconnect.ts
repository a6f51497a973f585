/**
 * DISCONNECT and AUTH decoding (hand-written: mqtt-packet rejects the valid zero-length AUTH), and the
 * DISCONNECT the server sends. Pure; called from: worker.
 */
import type { IAuthPacket, IDisconnectPacket } from 'mqtt-packet';
import { malformed, protocolError } from '../errors.ts';
import type { ProtocolVersion } from '../mqttPacketCodec.ts';
import { PropertyKind, propertiesLength, writeProperties } from '../properties.ts';
import { FieldReader } from '../reader.ts';
import { varintSize, writeVarint } from '../varint.ts';

const DISCONNECT_FIRST_BYTE = 0xe0;

/** Encodes a server DISCONNECT in Mosquitto's shape (send_disconnect.c): 3.1/3.1.1 `e0 00`; v5 with reason 0
 *  and no Reason String `e0 00`, with a reason code only `e0 01 RC` (the Property Length left out, as
 *  [MQTT-3.14.2-1] allows), with a Reason String the code and the properties. */
export function encodeDisconnect(version: ProtocolVersion, reasonCode: number, reasonString?: string): Buffer {
  if (version !== 5 || (reasonCode === 0 && reasonString === undefined)) return Buffer.from([DISCONNECT_FIRST_BYTE, 0]);
  const properties = reasonString === undefined ? undefined : { reasonString };
  const propsLength = propertiesLength(properties);
  const remaining = properties === undefined ? 1 : 1 + varintSize(propsLength) + propsLength;
  const bytes = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining);
  bytes[0] = DISCONNECT_FIRST_BYTE;
  const pos = writeVarint(bytes, 1, remaining);
  bytes[pos] = reasonCode;
  if (properties !== undefined) writeProperties(bytes, pos + 1, properties, propsLength);
  return bytes;
}

/** Reason codes a DISCONNECT may carry (spec 3.14.2.1). */
const DISCONNECT_REASONS = new Set([
  0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97,
  0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
]);
/** Reason codes an AUTH may carry (spec 3.15.2.1). */
const AUTH_REASONS = new Set([0x00, 0x18, 0x19]);

/** Decodes a DISCONNECT. v3/v4: remaining length 0. v5: 0 = reason 0, 1 = reason code only, more =
 *  reason code + properties; a reason code DISCONNECT does not define is a Protocol Error. */
export function decodeDisconnect(frame: Buffer, bodyOffset: number, version: ProtocolVersion): IDisconnectPacket {
  const reader = new FieldReader(frame, bodyOffset);
  if (version !== 5) {
    reader.expectEnd('DISCONNECT header');
    return { cmd: 'disconnect', length: 0 };
  }
  const packet: IDisconnectPacket = { cmd: 'disconnect', length: reader.left, reasonCode: 0 };
  readReasonAndProperties(reader, packet, DISCONNECT_REASONS, PropertyKind.Disconnect);
  return packet;
}

/** Decodes an AUTH (v5 only; on v3/v4 type 15 is reserved, so a Malformed Packet). Remaining length 0
 *  means reason 0 without properties. */
export function decodeAuth(frame: Buffer, bodyOffset: number, version: ProtocolVersion): IAuthPacket {
  if (version !== 5) throw malformed('MQTT_ERR_PACKET_TYPE', 'AUTH before MQTT 5', 'MQTT-2.2.2-2');
  const reader = new FieldReader(frame, bodyOffset);
  const packet: IAuthPacket = { cmd: 'auth', length: reader.left, reasonCode: 0 };
  readReasonAndProperties(reader, packet, AUTH_REASONS, PropertyKind.Auth);
  return packet;
}

/** Reads the optional reason code and properties of a v5 DISCONNECT or AUTH into `packet`
 *  (nothing left = reason 0 without properties). */
function readReasonAndProperties(reader: FieldReader, packet: IDisconnectPacket | IAuthPacket,
    allowed: ReadonlySet<number>, kind: number): void {
  if (reader.left === 0) return;
  const reason = reader.u8('reason code');
  if (!allowed.has(reason)) {
    throw protocolError('MQTT_ERR_REASON_CODE', `reason code 0x${reason.toString(16)} not allowed in ${packet.cmd}`);
  }
  packet.reasonCode = reason;
  if (reader.left === 0) return;
  const properties = reader.properties(kind);
  if (properties !== undefined) packet.properties = properties;
  reader.expectEnd(`${packet.cmd} properties`);
}

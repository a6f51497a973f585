import { encodePublish } from '../protocol/packets/publish.ts';
import type { ProtocolVersion } from '../protocol/decode.ts';
import { encodedLayout, keepEncoded, remainingExpiry, type Message } from '../model/message.ts';
import { varintSize } from '../protocol/varint.ts';
import type { Delivery } from '../model/delivery.ts';

/**
 * Turns a Delivery into PUBLISH bytes. A message is encoded once per layout — (v5 or not, QoS,
 * retain) — and the bytes are shared by every subscriber with that layout; only the packet id
 * (and DUP) differ: the first QoS > 0 delivery's bytes are the template, the others patch a copy
 * (STYLE pattern 7). Invariant: a template is never written to after it is kept. Deliveries with
 * per-subscriber v5 properties (subscription ids, topic alias, message expiry that counts
 * down) are encoded for that subscriber alone, as are deliveries to clients of a mount_point
 * listener (encodeDeliveryAs: they see another topic).
 * called from: worker
 */

/** layout slot (Message.encodedFirstSlot, index in Message.encoded): 12 layouts */
function layoutSlot(v5: boolean, qos: number, retain: boolean): number {
  return (v5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
}

/** the 3.1.1 QoS 0 layout without RETAIN */
export const V4_QOS0_SLOT = 0;

/**
 * A QoS 0 PUBLISH without RETAIN as a 3.1/3.1.1 client sent it is, byte for byte, the message's
 * 3.1.1 QoS 0 layout when its remaining length is minimally encoded: kept as that layout, so
 * 3.1.1 subscribers at QoS 0 get it without an encoding (the devices' fan-in path). The frame
 * must not change while the message lives: a received frame's memory is never reused (each
 * socket read is a new buffer, the framer assembles into a new one).
 */
export function adoptReceivedFrame(m: Message, frame: Buffer, bodyOffset: number): void {
  if (frame[0] !== 0x30 || bodyOffset !== 1 + varintSize(frame.length - bodyOffset)) return;
  keepEncoded(m, V4_QOS0_SLOT, frame);
}

/**
 * @param alias outbound topic alias: positive = new (topic sent with it), negative = known to the
 *   client (empty topic sent), undefined = none
 */
export function encodeDelivery(
  d: Delivery,
  packetId: number,
  dup: boolean,
  version: ProtocolVersion,
  alias: number | undefined,
  now: number,
): Buffer {
  const m = d.message;
  const v5 = version === 5;
  if (!v5 || (d.subscriptionIds === undefined && m.expiresAt === 0 && alias === undefined)) {
    const slot = layoutSlot(v5, d.qos, d.retain);
    const shared = encodedLayout(m, slot);
    if (shared === undefined) {
      // the first delivery of this layout is encoded with its own packet id and becomes the
      // template the others copy (they overwrite the id): most messages have one subscriber
      const bytes = encodePublish(m.topic, m.payload, d.qos, d.retain, dup, d.qos > 0 ? packetId : 0, version, v5 ? m.properties : undefined).bytes;
      keepEncoded(m, slot, bytes);
      return bytes;
    }
    if (d.qos === 0) return shared;
    const idOffset = packetIdOffsetOf(shared);
    const copy = Buffer.allocUnsafe(shared.length);
    shared.copy(copy);
    copy.writeUInt16BE(packetId, idOffset);
    // the template may carry DUP (its first delivery was a resend)
    copy[0] = dup ? copy[0]! | 0x08 : copy[0]! & ~0x08;
    return copy;
  }
  return encodeForOne(m.topic, d, packetId, dup, version, alias, now);
}

/**
 * Like encodeDelivery, for a client that sees the message under `topic` (a client of a
 * mount_point listener: the topic without the prefix). Never shared: the shared layouts carry
 * the routed topic.
 */
export function encodeDeliveryAs(
  topic: string,
  d: Delivery,
  packetId: number,
  dup: boolean,
  version: ProtocolVersion,
  alias: number | undefined,
  now: number,
): Buffer {
  if (version !== 5) return encodePublish(topic, d.message.payload, d.qos, d.retain, dup, packetId, version, undefined).bytes;
  return encodeForOne(topic, d, packetId, dup, version, alias, now);
}

/** A v5 PUBLISH with this subscriber's properties (subscription ids, topic alias, remaining expiry). */
function encodeForOne(
  topic: string,
  d: Delivery,
  packetId: number,
  dup: boolean,
  version: ProtocolVersion,
  alias: number | undefined,
  now: number,
): Buffer {
  const m = d.message;
  const properties: Record<string, unknown> = { ...m.properties };
  if (m.expiresAt !== 0) properties.messageExpiryInterval = remainingExpiry(m, now); // [MQTT-3.3.2-6]
  if (d.subscriptionIds !== undefined) {
    properties.subscriptionIdentifier = d.subscriptionIds.length === 1 ? d.subscriptionIds[0] : [...d.subscriptionIds];
  }
  if (alias !== undefined) {
    properties.topicAlias = Math.abs(alias);
    if (alias < 0) topic = '';
  }
  return encodePublish(topic, m.payload, d.qos, d.retain, dup, packetId, version, properties).bytes;
}

/** The packet id follows the topic: fixed header, remaining length varint, 2-byte topic length, topic. */
function packetIdOffsetOf(bytes: Buffer): number {
  let i = 1;
  while (bytes[i]! & 0x80) i++;
  i++;
  return i + 2 + bytes.readUInt16BE(i);
}

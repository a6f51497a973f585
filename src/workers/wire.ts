/**
 * The records that cross between workers in the rings (src/workers/ring.ts): their kinds and
 * byte layouts. A PUBLISH record carries the message already encoded as a 3.1.1 QoS 0 PUBLISH
 * (the bytes every 3.1/3.1.1 QoS 0 subscriber receives as they are), plus what the PUBLISH does
 * not say: origin, a retained message's source, expiry, retained stamp, v5 properties. Control
 * records are msgpackr maps.
 * called from: worker
 */
import { Packr } from 'msgpackr';
import { encodePublish } from '../protocol/packets/publish.ts';
import { propertiesFromRecord, propertiesToRecord, type MessageRecord } from '../records/message.ts';
import { encodedLayout, keepEncoded, type Message, type MessageSource } from '../model/message.ts';
import { V4_QOS0_SLOT } from '../link/publishEncoder.ts';

export const Kind = {
  Publish: 1,
  /** one piece of a record larger than the ring's largest record: [kind, last?, 0, 0, bytes…] */
  Fragment: 2,
  // control records: [kind, 0, 0, 0, msgpackr body]
  /** {f}: the sender gained its first non-shared subscriber on filter f */
  Gain: 16,
  /** {f}: the sender lost its last non-shared subscriber on filter f */
  Lose: 17,
  /** {g, f, c}: the sender has c members in $share/g/f */
  Group: 18,
  /** {}: the sender (re)started: forget its interest, send it yours */
  Reset: 19,
  /** {i: [ticket, seq, entries, failed?][]}: answers to Durable PUBLISH records (failed = 1: not everything stored), see journal.ts */
  Stored: 20,
  /** {r: [seq, ok][]}: the entries the receiver sent for message seq are committed (or failed) */
  Release: 21,
  /** {s: seq[]}: entries of a session that moved to the sender no longer refer to the receiver's messages `s` (one per entry) */
  Unref: 22,
  /** {k}: the sender counts what the receiver lent it with a moving session's disk segment (MoveOut k, journal.ts) */
  Adopted: 23,
  /** handover, see handover.ts */
  Takeover: 32,
  Session: 33,
  Moved: 34,
  Forward: 35,
  Fence: 36,
  Echo: 37,
  Released: 38,
  /** {k: [key, ok][]}: the new owner committed (or failed to commit) the entries of forwarded deliveries */
  Committed: 39,
} as const;

/** PUBLISH record flags (byte 1); bits 0-1 are the QoS, bit 2 the retain flag */
export const PubFlag = {
  Retain: 4,
  /** deliver to the receiving worker's non-shared subscribers */
  Route: 8,
  /** update the receiving worker's retained store */
  RetainUpdate: 16,
  /** deliver to one member of the $share group named in the record */
  Shared: 32,
  /** a QoS 1/2 message of a durable publish: answer with a Stored record for the ticket in the header */
  Durable: 64,
} as const;

/**
 * Bytes before the variable part of a PUBLISH record: [kind, flags, hops, has source?,
 * origin bytes u16, group bytes u16, filter bytes u16, inbound id u16, props bytes u32, expiry f64,
 * stamp f64, ticket f64, source username bytes u16, source listener u16 (0xffff = not known)];
 * then origin, source username, props, group, filter, packet.
 */
export const PUBLISH_HEADER = 44;
const NO_LISTENER = 0xffff;
/** bytes before the body of a control or fragment record */
export const CONTROL_HEADER = 4;

/** msgpackr for control records: plain maps (no shared record structures between threads), Buffers copied out of the ring */
export const packr = new Packr({ useRecords: false, copyBuffers: true });

/** The parts of a message's PUBLISH record that do not depend on the destination; computed once per route. */
export interface PublishParts {
  readonly message: Message;
  readonly originBytes: number;
  /** UTF-8 bytes of the source's username (0 without one) */
  readonly sourceUserBytes: number;
  readonly props: Buffer | undefined;
  /** the message as a 3.1.1 QoS 0 PUBLISH without RETAIN */
  readonly packet: Buffer;
}


export function publishParts(message: Message): PublishParts {
  let packet = encodedLayout(message, V4_QOS0_SLOT);
  if (packet === undefined) {
    packet = encodePublish(message.topic, message.payload, 0, false, false, 0, 4).bytes;
    keepEncoded(message, V4_QOS0_SLOT, packet);
  }
  return {
    message,
    originBytes: Buffer.byteLength(message.origin),
    sourceUserBytes: message.source?.username === undefined ? 0 : Buffer.byteLength(message.source.username),
    props: message.properties === undefined ? undefined : packr.pack(propertiesToRecord(message.properties)),
    packet,
  };
}

/** Bytes of a PUBLISH record; group and filter only for Shared. */
export function publishRecordLength(p: PublishParts, group: string, filter: string): number {
  return PUBLISH_HEADER + p.originBytes + p.sourceUserBytes + (p.props?.length ?? 0) + Buffer.byteLength(group) + Buffer.byteLength(filter) + p.packet.length;
}

/** `inboundId`: Durable records of a QoS 2 publish of a stored session, its packet id (the client id is the origin); else 0. */
export function writePublishRecord(buf: Buffer, off: number, p: PublishParts, flags: number, hops: number, group: string, filter: string, ticket: number, inboundId = 0): void {
  const m = p.message;
  buf[off] = Kind.Publish;
  buf[off + 1] = flags | m.qos | (m.retain ? PubFlag.Retain : 0);
  buf[off + 2] = hops;
  const source = m.source;
  buf[off + 3] = source === undefined ? 0 : 1;
  const propsLength = p.props?.length ?? 0;
  let at = off + PUBLISH_HEADER;
  at += buf.write(m.origin, at, 'utf8');
  if (p.sourceUserBytes > 0) at += buf.write(source!.username!, at, 'utf8');
  if (p.props !== undefined) at += p.props.copy(buf, at);
  const groupBytes = buf.write(group, at, 'utf8');
  at += groupBytes;
  const filterBytes = buf.write(filter, at, 'utf8');
  at += filterBytes;
  p.packet.copy(buf, at);
  buf.writeUInt16LE(p.originBytes, off + 4);
  buf.writeUInt16LE(groupBytes, off + 6);
  buf.writeUInt16LE(filterBytes, off + 8);
  buf.writeUInt16LE(inboundId, off + 10);
  buf.writeUInt32LE(propsLength, off + 12);
  buf.writeDoubleLE(m.expiresAt, off + 16);
  buf.writeDoubleLE(m.stamp, off + 24);
  buf.writeDoubleLE(ticket, off + 32);
  buf.writeUInt16LE(p.sourceUserBytes, off + 40);
  buf.writeUInt16LE(source?.listenerIndex ?? NO_LISTENER, off + 42);
}

/** A PUBLISH record read back: the message owns copies of its bytes (the ring space is reused). */
export interface PublishRecord {
  readonly message: Message;
  readonly flags: number;
  readonly hops: number;
  readonly group: string;
  readonly filter: string;
  /** Durable records: the publishing worker's ticket number, to answer with */
  readonly ticket: number;
  /** Durable records of a QoS 2 publish of a stored session: its packet id (the client id is the message's origin); else 0 */
  readonly inboundId: number;
}

export function readPublishRecord(buf: Buffer, off: number, length: number, originWorker: number): PublishRecord {
  const flags = buf[off + 1]!;
  const hops = buf[off + 2]!;
  const originBytes = buf.readUInt16LE(off + 4);
  const groupBytes = buf.readUInt16LE(off + 6);
  const filterBytes = buf.readUInt16LE(off + 8);
  const propsLength = buf.readUInt32LE(off + 12);
  const expiresAt = buf.readDoubleLE(off + 16);
  const stamp = buf.readDoubleLE(off + 24);
  let at = off + PUBLISH_HEADER;
  const origin = buf.toString('utf8', at, (at += originBytes));
  let source: MessageSource | undefined;
  if (buf[off + 3] === 1) {
    const userBytes = buf.readUInt16LE(off + 40);
    const listener = buf.readUInt16LE(off + 42);
    source = {
      clientId: origin,
      username: userBytes === 0 ? undefined : buf.toString('utf8', at, (at += userBytes)),
      listenerIndex: listener === NO_LISTENER ? undefined : listener,
    };
  }
  const properties = propsLength === 0 ? undefined : propertiesFromRecord(packr.unpack(buf.subarray(at, (at += propsLength))) as Pick<MessageRecord, 'pr' | 'up'>);
  const group = groupBytes === 0 ? '' : buf.toString('utf8', at, (at += groupBytes));
  const filter = filterBytes === 0 ? '' : buf.toString('utf8', at, (at += filterBytes));
  const packet = Buffer.from(buf.subarray(at, off + length));
  // fixed header, remaining-length varint, topic
  let i = 1;
  while (packet[i]! & 0x80) i++;
  i++;
  const topicLength = packet.readUInt16BE(i);
  const topic = packet.toString('utf8', i + 2, i + 2 + topicLength);
  const message: Message = {
    topic,
    payload: packet.subarray(i + 2 + topicLength),
    qos: (flags & 3) as 0 | 1 | 2,
    retain: (flags & PubFlag.Retain) !== 0,
    properties,
    expiresAt,
    origin,
    source,
    originWorker,
    stamp,
    seq: 0,
    encodedFirst: packet,
    encodedFirstSlot: V4_QOS0_SLOT,
    encoded: undefined,
  };
  return { message, flags, hops, group, filter, ticket: buf.readDoubleLE(off + 32), inboundId: buf.readUInt16LE(off + 10) };
}

import { userPropertiesFromPairs, userPropertyPairs, type UserProperties } from '../protocol/userProperties.ts';
import type { Message, MessageProperties, MessageSource } from '../model/message.ts';

/**
 * A Message as a plain, structured-clone- and msgpackr-safe record: for a session handed to
 * another worker, and for storage. User properties travel as ordered pairs, so their wire order
 * survives [MQTT-3.3.2-17/18]. Expiry stays absolute.
 * called from: worker
 */
export interface MessageRecord {
  t: string;
  p: Uint8Array;
  q: 0 | 1 | 2;
  r: boolean;
  /** properties without userProperties */
  pr: Record<string, unknown> | undefined;
  /** user properties, [name, value] in wire order */
  up: [string, string][] | undefined;
  x: number;
  o: string;
  s: number;
  /** Message.source without its client id (that is `o`): u = username, l = listener index; absent = not known */
  so?: { u?: string | undefined; l?: number | undefined } | undefined;
}

/** Properties split into plain fields and ordered user-property pairs. */
export function propertiesToRecord(properties: MessageProperties | undefined): Pick<MessageRecord, 'pr' | 'up'> {
  if (properties === undefined) return { pr: undefined, up: undefined };
  const { userProperties, ...rest } = properties;
  return { pr: rest, up: userProperties === undefined ? undefined : userPropertyPairs(userProperties as UserProperties) };
}

export function propertiesFromRecord(r: Pick<MessageRecord, 'pr' | 'up'>): MessageProperties | undefined {
  if (r.pr === undefined && r.up === undefined) return undefined;
  const properties = { ...(r.pr ?? {}) } as MessageProperties;
  if (r.up !== undefined) properties.userProperties = userPropertiesFromPairs(r.up);
  const cd = properties.correlationData as Uint8Array | undefined;
  if (cd !== undefined && !Buffer.isBuffer(cd)) properties.correlationData = asBuffer(cd);
  return properties;
}

/** A Buffer over the same bytes (msgpackr and structured clone may hand back plain Uint8Arrays). */
export function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export function messageToRecord(m: Message): MessageRecord {
  const r: MessageRecord = { t: m.topic, p: m.payload, q: m.qos, r: m.retain, ...propertiesToRecord(m.properties), x: m.expiresAt, o: m.origin, s: m.stamp };
  if (m.source !== undefined) r.so = sourceToRecord(m.source);
  return r;
}

/** Message.source as MessageRecord.so: only the fields that are set (msgpack writes no key for the others). */
export function sourceToRecord(s: MessageSource): NonNullable<MessageRecord['so']> {
  const so: NonNullable<MessageRecord['so']> = {};
  if (s.username !== undefined) so.u = s.username;
  if (s.listenerIndex !== undefined) so.l = s.listenerIndex;
  return so;
}

/** MessageRecord.so back as a Message.source; nulls (another encoder's absent fields) read as absent. */
export function sourceFromRecord(clientId: string, so: MessageRecord['so']): MessageSource | undefined {
  if (so === undefined || so === null) return undefined;
  return { clientId, username: so.u ?? undefined, listenerIndex: so.l ?? undefined };
}

export function messageFromRecord(r: MessageRecord, originWorker: number): Message {
  const properties = propertiesFromRecord(r);
  return {
    topic: r.t,
    payload: asBuffer(r.p),
    qos: r.q,
    retain: r.r,
    properties,
    expiresAt: r.x,
    origin: r.o,
    source: r.r ? sourceFromRecord(r.o, r.so) : undefined,
    originWorker,
    stamp: r.s,
    seq: 0,
    encodedFirst: undefined,
    encodedFirstSlot: -1,
    encoded: undefined,
  };
}

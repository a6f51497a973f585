import type { IPublishPacket } from 'mqtt-packet';

/** PUBLISH properties carried with a message (topic alias and subscription ids are per delivery, never stored). */
export type MessageProperties = Omit<NonNullable<IPublishPacket['properties']>, 'topicAlias' | 'subscriptionIdentifier'>;

/**
 * An application message inside the broker: immutable once created, shared by every session that
 * receives it. Owns its payload (never a view into a read buffer that outlives the handler).
 * called from: worker
 */
export interface Message {
  readonly topic: string;
  readonly payload: Buffer;
  /** QoS as published */
  readonly qos: 0 | 1 | 2;
  /** retain flag as published */
  readonly retain: boolean;
  /** v5 properties other than the per-delivery ones; messageExpiryInterval is replaced at send time */
  readonly properties: MessageProperties | undefined;
  /** absolute expiry time (ms since epoch), 0 = never [MQTT-3.3.2-5] */
  readonly expiresAt: number;
  /** client id of the publisher (No Local); '' for broker-generated messages */
  readonly origin: string;
  /**
   * A client's retained message: who published it, so that check_retain_source can ask again,
   * when it is sent to a new subscription, whether they may still publish it (Mosquitto
   * retain.c). undefined for every other message, and for a retained one whose publisher is not
   * known (a broker message, a bridge's, one stored before culex kept it).
   */
  readonly source: MessageSource | undefined;
  /** worker thread that received it from its publisher (cross-worker handover fences); -1 with one worker */
  originWorker: number;
  /** retained messages only: broker-wide order of retained updates, so every worker keeps the same latest one */
  stamp: number;
  /**
   * this worker's stored copy for persistent sessions' queues (journal.ts): its seq; 0 = none
   * yet; -1 = none, but one entry carries the message inline
   */
  seq: number;
  /**
   * Encoded bytes per layout (src/link/publishEncoder.ts), filled lazily: the first layout in
   * `encodedFirst` (most messages need one), others in `encoded`, by slot.
   */
  encodedFirst: Buffer | undefined;
  /** the layout slot of `encodedFirst`; -1 = none */
  encodedFirstSlot: number;
  encoded: (Buffer | undefined)[] | undefined;
}

/** The publisher of a retained message as the authorizer sees a client (src/broker/services.ts AclClient). */
export interface MessageSource {
  readonly clientId: string;
  /** undefined = anonymous */
  readonly username: string | undefined;
  /** index in BrokerConfig.listeners (per_listener_settings); undefined = not known */
  readonly listenerIndex: number | undefined;
}

export function createMessage(
  topic: string,
  payload: Buffer,
  qos: 0 | 1 | 2,
  retain: boolean,
  properties: MessageProperties | undefined,
  origin: string,
  now: number,
  source?: MessageSource,
): Message {
  const expiry = properties?.messageExpiryInterval;
  return {
    topic,
    payload,
    qos,
    retain,
    properties,
    expiresAt: expiry !== undefined && expiry > 0 ? now + expiry * 1000 : 0,
    origin,
    source: retain ? source : undefined,
    originWorker: -1,
    stamp: 0,
    seq: 0,
    encodedFirst: undefined,
    encodedFirstSlot: -1,
    encoded: undefined,
  };
}

/** The bytes encoded for layout `slot` (src/link/publishEncoder.ts), if any. */
export function encodedLayout(m: Message, slot: number): Buffer | undefined {
  return m.encodedFirstSlot === slot ? m.encodedFirst : m.encoded?.[slot];
}

/** Keeps the bytes of layout `slot`: the first one in fields, others in the array. */
export function keepEncoded(m: Message, slot: number, bytes: Buffer): void {
  if (m.encodedFirstSlot < 0 || m.encodedFirstSlot === slot) {
    m.encodedFirst = bytes;
    m.encodedFirstSlot = slot;
  } else {
    (m.encoded ??= new Array<Buffer | undefined>(12))[slot] = bytes;
  }
}

/** Seconds of life left, rounded up; 0 when expired. Only meaningful when expiresAt != 0. */
export function remainingExpiry(message: Message, now: number): number {
  return Math.max(0, Math.ceil((message.expiresAt - now) / 1000));
}

export function isExpired(message: Message, now: number): boolean {
  return message.expiresAt !== 0 && message.expiresAt <= now;
}

/** Bytes a queued message is charged against max_queued_bytes. */
export function messageSize(message: Message): number {
  return message.payload.length;
}

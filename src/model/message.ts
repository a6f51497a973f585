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
  /** worker thread that received it from its publisher (cross-worker handover fences); -1 with one worker */
  originWorker: number;
  /** retained messages only: broker-wide order of retained updates, so every worker keeps the same latest one */
  stamp: number;
  /**
   * this worker's stored copy for persistent sessions' queues (journal.ts): its seq; 0 = none
   * yet; -1 = none, but one entry carries the message inline
   */
  seq: number;
  /** encoded bytes per layout, see delivery.ts; filled lazily */
  encoded: (Buffer | undefined)[] | undefined;
}

export function createMessage(
  topic: string,
  payload: Buffer,
  qos: 0 | 1 | 2,
  retain: boolean,
  properties: MessageProperties | undefined,
  origin: string,
  now: number,
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
    originWorker: -1,
    stamp: 0,
    seq: 0,
    encoded: undefined,
  };
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

import type { IConnectPacket } from 'mqtt-packet';
import type { MessageProperties } from './message.ts';

/**
 * A client's Will Message as given in CONNECT, published later by the broker. The Message is
 * built at publish time so that its expiry counts from then. called from: worker
 */
export interface Will {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly properties: MessageProperties | undefined;
  /** v5 Will Delay Interval, seconds */
  readonly delay: number;
  readonly clientId: string;
  readonly username: string | undefined;
  /** the listener the client came in through (per_listener_settings ACL check at publish); undefined = unknown */
  readonly listenerIndex?: number | undefined;
}

/**
 * Builds the Will from a CONNECT; the payload is copied (the CONNECT frame is a view of a read
 * buffer). `topic` replaces the CONNECT's will topic (a mount_point listener's prefixed topic).
 */
export function willFromConnect(packet: IConnectPacket, clientId: string, listenerIndex?: number, topic?: string): Will | undefined {
  const username = packet.username;
  const w = packet.will;
  if (w === undefined || w === null) return undefined;
  const { willDelayInterval, ...rest } = w.properties ?? {};
  return {
    topic: topic ?? w.topic,
    payload: Buffer.from(w.payload),
    qos: (w.qos ?? 0) as 0 | 1 | 2,
    retain: w.retain === true,
    properties: Object.keys(rest).length > 0 ? (rest as MessageProperties) : undefined,
    delay: willDelayInterval ?? 0,
    clientId,
    username,
    listenerIndex,
  };
}

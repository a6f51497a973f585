/**
 * One MQTT message as one NATS message between culex nodes: the payload is the MQTT payload,
 * the subject is the topic (subjects.ts), and headers carry the rest:
 *   Culex-Origin  the publishing node's name (a node ignores its own messages, already delivered)
 *   Culex-Conn    the publishing NATS connection's id, and Culex-Seq its running number: the
 *                 receiver drops a repeat (two overlapping subscriptions of one connection)
 *   Culex-Qos     0, 1 or 2, as published
 *   Culex-Retain  1 when the RETAIN flag was set (for Retain As Published subscribers)
 *   Culex-Props   v5 properties as base64 JSON (correlation data as base64 inside); the message
 *                 expiry is the time left when it was sent, so a receiver counts from its arrival
 *   Culex-Durable on a core message: the `<node>.<worker>` pairs (comma separated) that got a
 *                 JetStream copy (durableStream.ts); there the core copy skips durable subscriptions
 *   Culex-Subject on a JetStream copy: the topic's core subject (the copy's own subject names its
 *                 receiving worker)
 * called from: worker, tests
 */
import type { MsgHdrs } from '@nats-io/transport-node';
import { createMessage, remainingExpiry, type Message, type MessageProperties } from '../model/message.ts';

export const H_ORIGIN = 'Culex-Origin';
export const H_CONN = 'Culex-Conn';
export const H_SEQ = 'Culex-Seq';
export const H_QOS = 'Culex-Qos';
export const H_RETAIN = 'Culex-Retain';
export const H_PROPS = 'Culex-Props';
export const H_DURABLE = 'Culex-Durable';
export const H_SUBJECT = 'Culex-Subject';

/** What the receiver learns besides the message. */
export interface Envelope {
  readonly origin: string;
  readonly conn: string;
  readonly seq: number;
}

/** Sets on `h` the headers of `message`, sent by connection `conn` of node `origin` as its `seq`-th. */
export function writeHeaders(h: MsgHdrs, message: Message, now: number, origin: string, conn: string, seq: number): void {
  h.set(H_ORIGIN, origin);
  h.set(H_CONN, conn);
  h.set(H_SEQ, String(seq));
  h.set(H_QOS, String(message.qos));
  if (message.retain) h.set(H_RETAIN, '1');
  const p = message.properties;
  if (p !== undefined || message.expiresAt !== 0) h.set(H_PROPS, encodeProperties(p, message.expiresAt === 0 ? undefined : remainingExpiry(message, now)));
}

/** The properties as base64 JSON; `expiry`: seconds left, replacing the published interval. */
export function encodeProperties(p: MessageProperties | undefined, expiry: number | undefined): string {
  const o: Record<string, unknown> = { ...p };
  if (expiry !== undefined) o['messageExpiryInterval'] = expiry;
  if (p?.correlationData !== undefined) o['correlationData'] = p.correlationData.toString('base64');
  return Buffer.from(JSON.stringify(o)).toString('base64');
}

export function decodeProperties(text: string): MessageProperties {
  const o = JSON.parse(Buffer.from(text, 'base64').toString()) as Record<string, unknown>;
  if (typeof o['correlationData'] === 'string') o['correlationData'] = Buffer.from(o['correlationData'], 'base64');
  return o as MessageProperties;
}

/**
 * The message a NATS message carries on `topic`; its payload is copied (the client's read
 * buffer is not ours). Its origin client id is '' (No Local applies within a node only).
 * Undefined when the headers are not a culex node's.
 */
export function readMessage(topic: string, data: Uint8Array, h: MsgHdrs | undefined, now: number): { message: Message; envelope: Envelope } | undefined {
  if (h === undefined) return undefined;
  const origin = h.get(H_ORIGIN);
  const qos = Number(h.get(H_QOS));
  if (origin === '' || (qos !== 0 && qos !== 1 && qos !== 2)) return undefined;
  const props = h.get(H_PROPS);
  const properties = props === '' ? undefined : decodeProperties(props);
  const message = createMessage(topic, Buffer.from(data), qos, h.get(H_RETAIN) === '1', properties, '', now);
  return { message, envelope: { origin, conn: h.get(H_CONN), seq: Number(h.get(H_SEQ)) } };
}

/**
 * Retained messages shared by every node (issue 17): the JetStream key-value bucket
 * `culex_retained`, one key per topic (the topic's UTF-8 in base64url: KV keys allow few
 * characters). A retained publish on any node puts its message there (an empty payload deletes
 * the key); every worker of every node watches the bucket and applies each change to its own
 * retained store, so that a SUBSCRIBE anywhere is answered from the local store as before.
 * At start a worker applies the whole bucket (deletions included) before it serves.
 * Value: u16 length of a JSON head {q: QoS, o: origin node, e: absolute expiry ms or 0,
 * p: properties as envelope.ts encodes them, s: the publisher (Message.source) as {c: client id,
 * u: username, l: listener index} when known}, the head, then the payload.
 * Order: the bucket's order is the cluster's; a node that set a topic locally converges to it
 * when the watch delivers the bucket's later entries.
 * called from: worker
 */
import type { KV, KvEntry } from '@nats-io/kv';
import { openBucket, watchBucket } from './watchedBucket.ts';
import type { NatsConnection } from '@nats-io/transport-node';
import { createMessage, remainingExpiry, type Message } from '../model/message.ts';
import type { Logger } from '../log.ts';
import { decodeProperties, encodeProperties } from './envelope.ts';

export const RETAINED_BUCKET = 'culex_retained';

/** The bucket key of `topic`. */
export function retainedKey(topic: string): string {
  return Buffer.from(topic).toString('base64url');
}

/** Encodes a retained message as a bucket value. */
export function encodeRetained(m: Message, origin: string, now: number): Uint8Array {
  const p = m.properties;
  const s = m.source;
  const head = Buffer.from(JSON.stringify({
    q: m.qos, o: origin, e: m.expiresAt,
    p: p === undefined && m.expiresAt === 0 ? undefined : encodeProperties(p, m.expiresAt === 0 ? undefined : remainingExpiry(m, now)),
    s: s === undefined ? undefined : { c: s.clientId, u: s.username, l: s.listenerIndex },
  }));
  const out = Buffer.allocUnsafe(2 + head.length + m.payload.length);
  out.writeUInt16BE(head.length, 0);
  head.copy(out, 2);
  m.payload.copy(out, 2 + head.length);
  return out;
}

/** The retained message of a bucket value (payload copied), with the topic `topic`. */
export function decodeRetained(topic: string, value: Uint8Array, now: number): Message {
  const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const n = b.readUInt16BE(0);
  const head = JSON.parse(b.subarray(2, 2 + n).toString()) as { q: 0 | 1 | 2; o: string; e: number; p?: string; s?: { c: string; u?: string; l?: number } };
  const s = head.s === undefined ? undefined : { clientId: head.s.c, username: head.s.u, listenerIndex: head.s.l };
  const m = createMessage(topic, Buffer.from(b.subarray(2 + n)), head.q, true, head.p === undefined ? undefined : decodeProperties(head.p), '', now, s);
  return head.e === 0 ? m : { ...m, expiresAt: head.e };
}

export class RetainedBucket {
  private readonly kv: KV;
  private readonly origin: string;
  private readonly log: Logger;

  private constructor(kv: KV, origin: string, log: Logger) {
    this.kv = kv;
    this.origin = origin;
    this.log = log;
  }

  /**
   * Opens (or creates) the bucket and watches it: `apply(topic, message)` for each entry,
   * `message` undefined for a deletion. Resolves once the entries already there are applied.
   */
  static async open(nc: NatsConnection, origin: string, log: Logger, apply: (topic: string, message: Message | undefined) => void): Promise<RetainedBucket> {
    const kv = await openBucket(nc, RETAINED_BUCKET);
    const bucket = new RetainedBucket(kv, origin, log);
    await watchBucket(kv, 'retained bucket', log, (e) => bucket.applyEntry(e, apply));
    return bucket;
  }

  private applyEntry(e: KvEntry, apply: (topic: string, message: Message | undefined) => void): void {
    const topic = Buffer.from(e.key, 'base64url').toString();
    if (e.operation !== 'PUT') return apply(topic, undefined);
    try {
      apply(topic, decodeRetained(topic, e.value, Date.now()));
    } catch (err) {
      this.log.warning(`cluster: retained bucket entry ${e.key} unreadable: ${(err as Error).message}`);
    }
  }

  /** Puts (or, for an empty payload, deletes) `m` in the bucket; resolves when JetStream stored it, never rejects. */
  put(m: Message, now: number): Promise<void> {
    const key = retainedKey(m.topic);
    const done = m.payload.length === 0 ? this.kv.delete(key) : this.kv.put(key, encodeRetained(m, this.origin, now));
    return done.then(() => undefined, (err: unknown) => {
      this.log.warning(`cluster: retained message on ${m.topic} not stored in the bucket: ${(err as Error).message}`);
    });
  }
}

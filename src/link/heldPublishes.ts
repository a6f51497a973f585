/**
 * The inbound window of a 3.1/3.1.1 client: such a client cannot know Receive Maximum, so past
 * max_inflight_messages unreleased QoS 2 PUBLISHes the broker holds its further PUBLISHes, in
 * order, unanswered (no PUBREC, not routed) and goes on reading: the client's PUBRELs free the
 * window, and the held ones are taken in order (as Mosquitto queues them). Only when a client
 * holds more than MAX_HELD_BYTES there does reading stop, until the window frees.
 * Invariant: while anything is held, every new PUBLISH of the connection is held behind it, so
 * the publisher's order is kept [MQTT-4.6.0-2].
 * called from: worker (the connection's own)
 */
import type { IPublishPacket } from 'mqtt-packet';

/** Held payload bytes above which the connection stops reading. */
export const MAX_HELD_BYTES = 1 << 20;

export class HeldPublishes {
  private queue: IPublishPacket[] | undefined = undefined;
  private bytes = 0;

  /** something is held: a new PUBLISH must queue behind it */
  get holding(): boolean {
    return this.queue !== undefined;
  }

  /** over MAX_HELD_BYTES: reading should stop */
  get full(): boolean {
    return this.bytes > MAX_HELD_BYTES;
  }

  /** Keeps `p`, with its own copy of the payload (the decoded one is a view of the read buffer). */
  hold(p: IPublishPacket): void {
    p.payload = Buffer.from(p.payload as Buffer);
    (this.queue ??= []).push(p);
    this.bytes += p.payload.length + p.topic.length;
  }

  /** Takes held PUBLISHes in order while `ready(p)` says the window has room for `p`. */
  release(ready: (p: IPublishPacket) => boolean, take: (p: IPublishPacket) => void): void {
    const q = this.queue;
    if (q === undefined) return;
    let i = 0;
    while (i < q.length && ready(q[i]!)) {
      const p = q[i++]!;
      this.bytes -= p.payload.length + p.topic.length;
      take(p);
    }
    q.splice(0, i);
    if (q.length === 0) this.queue = undefined;
  }
}

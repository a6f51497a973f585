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
import type { InboundTable } from '../broker/qos/inbound.ts';

/** Held payload bytes above which the connection stops reading. */
export const MAX_HELD_BYTES = 1 << 20;

/** What the window needs of its connection. */
export interface WindowOwner {
  readonly clientId: string;
  /** the session's inbound QoS 2 ids; undefined once the connection is closed */
  readonly inbound: InboundTable | undefined;
  /** the connection's byte stream: paused while too much is held */
  readonly socket: { pause(): void; resume(): void };
  log(message: string): void;
}

export class HeldPublishes {
  private queue: IPublishPacket[] | undefined = undefined;
  private bytes = 0;
  private paused = false;
  private readonly owner: WindowOwner;
  /** max_inflight_messages (the broker's Receive Maximum) */
  private readonly window: number;

  constructor(owner: WindowOwner, window: number) {
    this.owner = owner;
    this.window = window;
  }

  /** Takes `p` when it must wait (something is held, or a QoS 2 PUBLISH past the window); false = route it now. */
  offer(p: IPublishPacket): boolean {
    if (this.queue === undefined && (p.qos !== 2 || this.fits(p))) return false;
    if (this.queue === undefined) {
      this.owner.log(`Client ${this.owner.clientId} has more than max_inflight_messages (${this.window}) QoS 2 messages in flight: holding its PUBLISHes until PUBRELs free the window`);
    }
    // its own copy of the payload: a view would keep the whole read buffer alive while it waits
    p.payload = Buffer.from(p.payload as Buffer);
    (this.queue ??= []).push(p);
    this.bytes += p.payload.length + p.topic.length;
    if (this.bytes > MAX_HELD_BYTES && !this.paused) {
      this.paused = true;
      this.owner.socket.pause();
    }
    return true;
  }

  /** A PUBREL freed the window: held PUBLISHes go to `route`, in order, while they fit. */
  release(route: (p: IPublishPacket) => void): void {
    const q = this.queue;
    if (q === undefined) return;
    let i = 0;
    while (i < q.length && this.fits(q[i]!)) {
      const p = q[i++]!;
      this.bytes -= p.payload.length + p.topic.length;
      route(p);
    }
    q.splice(0, i);
    if (q.length === 0) this.queue = undefined;
    if (this.paused && this.bytes <= MAX_HELD_BYTES && this.owner.inbound !== undefined) {
      this.paused = false;
      this.owner.socket.resume();
    }
  }

  /** A QoS 2 PUBLISH fits when fewer than `window` ids await PUBREL (a retransmission always fits); others always do. */
  private fits(p: IPublishPacket): boolean {
    const inbound = this.owner.inbound;
    if (inbound === undefined) return false;
    return p.qos !== 2 || inbound.size < this.window || inbound.has(p.messageId ?? 0);
  }
}

import { counters } from '../metrics/counters.ts';
import { SessionQueue, WINDOW_MAX, WINDOW_MIN, type QueueReader } from './sessionQueue.ts';
import { isExpired, messageSize } from '../model/message.ts';
import type { Journal, JournalSession } from '../durability/journal.ts';
import { AckResult, OutboundTable, type AckResultValue, type OutboundEntry } from './qos/outbound.ts';
import { type Delivery } from '../model/delivery.ts';
import { InboundTable } from './qos/inbound.ts';
import type { ParsedFilter, SubscriptionOptions } from '../model/subscription.ts';
import type { QueueTally } from '../records/stored.ts';
import type { WheelEntry } from './deadlineWheel.ts';

/** What a session needs from the connection it is attached to. Implemented by Connection. */
export interface SessionLink {
  /** unacknowledged QoS 1/2 PUBLISHes the client accepts: its Receive Maximum ∧ max_inflight_messages */
  readonly sendQuota: number;
  /** true while the socket's outbound buffer is over budget: QoS 0 is dropped, QoS 1/2 wait */
  readonly congested: boolean;
  /**
   * Queues one PUBLISH for writing (once `after` resolved, keeping the order of the connection's
   * output). Returns false when the client cannot take it (over its Maximum Packet Size).
   */
  sendPublish(delivery: Delivery, packetId: number, dup: boolean, after?: Promise<void>): boolean;
  sendPubrel(packetId: number, after?: Promise<void>): void;
}

/** Queue limits and policy, from the broker configuration. */
export interface QueueLimits {
  /** 0 = unlimited (Mosquitto) */
  readonly maxQueuedMessages: number;
  /** 0 = unlimited */
  readonly maxQueuedBytes: number;
  readonly queueQos0Messages: boolean;
  readonly dropOldest: boolean;
  /**
   * max_inflight_bytes: payload bytes of QoS 1/2 messages in flight to one client; 0 = no limit.
   * As Mosquitto (db__ready_for_flight), a message is sent while the bytes in flight are below
   * the limit, so one larger than the limit still goes when it would be alone. Absent = 0.
   */
  readonly maxInflightBytes?: number;
  /**
   * The authorizer's read check, made again for what was queued while the client was away
   * (rights may have changed: ACL reload, dynamic security). Undefined without an ACL.
   */
  readonly mayRead?: ((session: Session, topic: string) => boolean) | undefined;
  /** called at the first message dropped for this session since its client last connected */
  readonly dropping?: ((session: Session) => void) | undefined;
  /** warnings about the stored queue (an entry whose message is missing) */
  readonly warn?: ((text: string) => void) | undefined;
}

export const NEVER_EXPIRES = 0xffffffff;

const noWarning = (): void => {};

export interface SessionSubscription {
  readonly filter: ParsedFilter;
  readonly options: SubscriptionOptions;
}

/** read-only stand-in while a session has never subscribed; never written */
const NO_SUBSCRIPTIONS: ReadonlyMap<string, SessionSubscription> = new Map();

/**
 * The state MQTT keeps for one client id, connected or not: subscriptions, the outbound queue,
 * the two QoS tables. It outlives connections of persistent clients.
 * called from: worker (the owning worker's thread only)
 */
export class Session implements JournalSession, QueueReader, WheelEntry {
  /** the user name of the last connection (ACL checks while offline) */
  username: string | undefined = undefined;
  /**
   * the listener the last connection came in through (per_listener_settings ACL checks while
   * offline, as Mosquitto); undefined = unknown (a record written before culex stored it)
   */
  listenerIndex: number | undefined = undefined;
  /**
   * declared by `persistent_subscription` and not yet taken by a connection: any user's CONNECT
   * (clean start 0) takes it, and until then it reads every topic its subscriptions match (the
   * taker's ACL is applied to the queue when it attaches: recheckQueued)
   */
  declared = false;
  /** the connection, while the client is online */
  link: SessionLink | undefined = undefined;
  /**
   * set while the session has a record in the store (persistent sessions only): its queue is
   * written through this journal
   */
  journal: Journal | undefined = undefined;
  /** last queue sequence number handed out (stored queue entries) */
  lastQseq = 0;
  /** counted in the cluster's stored-subscriber count (stored, with a subscription, on this worker); see Broker.storedChanged */
  countedStored = false;
  /** seconds the session outlives its connection; NEVER_EXPIRES = forever */
  expiryInterval = 0;
  /** ms since epoch when an offline session expires; 0 while online or never */
  expiresAt = 0;
  /** the broker's SessionExpiry wheel: this session's neighbours in its slot (undefined: in none) */
  wheelPrev: WheelEntry | undefined = undefined;
  wheelNext: WheelEntry | undefined = undefined;
  /** made at the first subscription: many device sessions never subscribe (memory per idle connection) */
  private subs: Map<string, SessionSubscription> | undefined = undefined;
  readonly outbound = new OutboundTable();
  readonly inbound = new InboundTable();
  /**
   * While the session moves between workers, deliveries go here instead (forwarded to the new
   * owner, held or skipped: see src/workers/handover.ts); undefined otherwise.
   */
  intercept: ((d: Delivery, now: number, mirrored: boolean) => void) | undefined = undefined;
  /**
   * The messages not yet sent: all in memory, or, for a stored session, a window in memory and
   * the rest in the store (sessionQueue.ts). Made at the first one (`pending`): most device
   * sessions never have one queued (memory per idle connection).
   */
  private queue: SessionQueue | undefined = undefined;
  /** a message was dropped since the client last connected (Mosquitto's is_dropping): reported once */
  private dropping = false;
  /** messages this session did not get: queue full, or QoS 0 while congested or away (per-bridge metrics) */
  droppedCount = 0;

  readonly clientId: string;
  private readonly limits: QueueLimits;

  constructor(clientId: string, limits: QueueLimits) {
    this.clientId = clientId;
    this.limits = limits;
  }

  /** the queue, made when first needed */
  private get pending(): SessionQueue {
    return (this.queue ??= new SessionQueue(this, this.limits.warn ?? noWarning));
  }

  /**
   * How many queued messages a stored session keeps in memory ahead of sending them: none while
   * offline; twice the send quota online (WINDOW_MIN…WINDOW_MAX). Everything without a store.
   */
  private window(): number {
    if (this.journal === undefined) return Infinity;
    const link = this.link;
    if (link === undefined) return 0;
    return Math.min(WINDOW_MAX, Math.max(WINDOW_MIN, 2 * link.sendQuota));
  }

  /** the subscriptions by filter text, in the order they were made */
  get subscriptions(): ReadonlyMap<string, SessionSubscription> {
    return this.subs ?? NO_SUBSCRIPTIONS;
  }

  /** Adds or replaces the subscription with `filter`'s text. */
  setSubscription(filter: ParsedFilter, options: SubscriptionOptions): void {
    (this.subs ??= new Map()).set(filter.raw, { filter, options });
  }

  /** Removes the subscription with filter text `raw`; false when there was none. */
  deleteSubscription(raw: string): boolean {
    return this.subs?.delete(raw) ?? false;
  }

  clearSubscriptions(): void {
    this.subs = undefined;
  }

  /** true while the session has a record in the store */
  get stored(): boolean {
    return this.journal !== undefined;
  }

  get queuedCount(): number {
    return this.queue?.length ?? 0;
  }

  /** payload bytes of the queued messages (what max_queued_bytes limits) */
  get queuedBytes(): number {
    return this.queue?.bytes ?? 0;
  }

  /** queued messages held only in the store */
  get queuedOnDisk(): number {
    return this.queue?.diskCount ?? 0;
  }

  /** payload bytes of the queued messages held only in the store */
  get queuedBytesOnDisk(): number {
    return this.queue?.diskBytes ?? 0;
  }

  /**
   * Delivers or queues one message for this client. `mirrored`: a non-shared route, which a
   * worker this session is moving from also gets a copy of (and forwards, see handover.ts);
   * false for a `$share` pick and for retained messages on SUBSCRIBE, which only this worker has.
   */
  deliver(d: Delivery, now: number, mirrored: boolean): void {
    if (this.intercept !== undefined) this.intercept(d, now, mirrored);
    else this.deliverNow(d, now);
  }

  /** deliver() without the handover intercept. */
  deliverNow(d: Delivery, now: number): void {
    const link = this.link;
    if (d.qos === 0 && link !== undefined) {
      if (!link.congested) link.sendPublish(d, 0, false);
      else {
        counters.messagesDroppedQos0++;
        this.dropped();
      }
      return;
    }
    if (d.qos === 0 && !this.limits.queueQos0Messages) {
      counters.messagesDroppedQos0++;
      this.droppedCount++;
      return;
    }
    // QoS 1/2 keep their order: once anything waits, everything after it waits too.
    const direct = link !== undefined && this.queuedCount === 0 && this.mayFly(link) && !link.congested;
    if (!direct && !this.makeRoom(d)) return;
    const journal = this.journal;
    if (journal !== undefined && journal.admit(this, d)) {
      // stored, but not yet committed (or written by another worker): it waits in the queue
      this.push(d);
      d.hold!.wait(this);
      return;
    }
    if (direct) {
      this.send(link, d, now);
      return;
    }
    journal?.write(this, d, 0, 0);
    this.push(d);
  }

  /** May one more QoS 1/2 PUBLISH go to the client: max_inflight_messages (send quota) and max_inflight_bytes. */
  mayFly(link: SessionLink): boolean {
    if (this.outbound.size >= link.sendQuota) return false;
    const maxBytes = this.limits.maxInflightBytes;
    return maxBytes === undefined || maxBytes === 0 || this.outbound.bytes < maxBytes;
  }

  /** false when the queue is full and the new delivery is dropped (drop_newest); otherwise there is room */
  private makeRoom(d: Delivery): boolean {
    const size = messageSize(d.message);
    const full =
      (this.limits.maxQueuedMessages > 0 && this.pending.length >= this.limits.maxQueuedMessages) ||
      (this.limits.maxQueuedBytes > 0 && this.pending.bytes + size > this.limits.maxQueuedBytes);
    if (!full) return true;
    counters.messagesDroppedQueueFull++;
    this.dropped();
    if (!this.limits.dropOldest || this.pending.length === 0) return false;
    const old = this.pending.dropOldest();
    if (old !== undefined) this.journal?.done(this, old);
    return true;
  }

  private dropped(): void {
    this.droppedCount++;
    if (this.dropping) return;
    this.dropping = true;
    this.limits.dropping?.(this);
  }

  private push(d: Delivery): void {
    this.pending.push(d, this.window());
    if (this.journal !== undefined) this.pending.spill(this.window(), this);
  }

  private send(link: SessionLink, d: Delivery, _now: number): void {
    if (d.qos === 0) {
      link.sendPublish(d, 0, false);
      this.journal?.done(this, d);
      return;
    }
    const id = this.outbound.allocateId();
    const e = this.outbound.add(id, d);
    const journal = this.journal;
    let after: Promise<void> | undefined;
    if (journal !== undefined) {
      journal.write(this, d, id, e.state);
      // exactly once: a QoS 2 PUBLISH leaves only with its packet id on disk, so a restart sends it again with the same id
      if (d.qos === 2) after = journal.commit();
    }
    // [MQTT-3.1.2-25] a message too large for the client is discarded as if sent and acknowledged
    if (!link.sendPublish(d, id, false, after)) this.complete(id);
  }

  /** An outbound entry is finished: it leaves the table and its stored entry is deleted. */
  private complete(packetId: number): void {
    const e = this.outbound.get(packetId);
    if (e === undefined) return;
    this.outbound.delete(packetId);
    this.journal?.done(this, e.delivery);
  }

  /** Sends queued messages while the client's quota allows; drops expired ones [MQTT-3.3.2-5]. */
  pump(now: number): void {
    const link = this.link;
    const window = this.window();
    const queue = this.queue;
    if (queue === undefined) return;
    if (this.journal !== undefined) queue.spill(window, this);
    if (link === undefined) return;
    while (queue.length > 0 && !link.congested) {
      queue.fill(window, this);
      const d = queue.peek();
      if (d === undefined) return; // the tail waits for its commit (pumped again then)
      if (d.hold !== undefined && !d.hold.done) return; // pumped again when it settles
      if (d.qos > 0 && !this.mayFly(link)) return;
      queue.shift();
      if (isExpired(d.message, now)) {
        counters.messagesExpired++;
        this.journal?.done(this, d);
        continue;
      }
      this.send(link, d, now);
    }
  }

  /**
   * Attaches a connection: unacknowledged messages are sent again first, in their original
   * order, with DUP set on PUBLISH and PUBREL sent for those already PUBRECed [MQTT-4.4.0-1];
   * then the queue drains as fast as the client's Receive Maximum allows.
   */
  attach(link: SessionLink, now: number): void {
    this.link = link;
    this.expiresAt = 0;
    this.dropping = false;
    this.recheckQueued();
    for (const e of this.outbound.values()) {
      if (e.state === 3 /* AwaitPubcomp */) link.sendPubrel(e.packetId);
      else if (!link.sendPublish(e.delivery, e.packetId, true)) this.complete(e.packetId);
    }
    this.pump(now);
  }

  /**
   * What was queued while the client was away passes the reader's ACL again before it is sent:
   * rights may have changed meanwhile (ACL reload, dynamic security). Once per attach, keeping
   * the queue's order; messages queued while connected were checked when routed moments ago.
   */
  private recheckQueued(): void {
    if (this.limits.mayRead === undefined) return;
    this.queue?.retain(this);
  }

  /**
   * The reader's ACL for a queued delivery; a denied one is finished (its entry goes). Applied
   * on attach to what is in memory, and to every delivery read back from the store.
   */
  keepQueued(d: Delivery): boolean {
    const mayRead = this.limits.mayRead;
    if (mayRead === undefined || mayRead(this, d.message.topic)) return true;
    counters.aclDenied++;
    this.journal?.done(this, d);
    return false;
  }

  detach(now: number): void {
    this.link = undefined;
    this.queue?.evictHead(this);
    this.expiresAt = this.expiryInterval === NEVER_EXPIRES ? 0 : now + this.expiryInterval * 1000;
  }

  puback(packetId: number, now: number): AckResultValue {
    const e = this.journal === undefined ? undefined : this.outbound.get(packetId);
    const r = this.outbound.puback(packetId);
    if (r === AckResult.Completed) this.finished(e, now);
    return r;
  }

  pubrec(packetId: number, reasonCode: number, now: number): AckResultValue {
    const journal = this.journal;
    const e = journal === undefined ? undefined : this.outbound.get(packetId);
    const r = this.outbound.pubrec(packetId, reasonCode);
    if (r === AckResult.SendPubrel) {
      // once PUBREL is out, the client may forget the id: the PUBLISH must never be sent again, even after a restart
      if (e !== undefined) journal!.write(this, e.delivery, packetId, e.state);
      this.link?.sendPubrel(packetId, journal?.commit());
    } else if (r === AckResult.Completed) this.finished(e, now);
    return r;
  }

  pubcomp(packetId: number, now: number): AckResultValue {
    const e = this.journal === undefined ? undefined : this.outbound.get(packetId);
    const r = this.outbound.pubcomp(packetId);
    if (r === AckResult.Completed) this.finished(e, now);
    return r;
  }

  /** `e`: the finished entry, looked up only for a stored session (its entry is deleted) */
  private finished(e: OutboundEntry | undefined, now: number): void {
    if (e !== undefined) this.journal?.done(this, e.delivery);
    this.pump(now);
  }

  /** Queued deliveries, oldest first (those in the store read back, a batch at a time). */
  queued(): Iterable<Delivery> {
    return this.queue?.all() ?? [];
  }

  /** The queue in its parts, in order: the head, the disk segment (numbers; undefined when empty), the tail. */
  queueParts(): ReturnType<SessionQueue['parts']> {
    return this.pending.parts();
  }

  /** Queued deliveries held in memory (what may wait on a Hold). */
  queuedInMemory(): Iterable<Delivery> {
    return this.queue?.inMemoryDeliveries() ?? [];
  }

  /** Appends a delivery to the queue as is (restoring a session), bypassing the limits. */
  restoreQueued(d: Delivery): void {
    this.pending.push(d, this.window());
  }

  /**
   * A restored session's queued entries that stay in the store (start-up reads only the first
   * ones): `count` entries, `bytes` of payload, with `after` < qseq ≤ `last`.
   */
  restoreQueuedOnDisk(after: number, last: number, count: number, bytes: number): void {
    this.pending.restoreDisk(after, last, count, bytes);
    this.lastQseq = Math.max(this.lastQseq, last);
  }

  /** What a clean stop of run `run` writes of this stored session's queue (src/persistence/cleanStop.ts). */
  queueTally(run: number): QueueTally {
    const t = this.pending.tally();
    const sent: number[] = [];
    for (const e of this.outbound.values()) if (e.delivery.qseq !== 0) sent.push(e.delivery.qseq);
    return { r: run, a: t.after, l: t.last, c: t.count, b: t.bytes, s: sent };
  }

  /**
   * The session record is being deleted (its entries with it): its deliveries let go of their
   * stored messages. The session keeps its queue (read into memory from the store).
   */
  forgetStored(): void {
    this.queue?.load();
    this.forgetAll();
  }

  private forgetAll(): void {
    const journal = this.journal;
    if (journal === undefined) return;
    this.queue?.forgetDisk();
    for (const d of this.queuedInMemory()) journal.forget(this, d);
    for (const e of this.outbound.values()) journal.forget(this, e.delivery);
  }

  /** Forgets queued and inflight messages (clean start, expiry); their stored entries go with the session record. */
  clearMessages(): void {
    this.forgetAll();
    this.queue?.clear();
    this.outbound.clear();
    this.inbound.clear();
  }
}

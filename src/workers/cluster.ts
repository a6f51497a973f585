/**
 * One worker's side of the cross-worker data plane (DESIGN.md "Threads and ownership"):
 * - its outgoing rings (one per other worker) and the backlog behind a full ring;
 * - draining its incoming rings when its doorbell rings (Atomics.waitAsync, never polling);
 * - the interest mirror: which workers subscribe to what, kept in step by Gain/Lose/Group
 *   records, so that a PUBLISH goes only to workers that want it;
 * - `$share` groups across workers: this worker picks the member worker, that worker the member;
 * - retained updates to every worker, ordered by a broker-wide stamp.
 * Session handover between workers is in handover.ts.
 *
 * Ordering: records from one worker to another travel one FIFO ring, and a worker's writes are
 * published (flush) before any socket write of the same turn, so a subscription acknowledged to
 * a client is known to every worker before that client can publish anything [MQTT-4.6.0-5 holds
 * per publisher because one publisher's messages take one ring].
 * Back-pressure: when a ring is full, records wait in a backlog in order and the connection that
 * produced them stops reading; draining never writes to a ring, so two workers filling each
 * other's rings cannot deadlock.
 * called from: worker (each worker has one Cluster; nothing here is touched by another thread
 * except through the rings, doorbells, registry and state slots)
 */
import type { Broker } from '../broker/broker.ts';
import type { ClusterLink, MovedSession, Pausable } from '../broker/clusterLink.ts';
import { InterestTree } from './interestTree.ts';
import type { Journal } from '../durability/journal.ts';
import type { RemoteEntry, RemoteItem, Ticket } from '../durability/ticket.ts';
import type { Hold } from '../durability/hold.ts';
import type { Message } from '../model/message.ts';
import type { ParsedFilter } from '../model/subscription.ts';
import { counters } from '../metrics/counters.ts';
import { Doorbells } from './doorbell.ts';
import { Handover } from './handover.ts';
import {
  CONTROL_HEADER, Kind, PubFlag, packr, publishParts, publishRecordLength, readPublishRecord, writePublishRecord,
  type PublishParts, type PublishRecord,
} from './wire.ts';
import { ClientRegistry } from './registry.ts';
import { RingConsumer, RingProducer } from './ring.ts';
import { State, storedSubscribersSlot, type ClusterShared } from './shared.ts';

interface Outbox {
  readonly ring: RingProducer;
  /** records that did not fit, oldest first; they go before anything newer */
  readonly backlog: Buffer[];
  /** bytes of backlog[0] already sent as fragments */
  fragmentAt: number;
}

interface Inbox {
  readonly ring: RingConsumer;
  /** pieces of a fragmented record */
  fragments: Buffer[];
}

/** One Stored answer: [ticket, seq, entries, failed, its one entry carries the message inline] (RemoteItem on the wire). */
type StoredAnswer = [number, number, RemoteEntry[], 0 | 1, 0 | 1];

export class Cluster implements ClusterLink {
  readonly self: number;
  readonly workers: number;
  readonly registry: ClientRegistry;
  readonly interest: InterestTree;
  congested = false;
  private broker!: Broker;
  private handover!: Handover;
  private readonly out: (Outbox | undefined)[] = [];
  private readonly in: (Inbox | undefined)[] = [];
  private readonly doorbells: Doorbells;
  private readonly state: Int32Array;
  /** state slot of each worker's stored-subscriber count */
  private readonly storedSlots: number[] = [];
  /** this worker's non-shared filters → entries in its topic tree */
  private readonly localFilters = new Map<string, number>();
  /** this worker's share groups, `group\0filter` → members */
  private readonly localGroups = new Map<string, number>();
  private readonly paused: Pausable[] = [];
  private lastSeen = 0;
  private draining = false;
  private stopped = false;
  /** buffer and offset of the record being written (set by space()) */
  private wbuf: Buffer = Buffer.alloc(0);
  /** durable publishes of this worker waiting for another worker's Stored answer, by ticket number */
  private readonly tickets = new Map<number, { t: Ticket; w: number }>();
  private lastTicket = 0;
  /** per worker: Stored answers and Release notes to send at the next flush */
  private readonly answers: StoredAnswer[][] = [];
  private readonly releases: [number, boolean][][] = [];

  constructor(shared: ClusterShared, self: number) {
    this.self = self;
    this.workers = shared.workers;
    this.registry = new ClientRegistry(shared.registry);
    this.doorbells = new Doorbells(shared.doorbells);
    this.state = new Int32Array(shared.state);
    this.interest = new InterestTree(shared.workers);
    for (let w = 0; w < this.workers; w++) {
      this.storedSlots.push(storedSubscribersSlot(shared, w));
      this.answers.push([]);
      this.releases.push([]);
      const o = shared.rings[self * this.workers + w];
      this.out.push(o ? { ring: new RingProducer(o), backlog: [], fragmentAt: 0 } : undefined);
      const i = shared.rings[w * this.workers + self];
      this.in.push(i ? { ring: new RingConsumer(i), fragments: [] } : undefined);
    }
  }

  /** Starts serving: announces this worker to the others and begins draining its rings. */
  start(broker: Broker): void {
    this.broker = broker;
    this.handover = new Handover(this, broker);
    if (broker.journal !== undefined) {
      broker.journal.sendRelease = (w, seq, ok) => {
        this.releases[w]!.push([seq, ok]);
        broker.flushSoon();
      };
    }
    Atomics.store(this.state, State.alive + this.self, 1);
    this.broadcast(Kind.Reset, {}, true);
    this.flush();
    void this.run();
  }

  stop(): void {
    this.stopped = true;
  }

  alive(w: number): boolean {
    return Atomics.load(this.state, State.alive + w) === 1;
  }

  // ---- ClusterLink ----------------------------------------------------------------------

  route(message: Message, _now: number, journal: Journal | undefined, groups: boolean): number {
    const match = this.interest.match(message.topic);
    let reached = 0;
    let parts: PublishParts | undefined;
    if (message.retain) {
      parts = publishParts(message);
      for (let w = 0; w < this.workers; w++) {
        if (w === this.self || !this.alive(w)) continue;
        const route = match.workers.includes(w);
        if (route) reached++;
        if (route) this.writeRouted(w, parts, PubFlag.Route | PubFlag.RetainUpdate, 0, '', '', journal);
        else this.writePublish(w, parts, PubFlag.RetainUpdate, 0, '', '', 0);
      }
    } else {
      for (const w of match.workers) {
        if (w === this.self || !this.alive(w)) continue;
        parts ??= publishParts(message);
        this.writeRouted(w, parts, PubFlag.Route, 0, '', '', journal);
        reached++;
      }
    }
    if (!groups) return reached;
    for (const g of match.groups) {
      let w = g.pick();
      if (w === this.self) {
        if (this.broker.deliverToGroup(g.group, g.filter, message)) {
          reached++;
          continue;
        }
        w = g.pick(this.self);
      }
      if (w < 0 || !this.alive(w)) continue;
      parts ??= publishParts(message);
      this.writeRouted(w, parts, PubFlag.Shared, 1, g.group, g.filter, journal);
      reached++;
    }
    return reached;
  }

  storedSubscribers(delta: 1 | -1): void {
    Atomics.add(this.state, this.storedSlots[this.self]!, delta);
  }

  /**
   * The number a Durable record to worker `w` carries (worker `w` answers for it with a Stored
   * record); 0 = not durable: no ticket, or `w` has no stored session that could receive it.
   */
  private ticketFor(journal: Journal | undefined, w: number): number {
    if (journal === undefined || Atomics.load(this.state, this.storedSlots[w]!) === 0) return 0;
    const ticket = journal.ticket();
    ticket.waiting++;
    const n = ++this.lastTicket;
    this.tickets.set(n, { t: ticket, w });
    return n;
  }

  retainStamp(): number {
    return Atomics.add(this.state, State.retainStamp, 1) + 1;
  }

  interestChanged(filter: ParsedFilter, delta: 1 | -1): void {
    if (filter.group === undefined) {
      const n = (this.localFilters.get(filter.filter) ?? 0) + delta;
      if (n > 0) this.localFilters.set(filter.filter, n);
      else this.localFilters.delete(filter.filter);
      if (n === 1 && delta === 1) this.announce(Kind.Gain, { f: filter.filter });
      else if (n === 0) this.announce(Kind.Lose, { f: filter.filter });
      return;
    }
    const key = `${filter.group}\0${filter.filter}`;
    const n = (this.localGroups.get(key) ?? 0) + delta;
    if (n > 0) this.localGroups.set(key, n);
    else this.localGroups.delete(key);
    this.announce(Kind.Group, { g: filter.group, f: filter.filter, c: n });
  }

  acquire(clientId: string, cleanStart: boolean, username: string | undefined, done: (moved: MovedSession | undefined) => void): boolean {
    return this.handover.acquire(clientId, cleanStart, username, done);
  }

  adopt(clientId: string): void {
    this.registry.claim(clientId, this.self);
  }

  released(clientId: string): void {
    this.registry.release(clientId, this.self);
  }

  sync(): void {
    if (this.doorbells.value(this.self) !== this.lastSeen) this.drain();
  }

  flush(): void {
    for (let w = 0; w < this.workers; w++) {
      const a = this.answers[w]!;
      if (a.length > 0) this.send(w, Kind.Stored, { i: a.splice(0) });
      const r = this.releases[w]!;
      if (r.length > 0) this.send(w, Kind.Release, { r: r.splice(0) });
    }
    let backlogged = false;
    for (let w = 0; w < this.workers; w++) {
      const o = this.out[w];
      if (o === undefined) continue;
      if (o.backlog.length > 0 && !this.moveBacklog(o)) backlogged = true;
      if (o.ring.publish()) this.doorbells.ring(w);
    }
    if (backlogged) {
      this.congested = true;
    } else if (this.congested) {
      this.congested = false;
      for (const r of this.paused.splice(0)) r.resume();
    }
  }

  pauseReader(reader: Pausable): void {
    reader.pause();
    this.paused.push(reader);
  }

  // ---- writing ----------------------------------------------------------------------------

  /** Offset in this.wbuf where a record of `length` bytes to worker `w` goes: in the ring, or in a new backlog buffer. */
  private space(w: number, length: number): number {
    const o = this.out[w]!;
    // published by flush() at the end of this turn, whether or not any socket is written
    this.broker.flushSoon();
    if (o.backlog.length === 0 && length <= o.ring.maxRecord) {
      const off = o.ring.reserve(length);
      if (off >= 0) {
        this.wbuf = o.ring.data;
        return off;
      }
    }
    const b = Buffer.allocUnsafe(length);
    o.backlog.push(b);
    counters.ringBacklogRecords++;
    this.congested = true;
    this.wbuf = b;
    return 0;
  }

  /** A PUBLISH record that delivers to `w`: Durable (with a ticket number) when `w` may have to store it. */
  private writeRouted(w: number, parts: PublishParts, flags: number, hops: number, group: string, filter: string, journal: Journal | undefined): void {
    const n = this.ticketFor(journal, w);
    if (n === 0) this.writePublish(w, parts, flags, hops, group, filter, 0);
    else this.writePublish(w, parts, flags | PubFlag.Durable, hops, group, filter, n, journal!.routedInbound()?.packetId ?? 0);
  }

  writePublish(w: number, parts: PublishParts, flags: number, hops: number, group: string, filter: string, ticket: number, inboundId = 0): void {
    const off = this.space(w, publishRecordLength(parts, group, filter));
    writePublishRecord(this.wbuf, off, parts, flags, hops, group, filter, ticket, inboundId);
  }

  /** Sends a control record to worker `w`. */
  send(w: number, kind: number, body: unknown): void {
    this.sendPacked(w, kind, packr.pack(body));
  }

  private sendPacked(w: number, kind: number, bytes: Buffer): void {
    const off = this.space(w, CONTROL_HEADER + bytes.length);
    const b = this.wbuf;
    b[off] = kind;
    b[off + 1] = b[off + 2] = b[off + 3] = 0;
    bytes.copy(b, off + CONTROL_HEADER);
  }

  /** Sends a control record to every other running worker (`all`: also to those not running yet). */
  broadcast(kind: number, body: unknown, all = false): void {
    const bytes = packr.pack(body);
    for (let w = 0; w < this.workers; w++) {
      if (w !== this.self && (all || this.alive(w))) this.sendPacked(w, kind, bytes);
    }
  }

  /** Applies an interest change of this worker to its own mirror and tells the others. */
  private announce(kind: number, body: { f: string; g?: string; c?: number }): void {
    this.applyInterest(this.self, kind, body);
    this.broadcast(kind, body);
  }

  /** Moves backlog records into the ring (large ones as fragments); true when the backlog is empty. */
  private moveBacklog(o: Outbox): boolean {
    const ring = o.ring;
    while (o.backlog.length > 0) {
      const b = o.backlog[0]!;
      if (b.length <= ring.maxRecord) {
        const off = ring.reserve(b.length);
        if (off < 0) return false;
        b.copy(ring.data, off);
      } else {
        const piece = ring.maxRecord - CONTROL_HEADER;
        while (o.fragmentAt < b.length) {
          const n = Math.min(piece, b.length - o.fragmentAt);
          const off = ring.reserve(n + CONTROL_HEADER);
          if (off < 0) return false;
          const d = ring.data;
          d[off] = Kind.Fragment;
          d[off + 1] = o.fragmentAt + n === b.length ? 1 : 0;
          d[off + 2] = d[off + 3] = 0;
          b.copy(d, off + CONTROL_HEADER, o.fragmentAt, o.fragmentAt + n);
          o.fragmentAt += n;
        }
        o.fragmentAt = 0;
      }
      o.backlog.shift();
    }
    return true;
  }

  // ---- reading ----------------------------------------------------------------------------

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.drain();
      await this.doorbells.wait(this.self, this.lastSeen);
    }
  }

  /** Reads everything the other workers published, then schedules this worker's writes. */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    this.lastSeen = this.doorbells.value(this.self);
    try {
      for (let w = 0; w < this.workers; w++) {
        const inbox = this.in[w];
        if (inbox === undefined) continue;
        const ring = inbox.ring;
        for (let off = ring.next(); off >= 0; off = ring.next()) {
          try {
            this.dispatch(w, inbox, ring.data, off, ring.length);
          } catch (err) {
            this.broker.log.error(`record from worker ${w} failed`, err);
          }
        }
        if (ring.release()) this.doorbells.ring(w);
      }
    } finally {
      this.draining = false;
    }
    // also retries this worker's own backlog: a doorbell may mean a ring it writes to has room again
    this.broker.flushSoon();
  }

  private dispatch(from: number, inbox: Inbox, buf: Buffer, off: number, length: number): void {
    const kind = buf[off]!;
    if (kind === Kind.Publish) {
      this.receivePublish(from, buf, off, length);
      return;
    }
    if (kind === Kind.Fragment) {
      inbox.fragments.push(Buffer.from(buf.subarray(off + CONTROL_HEADER, off + length)));
      if (buf[off + 1] === 1) {
        const whole = Buffer.concat(inbox.fragments);
        inbox.fragments = [];
        this.dispatch(from, inbox, whole, 0, whole.length);
      }
      return;
    }
    const body = packr.unpack(buf.subarray(off + CONTROL_HEADER, off + length)) as Record<string, unknown>;
    switch (kind) {
      case Kind.Gain:
      case Kind.Lose:
      case Kind.Group:
        this.applyInterest(from, kind, body as { f: string; g?: string; c?: number });
        return;
      case Kind.Reset:
        this.peerReset(from);
        return;
      case Kind.Stored:
        for (const [n, seq, e, failed, inline] of (body as { i: StoredAnswer[] }).i) {
          const pending = this.tickets.get(n);
          if (pending === undefined) continue;
          this.tickets.delete(n);
          if (failed === 1) pending.t.failed = true;
          this.broker.journal?.answered(pending.t, from, inline === 1 ? { s: seq, e, x: true } : { s: seq, e });
        }
        return;
      case Kind.Release:
        for (const [seq, ok] of (body as { r: [number, boolean][] }).r) this.broker.journal?.released(seq, ok);
        return;
      case Kind.Unref:
        this.broker.journal?.unrefSeqs((body as { s: number[] }).s);
        return;
      case Kind.Adopted:
        this.broker.journal?.returned((body as { k: number }).k);
        return;
      default:
        this.handover.receive(from, kind, body);
    }
  }

  private receivePublish(from: number, buf: Buffer, off: number, length: number): void {
    const r = readPublishRecord(buf, off, length, from);
    const journal = (r.flags & PubFlag.Durable) !== 0 ? this.broker.journal : undefined;
    if (journal === undefined) {
      this.deliverRecord(r);
      return;
    }
    // a durable publish: the publishing worker writes the entries this worker's sessions need
    const inbound = r.inboundId === 0 ? undefined : { clientId: r.message.origin, packetId: r.inboundId };
    // deliveries a session handover took to another worker (late): the answer waits until they are written there
    const { item, late, routed: forward } = journal.routeRemote(from, inbound, () => this.deliverRecord(r));
    let next: Hold | undefined;
    if (forward >= 0) {
      // the group's members left this worker: the next worker answers this one, which then answers the publisher
      // (this worker's entries go in its own transaction: the publisher's QoS 2 id with them)
      journal.beginPublish(r.message, inbound, true);
      this.writeRouted(forward, publishParts(r.message), PubFlag.Shared, r.hops + 1, r.group, r.filter, journal);
      next = journal.endPublish()?.hold;
    }
    const answer = (): void => this.answer(from, r.ticket, item, (late?.failed ?? false) || (next?.failed ?? false));
    afterHold(late, () => afterHold(next, answer));
  }

  /** Delivers a PUBLISH record here; returns the worker a `$share` record must go on to, or -1. */
  private deliverRecord(r: PublishRecord): number {
    if ((r.flags & PubFlag.Shared) === 0) {
      this.broker.receive(r.message, (r.flags & PubFlag.Route) !== 0, (r.flags & PubFlag.RetainUpdate) !== 0);
      return -1;
    }
    if (this.broker.deliverToGroup(r.group, r.filter, r.message)) return -1;
    // the members left this worker meanwhile: another worker of the group takes it
    const w = this.interest.group(r.group, r.filter)?.pick(this.self) ?? -1;
    if (w >= 0 && r.hops < this.workers && this.alive(w)) {
      if ((r.flags & PubFlag.Durable) !== 0) return w;
      this.writePublish(w, publishParts(r.message), PubFlag.Shared, r.hops + 1, r.group, r.filter, 0);
    } else counters.messagesDroppedNoMember++;
    return -1;
  }

  /**
   * Queues the answer to a Durable record of worker `w`. `failed`: not everything could be stored
   * (the publisher is not told "stored"); the entries in `item` are written all the same.
   */
  private answer(w: number, ticket: number, item: RemoteItem, failed: boolean): void {
    this.answers[w]!.push([ticket, item.s, item.e, failed ? 1 : 0, item.x === true ? 1 : 0]);
    this.broker.flushSoon();
  }

  private applyInterest(w: number, kind: number, body: { f: string; g?: string; c?: number }): void {
    if (kind === Kind.Group) this.interest.setGroupCount(body.g!, body.f, w, body.c!);
    else this.interest.setInterest(body.f, w, kind === Kind.Gain);
  }

  /**
   * Worker `w` (re)started: forget what its predecessor announced, tell it this worker's
   * interest, and (from one worker only) the retained messages it has lost.
   */
  private peerReset(w: number): void {
    this.interest.forgetWorker(w);
    for (const f of this.localFilters.keys()) this.send(w, Kind.Gain, { f });
    for (const [key, c] of this.localGroups) {
      const [g, f] = key.split('\0') as [string, string];
      this.send(w, Kind.Group, { g, f, c });
    }
    let first = 0;
    while (first === w || (first < this.workers && !this.alive(first))) first++;
    if (first !== this.self) return;
    for (const m of this.broker.retained.all()) this.writePublish(w, publishParts(m), PubFlag.RetainUpdate, 0, '', '', 0);
  }

  /** The main thread says worker `w` died: route nothing more to it, finish handovers waiting on it. */
  peerDown(w: number): void {
    this.interest.forgetWorker(w);
    this.handover.peerDown(w);
    // its answers will never come: those publishes are not acknowledged as stored
    for (const [n, pending] of this.tickets) {
      if (pending.w !== w) continue;
      this.tickets.delete(n);
      this.broker.journal?.answered(pending.t, w, undefined);
    }
    this.broker.journal?.releaseAllFrom(w);
    this.answers[w]!.length = 0;
    this.releases[w]!.length = 0;
  }
}

/** Runs `fn` once `hold` has settled, or at once when there is none. */
function afterHold(hold: Hold | undefined, fn: () => void): void {
  if (hold === undefined) fn();
  else hold.later(fn);
}

/**
 * A client id is connected once in the whole broker [MQTT-3.1.4-3]. When a CONNECT names a client
 * id whose session another worker holds, that worker (the old owner, A) closes its connection
 * with 0x8E and hands the session to the new one (B). Nothing is lost, duplicated or reordered:
 *
 *   B → A  Takeover {id, clean, u}   A closes the old connection, moves the registry entry to B
 *   A → B  Session {id, s}           the session (null on clean start or for another user u); A keeps the session's
 *                                    subscriptions and forwards what still matches there. A stored
 *                                    session goes once its entries' earlier writes are committed
 *   A → B  Forward {id, d, k} …      deliveries routed to A before the senders knew of B
 *   B → A  Adopted {k}               B counts the messages of the stored session's entries on disk,
 *                                    which A lent it with the session (Journal.lendRange)
 *   B → A  Committed {k: [key, ok]}  B committed the entries of forwarded deliveries (k ≠ 0)
 *   B → *  Fence {id, old: A}        sent after B's subscription records: every worker W that
 *                                    reads it routes to B from now on, and answers
 *   W → A, W → B  Echo {id}          "everything I routed before the fence is ahead of this"
 *   A → B  Released {id}             A has every echo: all forwarded deliveries are ahead of this
 *
 * A forwards a delivery only when its origin worker has not yet passed the fence; B skips the
 * deliveries whose origin has not passed it (A forwards those) and holds the others until
 * Released, so every publisher's messages reach the session once and in order. That holds for
 * deliveries both workers get a copy of (non-shared routes). A `$share` pick and a retained
 * message on SUBSCRIBE reach one worker only: A forwards them and B holds them, whatever the
 * fence.
 *
 * A stored session's entries on disk stay where they are: A lends B the counts of the messages
 * they refer to, so B reads them back as its own. A message shared with another session on A is
 * copied first, and the entries rewritten to the copy, whose count is lent once that is
 * committed. Only when that commit fails does A read the entries into the record, for B to
 * rewrite to copies of its own, as it does the deliveries in memory.
 *
 * A stored session's deliveries that A forwards or B holds are written by B, later than the
 * publish's own transaction: the publish's answer (or, on the publishing worker, its ticket)
 * waits for B's commit of them (Journal.late(); A learns of it through Committed), so that an
 * acknowledged message is on disk for the moving session too.
 * called from: worker
 */
import type { Broker } from '../broker/broker.ts';
import type { MovedSession } from '../broker/clusterLink.ts';
import type { Ticket } from '../durability/ticket.ts';
import type { MoveOut } from '../durability/journal.ts';
import type { LateDone } from '../durability/hold.ts';
import type { Delivery } from '../model/delivery.ts';
import type { Session } from '../broker/session.ts';
import { deliveryFromRecord, deliveryToRecord, type DeliveryRecord, type SessionRecord } from '../records/session.ts';
import { sessionFromRecord, sessionToRecord, withDiskSegment } from '../broker/sessionTransfer.ts';
import type { Cluster } from './cluster.ts';
import { Kind } from './wire.ts';

/** how long a step may wait for a worker that does not answer (it died) before going on */
const STEP_TIMEOUT_MS = 3000;

interface Waiter {
  readonly cleanStart: boolean;
  /** the user connecting: a session of another user is not handed over */
  readonly username: string | undefined;
  readonly done: (moved: MovedSession | undefined) => void;
}

/** B: CONNECTs waiting for the session from `from` */
interface Pending {
  from: number;
  readonly waiters: Waiter[];
  timer: NodeJS.Timeout;
}

/** A: a session handed to `to`, still forwarding for the origins in `waiting` */
interface Handing {
  readonly session: Session;
  readonly to: number;
  readonly waiting: Set<number>;
  readonly timer: NodeJS.Timeout;
  /** the session has a stored record (its forwarded deliveries are written by the new owner) */
  readonly stored: boolean;
  /** forwards made before the session record went (it waits for this worker's writes to be committed) */
  early: ForwardBody[] | undefined;
}

interface ForwardBody {
  id: string;
  d: DeliveryRecord;
  /** 0, or the key the new owner answers with Committed once the delivery's entry is written */
  k: number;
  /** with k: the publisher's QoS 2 id [client id, packet id], written with the entry */
  i?: [string, number];
}

/** A late write: what to call once it is committed, and the publisher's QoS 2 id to write with it. */
interface Late {
  readonly done: LateDone;
  readonly inbound: Ticket['inbound'];
}

/** B: a session received, until every origin has passed the fence and A has released it */
interface Arriving {
  readonly session: Session;
  readonly from: number;
  readonly waitingEcho: Set<number>;
  released: boolean;
  /** deliveries waiting for Released, with what waits for their entries' commit */
  held: { d: Delivery; late: Late | undefined }[];
  readonly timer: NodeJS.Timeout;
}

export class Handover {
  private readonly pending = new Map<string, Pending>();
  private readonly handing = new Map<string, Handing>();
  private readonly arriving = new Map<string, Arriving>();
  /** Takeover requests that came while this worker was itself receiving the session */
  private readonly deferred = new Map<string, { from: number; clean: boolean; username: string | undefined }[]>();
  /** A: forwarded deliveries whose commit at the new owner `to` a publish waits for, by key */
  private readonly lateForwards = new Map<number, { to: number; done: LateDone }>();
  private lastForwardKey = 0;
  private readonly cluster: Cluster;
  private readonly broker: Broker;

  constructor(cluster: Cluster, broker: Broker) {
    this.cluster = cluster;
    this.broker = broker;
  }

  /** See ClusterLink.acquire. */
  acquire(id: string, cleanStart: boolean, username: string | undefined, done: (moved: MovedSession | undefined) => void): boolean {
    const p = this.pending.get(id);
    if (p !== undefined) {
      // a second CONNECT with the same id while the first waits: it takes over from the first once that one has the session
      p.waiters.push({ cleanStart, username, done });
      return true;
    }
    const self = this.cluster.self;
    const owner = this.cluster.registry.claim(id, self);
    if (owner === self) return false;
    if (owner === -2) {
      this.broker.log.warning(`client id registry full: ${id} is not checked against other workers`);
      return false;
    }
    const timer = setTimeout(() => this.retry(id), STEP_TIMEOUT_MS);
    this.pending.set(id, { from: owner, waiters: [{ cleanStart, username, done }], timer });
    this.cluster.send(owner, Kind.Takeover, { id, clean: cleanStart, u: username });
    return true;
  }

  /**
   * The old owner has not answered yet: it died (peerDown), the request crossed a move, or it is
   * still reading a long stored queue. Claim again; an old owner that lives and has already moved
   * the id to this worker took the request, and its Session answer is on the way: wait on.
   */
  private retry(id: string): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    const self = this.cluster.self;
    const owner = this.cluster.registry.claim(id, self);
    if (owner === self && p.from !== self && this.cluster.alive(p.from)) {
      p.timer = setTimeout(() => this.retry(id), STEP_TIMEOUT_MS);
      return;
    }
    if (owner === self || owner === -2 || !this.cluster.alive(owner)) {
      if (owner >= 0 && owner !== self) this.cluster.registry.transfer(id, owner, self);
      this.complete(id, undefined);
      return;
    }
    p.from = owner;
    p.timer = setTimeout(() => this.retry(id), STEP_TIMEOUT_MS);
    this.cluster.send(owner, Kind.Takeover, { id, clean: p.waiters[0]!.cleanStart, u: p.waiters[0]!.username });
    this.broker.flushSoon();
  }

  receive(from: number, kind: number, body: Record<string, unknown>): void {
    const id = body.id as string;
    switch (kind) {
      case Kind.Takeover:
        return this.onTakeover(from, id, body.clean as boolean, (body.u as string | null | undefined) ?? undefined);
      case Kind.Session:
        return this.onSession(from, id, (body.s as SessionRecord | null) ?? undefined);
      case Kind.Moved:
        return this.onMoved(id, body.to as number);
      case Kind.Forward:
        return this.onForward(from, id, body.d as DeliveryRecord, (body.k as number | undefined) ?? 0, body.i as [string, number] | undefined);
      case Kind.Committed:
        for (const [k, ok] of body.k as [number, boolean][]) this.onCommitted(k, ok);
        return;
      case Kind.Fence:
        return this.onFence(from, id, body.old as number);
      case Kind.Echo:
        return this.onEcho(from, id);
      case Kind.Released:
        return this.onReleased(id);
      default:
        this.broker.log.warning(`unknown record kind ${kind} from worker ${from}`);
    }
  }

  // ---- A: the old owner -------------------------------------------------------------------

  private onTakeover(to: number, id: string, clean: boolean, username: string | undefined): void {
    if (this.pending.has(id) || this.arriving.has(id)) {
      const list = this.deferred.get(id) ?? [];
      list.push({ from: to, clean, username });
      this.deferred.set(id, list);
      return;
    }
    const self = this.cluster.self;
    const handing = this.handing.get(id);
    if (handing !== undefined) {
      this.cluster.send(to, Kind.Moved, { id, to: handing.to });
      return;
    }
    // the registry moves first, so that closing the old connection does not give the id up
    this.cluster.registry.transfer(id, self, to);
    const session = this.broker.sessions.get(id);
    // a declared session nobody has taken is the first user's (Broker.attachSession)
    if (session?.declared === true && !clean) session.username = username;
    this.broker.clients.get(id)?.takeOver(clean || session?.username !== username);
    // a session belongs to its user: another user's CONNECT with the same id starts afresh (as Mosquitto)
    if (session === undefined || clean || session.username !== username) {
      if (session !== undefined) this.broker.endSession(session, false);
      this.cluster.send(to, Kind.Session, { id, s: null });
      return;
    }
    const will = this.broker.releaseSession(session);
    const journal = session.journal;
    // a stored session's entries on disk are looked at once its earlier writes are committed (send below)
    const record = sessionToRecord(session, will, journal !== undefined);
    const holds = journal === undefined ? [] : [...session.queuedInMemory()].flatMap((d) => (d.hold !== undefined && !d.hold.done ? [d.hold] : []));
    // the stored entries now belong to the new owner: it rewrites those of deliveries in memory (then sends
    // Unref for our messages) and counts the messages of those on disk, whose counts we lent it (Adopted)
    session.journal = undefined;
    session.clearMessages();
    const waiting = new Set<number>();
    for (let w = 0; w < this.cluster.workers; w++) if (this.cluster.alive(w)) waiting.add(w);
    const h: Handing = { session, to, waiting, timer: setTimeout(() => this.finishHanding(id), STEP_TIMEOUT_MS), stored: journal !== undefined, early: undefined };
    this.handing.set(id, h);
    session.intercept = (d, _now, mirrored) => {
      // a mirrored delivery whose origin has passed the fence reached the new owner too
      if (mirrored && !h.waiting.has(d.message.originWorker)) return;
      const forward: ForwardBody = { id, d: deliveryToRecord(d), k: 0 };
      const late = h.stored && d.qos > 0 ? this.late() : undefined;
      if (late !== undefined) {
        forward.k = ++this.lastForwardKey;
        this.lateForwards.set(forward.k, { to: h.to, done: late.done });
        if (late.inbound !== undefined) forward.i = [late.inbound.clientId, late.inbound.packetId];
      }
      if (h.early !== undefined) h.early.push(forward);
      else this.cluster.send(h.to, Kind.Forward, forward);
    };
    if (journal === undefined) {
      this.cluster.send(to, Kind.Session, { id, s: record });
      return;
    }
    // The new owner rewrites the entries under the same keys, and the last commit wins: it gets the
    // session only once every earlier write of them is committed, ours and those of publishing
    // workers whose Release this queue still waits for. Forwards wait behind it.
    h.early = [];
    const finish = (lent: MoveOut | undefined): void => {
      withDiskSegment(record, journal, session, lent, (text) => this.broker.log.warning(text));
      this.cluster.send(to, Kind.Session, { id, s: record });
      for (const f of h.early!) this.cluster.send(to, Kind.Forward, f);
      h.early = undefined;
      this.broker.flushSoon();
    };
    const send = (committed: boolean): void => {
      // the disk segment is looked at now, when the store holds what the counts say
      const disk = record.disk;
      const lent = committed && disk !== undefined ? journal.lendRange(session, disk.a, disk.l) : undefined;
      if (lent === undefined || lent.copies.length === 0) return finish(lent);
      // entries rewritten to copies of shared messages: lent once that is committed
      journal.written().then(
        () => {
          journal.moveSettled(lent, true);
          finish(lent);
        },
        () => {
          journal.moveSettled(lent, false);
          finish(undefined);
        },
      );
    };
    let left = holds.length + 1;
    const settled = (): void => {
      if (--left === 0) journal.written().then(() => send(true), () => send(false));
    };
    for (const hold of holds) hold.later(settled);
    settled();
  }

  /** A delivery of the durable publish being routed that the new owner writes (undefined: no durable publish is being routed). */
  private late(): Late | undefined {
    const journal = this.broker.journal;
    const done = journal?.late();
    return done === undefined ? undefined : { done, inbound: journal!.routedInbound() };
  }

  private onCommitted(k: number, ok: boolean): void {
    const f = this.lateForwards.get(k);
    if (f === undefined) return;
    this.lateForwards.delete(k);
    f.done(ok);
  }

  private finishHanding(id: string): void {
    const h = this.handing.get(id);
    if (h === undefined) return;
    clearTimeout(h.timer);
    this.handing.delete(id);
    h.session.intercept = undefined;
    this.broker.removeSubscriptions(h.session);
    this.cluster.send(h.to, Kind.Released, { id });
    this.broker.flushSoon();
  }

  private passed(h: Handing, w: number): void {
    h.waiting.delete(w);
    for (const x of h.waiting) if (!this.cluster.alive(x)) h.waiting.delete(x);
    if (h.waiting.size === 0) this.finishHanding(h.session.clientId);
  }

  // ---- B: the new owner -------------------------------------------------------------------

  private onSession(from: number, id: string, record: SessionRecord | undefined): void {
    const self = this.cluster.self;
    if (this.cluster.registry.owner(id) !== self) this.cluster.registry.claim(id, self);
    if (record === undefined) {
      this.complete(id, undefined);
      return;
    }
    const { session, will, stored } = sessionFromRecord(record, this.broker.sessionQueueLimits, from);
    if (stored) {
      // the entries in memory now refer to this worker's copies; once that is on disk the old owner lets go of its messages
      const lent = record.disk ?? undefined;
      const old = this.broker.takeStoredQueue(session, lent);
      if (lent !== undefined) this.cluster.send(from, Kind.Adopted, { k: lent.k });
      if (old.length > 0) {
        this.broker.journal!.written().then(() => {
          this.cluster.send(from, Kind.Unref, { s: old });
          this.broker.flushSoon();
        }, () => {});
      }
    }
    const waitingEcho = new Set<number>();
    for (let w = 0; w < this.cluster.workers; w++) if (w !== self && this.cluster.alive(w)) waitingEcho.add(w);
    const a: Arriving = {
      session,
      from,
      waitingEcho,
      released: false,
      held: [],
      timer: setTimeout(() => this.onReleased(id, true), STEP_TIMEOUT_MS),
    };
    this.arriving.set(id, a);
    session.intercept = (d, now, mirrored) => {
      if (mirrored && a.waitingEcho.has(d.message.originWorker)) return; // A forwards it
      if (a.released) session.deliverNow(d, now);
      else a.held.push({ d, late: stored && d.qos > 0 ? this.late() : undefined });
    };
    if (this.pending.has(id)) this.complete(id, { session, will });
    else this.broker.adoptSession(session, will, Date.now());
    // after the subscription records that complete() sent: whoever reads this routes to us
    this.cluster.broadcast(Kind.Fence, { id, old: from });
  }

  /** Hands the session (or none) to the waiting CONNECTs: the first gets it, later ones take over from it. */
  private complete(id: string, moved: MovedSession | undefined): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    clearTimeout(p.timer);
    this.pending.delete(id);
    p.waiters[0]!.done(moved);
    for (let i = 1; i < p.waiters.length; i++) p.waiters[i]!.done(undefined);
    if (!this.arriving.has(id)) this.runDeferred(id);
  }

  private onMoved(id: string, to: number): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    if (to === this.cluster.self || !this.cluster.alive(to)) {
      this.retry(id);
      return;
    }
    p.from = to;
    this.cluster.send(to, Kind.Takeover, { id, clean: p.waiters[0]!.cleanStart, u: p.waiters[0]!.username });
  }

  private onForward(from: number, id: string, d: DeliveryRecord, k: number, inbound: [string, number] | undefined): void {
    const delivery = deliveryFromRecord(d, from);
    const session = this.arriving.get(id)?.session ?? this.broker.sessions.get(id);
    const committed = k === 0 ? undefined : (ok: boolean): void => {
      this.cluster.send(from, Kind.Committed, { k: [[k, ok]] });
      this.broker.flushSoon();
    };
    if (session === undefined) {
      committed?.(false);
      return;
    }
    session.deliverNow(delivery, Date.now());
    if (committed === undefined) return;
    if (inbound !== undefined) this.broker.journal?.writeInbound({ clientId: inbound[0], packetId: inbound[1] });
    this.afterWrites([committed]);
  }

  /**
   * Calls each `done` once this turn's writes are committed, at every durability mode (at once
   * without persistence): the publishing worker deletes the QoS 2 id written with them on PUBREL,
   * which must not come before.
   */
  private afterWrites(done: LateDone[]): void {
    const journal = this.broker.journal;
    if (journal === undefined) for (const fn of done) fn(true);
    else journal.written().then(() => done.forEach((fn) => fn(true)), () => done.forEach((fn) => fn(false)));
  }

  private onReleased(id: string, timedOut = false): void {
    const a = this.arriving.get(id);
    if (a === undefined) return;
    if (timedOut) a.waitingEcho.clear();
    a.released = true;
    const now = Date.now();
    const late: LateDone[] = [];
    for (const { d, late: l } of a.held.splice(0)) {
      a.session.deliverNow(d, now);
      if (l === undefined) continue;
      // the publisher's QoS 2 id goes in the same transaction as the entry (Journal.routedInbound())
      if (l.inbound !== undefined) this.broker.journal?.writeInbound(l.inbound);
      late.push(l.done);
    }
    if (late.length > 0) this.afterWrites(late);
    this.endArrival(id, a);
  }

  private endArrival(id: string, a: Arriving): void {
    if (!a.released || a.waitingEcho.size > 0) return;
    clearTimeout(a.timer);
    this.arriving.delete(id);
    a.session.intercept = undefined;
    this.runDeferred(id);
    this.broker.flushSoon();
  }

  private runDeferred(id: string): void {
    const list = this.deferred.get(id);
    if (list === undefined) return;
    this.deferred.delete(id);
    for (const r of list) this.onTakeover(r.from, id, r.clean, r.username);
  }

  // ---- every worker -----------------------------------------------------------------------

  private onFence(newOwner: number, id: string, old: number): void {
    const self = this.cluster.self;
    this.cluster.send(newOwner, Kind.Echo, { id });
    const h = this.handing.get(id);
    if (old === self) {
      // B's messages routed here before the fence are ahead of it; this worker routes to B from now on
      if (h !== undefined) {
        h.waiting.delete(newOwner);
        this.passed(h, self);
      }
    } else if (this.cluster.alive(old)) {
      this.cluster.send(old, Kind.Echo, { id });
    }
  }

  private onEcho(from: number, id: string): void {
    const h = this.handing.get(id);
    if (h !== undefined) this.passed(h, from);
    const a = this.arriving.get(id);
    if (a !== undefined) {
      a.waitingEcho.delete(from);
      this.endArrival(id, a);
    }
  }

  /** Worker `w` died: stop waiting for it. */
  peerDown(w: number): void {
    for (const [k, f] of [...this.lateForwards]) if (f.to === w) this.onCommitted(k, false);
    for (const h of [...this.handing.values()]) this.passed(h, w);
    for (const [id, a] of [...this.arriving]) {
      a.waitingEcho.delete(w);
      if (a.from === w) this.onReleased(id, true);
      else this.endArrival(id, a);
    }
    for (const [id, p] of this.pending) if (p.from === w) this.retry(id);
  }
}

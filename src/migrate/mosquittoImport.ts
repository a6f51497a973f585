/**
 * Turns a parsed Mosquitto persistence file (mosquittoDb.ts) into culex's stored records
 * (src/records/*, src/persistence/FORMAT.md), and writes them through the Store's own write
 * methods, so that imported sessions and retained messages are exactly what culex itself would
 * have written:
 * - retained messages → `retained` (MessageRecord, retain set, stamps 1…n above the store's);
 * - persistent sessions (DB_CHUNK_CLIENT) → `sessions` (SessionMeta: expiry interval, absolute
 *   expiry, username, last packet id, subscriptions from DB_CHUNK_SUB);
 * - outgoing client messages (DB_CHUNK_CLIENT_MSG, direction out) → `queue`, in Mosquitto's order
 *   (inflight list, then queued list). One that was sent already (waiting for PUBACK/PUBREC, or
 *   reset by a reconnect with DUP noted) keeps its packet id and state, so culex resends it with
 *   DUP set; one waiting for PUBCOMP keeps state 3 (culex resends the PUBREL); any other is queued
 *   (packet id 0). A message one entry refers to travels inline; one several entries share goes
 *   to the message log once;
 * - incoming QoS 2 messages waiting for PUBREL (direction in): Mosquitto delivers them only on the
 *   PUBREL, culex on receipt; so they are delivered now, to the imported sessions whose
 *   subscriptions match (and to the retained store when retained), and the packet id is kept as
 *   an inbound id so that the publisher's PUBREL is answered.
 * Messages past their expiry, client messages whose message is missing (Mosquitto: "probably
 * expired"), and sessions past their expiry time (with their subscriptions and messages) are left
 * out and counted.
 * called from: main (culex import-mosquitto), tests
 */
import { topicMatchesFilter } from '../auth/acl.ts';
import { propertiesToRecord, sourceToRecord } from '../records/message.ts';
import type { MessageRecord } from '../records/message.ts';
import { NEVER_EXPIRES, QueueState } from '../records/stored.ts';
import type { QueueEntry, QueueStateValue, SessionMeta } from '../records/stored.ts';
import type { MessageProperties } from '../model/message.ts';
import type { Properties } from '../protocol/properties.ts';
import { Direction, MsgState } from './mosquittoDb.ts';
import type { MosquittoClient, MosquittoClientMessage, MosquittoDb, MosquittoMessage, MosquittoSubscription } from './mosquittoDb.ts';

/** What an import brought in, and what it left out. */
export interface ImportCounts {
  retained: number;
  sessions: number;
  subscriptions: number;
  /** outgoing messages queued for the sessions, inflight ones included */
  queued: number;
  /** of `queued`: sent before (resent with DUP, or PUBREL resent) */
  inflight: number;
  /** incoming QoS 2 messages waiting for PUBREL, delivered at import */
  incoming: number;
  /** messages past their expiry, client messages whose message is gone */
  expired: number;
  /** sessions whose expiry time had passed (left out with their subscriptions and messages) */
  expiredSessions: number;
  /** subscriptions and client messages of clients without a session chunk */
  orphans: number;
}

/** One session as it will be written. */
export interface PlannedSession {
  readonly clientId: string;
  readonly meta: SessionMeta;
  /** in qseq order (qseq = index + 1) */
  readonly queue: QueueEntry[];
  readonly inbound: number[];
}

/** Everything to write, computed without touching the store. */
export interface ImportPlan {
  readonly retained: MessageRecord[];
  readonly sessions: PlannedSession[];
  /** messages referred to by more than one queue entry, by their seq in the message log */
  readonly log: Map<number, MessageRecord>;
  readonly counts: ImportCounts;
}

/** The parts of Store (src/persistence/store.ts) an import writes with. */
export interface ImportStore {
  putRetained(topic: string, message: MessageRecord): void;
  putSession(clientId: string, meta: SessionMeta): void;
  putQueued(clientId: string, qseq: number, entry: QueueEntry): void;
  putInbound(clientId: string, packetId: number): void;
  putMessage(seq: number, message: MessageRecord): void;
}

/** Per-delivery state kept from a Mosquitto client message: [packet id, state] (0, 0: queued). */
function outboundState(cm: MosquittoClientMessage): [number, QueueStateValue] {
  switch (cm.state) {
    case MsgState.WaitForPuback:
      return [cm.mid, QueueState.AwaitPuback];
    case MsgState.WaitForPubrec:
      return [cm.mid, QueueState.AwaitPubrec];
    case MsgState.WaitForPubcomp:
    case MsgState.ResendPubrel:
      return [cm.mid, QueueState.AwaitPubcomp];
    // reset by a reconnect (database.c db__message_reconnect_reset_outgoing): sent before when DUP is noted
    case MsgState.PublishQos1:
      return cm.dup ? [cm.mid, QueueState.AwaitPuback] : [0, QueueState.Queued];
    case MsgState.PublishQos2:
      return cm.dup ? [cm.mid, QueueState.AwaitPubrec] : [0, QueueState.Queued];
    default:
      return [0, QueueState.Queued];
  }
}

/** The subscription identifiers of a delivery's properties. */
function subscriptionIds(p: Properties | undefined): number[] | undefined {
  const v = p?.subscriptionIdentifier;
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v : [v]).filter((n): n is number => typeof n === 'number' && n > 0);
}

/** A Mosquitto message as culex's record; its remaining expiry is absolute already (seconds → ms). */
function messageRecord(m: MosquittoMessage, retain: boolean, stamp: number): MessageRecord {
  const properties = m.properties === undefined ? undefined : ({ ...m.properties } as MessageProperties);
  if (properties?.correlationData !== undefined) properties.correlationData = Buffer.from(properties.correlationData);
  if (m.expiryTime > 0 && properties !== undefined) delete properties.messageExpiryInterval; // the absolute time rules
  const split = propertiesToRecord(properties !== undefined && Object.keys(properties).length > 0 ? properties : undefined);
  return { t: m.topic, p: Buffer.from(m.payload), q: m.qos, r: retain, ...split, x: m.expiryTime > 0 ? m.expiryTime * 1000 : 0, o: m.sourceId, s: stamp };
}

/** A `$share/group/filter` as culex's ParsedFilter. */
function parsedFilter(raw: string): SessionMeta['subs'][number]['f'] {
  if (raw.startsWith('$share/')) {
    const slash = raw.indexOf('/', 7);
    if (slash > 7) return { raw, filter: raw.slice(slash + 1), group: raw.slice(7, slash) };
  }
  return { raw, filter: raw, group: undefined };
}

/**
 * What importing `db` into a store whose greatest retained stamp is `stampBase` and greatest
 * message seq is `seqBase` writes. `now`: ms since the epoch (expiry is judged against it).
 * `listenerPorts`: the ports of culex's listeners, in order: a retained message's source
 * listener is the one on the port Mosquitto stored (persist_read.c), for check_retain_source.
 */
export function planImport(db: MosquittoDb, now: number, stampBase: number, seqBase: number, listenerPorts: readonly number[] = []): ImportPlan {
  const planner = new Planner(db, now, stampBase, listenerPorts);
  for (const id of db.retained) planner.retainStored(id);
  db.clients.forEach((c, i) => planner.addSession(c, i));
  for (const s of db.subscriptions) planner.addSubscription(s);
  for (const cm of db.clientMessages) planner.addClientMessage(cm);
  planner.deliverIncoming();
  return planner.plan(seqBase);
}

type Delivery = { m: MosquittoMessage; e: Omit<QueueEntry, 'm' | 'x'> };
type SessionDraft = { clientId: string; meta: SessionMeta; deliveries: Delivery[]; inbound: number[] };

/** The state of one planImport(): sessions being built, retained messages by topic, counts. */
class Planner {
  readonly counts: ImportCounts = { retained: 0, sessions: 0, subscriptions: 0, queued: 0, inflight: 0, incoming: 0, expired: 0, expiredSessions: 0, orphans: 0 };
  private readonly db: MosquittoDb;
  private readonly now: number;
  private stamp: number;
  private readonly retained = new Map<string, MessageRecord>();
  private readonly sessions = new Map<string, SessionDraft>();
  /** sessions left out because they had expired: their records are not orphans */
  private readonly ended = new Set<string>();
  /** incoming QoS 2 messages not released yet, in file order */
  private readonly incoming: MosquittoMessage[] = [];
  private readonly listenerPorts: readonly number[];

  constructor(db: MosquittoDb, now: number, stampBase: number, listenerPorts: readonly number[]) {
    this.db = db;
    this.now = now;
    this.stamp = stampBase;
    this.listenerPorts = listenerPorts;
  }

  private live(m: MosquittoMessage | undefined): m is MosquittoMessage {
    return m !== undefined && (m.expiryTime === 0 || m.expiryTime * 1000 > this.now);
  }

  private retain(m: MosquittoMessage): void {
    if (m.payload.length === 0) this.retained.delete(m.topic); // [MQTT-3.3.1-6]
    else {
      const r = messageRecord(m, true, ++this.stamp);
      // a client's message ('' is the broker's): its source, as Mosquitto keeps it for check_retain_source
      if (m.sourceId !== '') {
        const l = m.sourcePort === 0 ? -1 : this.listenerPorts.indexOf(m.sourcePort);
        r.so = sourceToRecord({ clientId: m.sourceId, username: m.sourceUsername, listenerIndex: l < 0 ? undefined : l });
      }
      this.retained.set(m.topic, r);
    }
  }

  retainStored(id: bigint): void {
    const m = this.db.messages.get(id);
    if (this.live(m)) this.retain(m);
    else this.counts.expired++;
  }

  addSession(c: MosquittoClient, index: number): void {
    const never = c.sessionExpiryInterval === NEVER_EXPIRES;
    if (!never && c.sessionExpiryTime > 0 && c.sessionExpiryTime * 1000 <= this.now) {
      this.ended.add(c.clientId);
      this.counts.expiredSessions++;
      return;
    }
    const meta: SessionMeta = {
      owner: index, // spread over the workers (owner % workers)
      user: c.username,
      expiry: c.sessionExpiryInterval,
      // 0 (the client was online at shutdown): the broker starts the countdown when it loads the session
      expiresAt: never || c.sessionExpiryTime <= 0 ? 0 : c.sessionExpiryTime * 1000,
      subs: [],
      lastId: c.lastMid,
      will: undefined,
    };
    this.sessions.set(c.clientId, { clientId: c.clientId, meta, deliveries: [], inbound: [] });
  }

  /** The session of a subscription or client message; undefined (counted when an orphan) without one. */
  private sessionOf(clientId: string): SessionDraft | undefined {
    const session = this.sessions.get(clientId);
    if (session === undefined && !this.ended.has(clientId)) this.counts.orphans++;
    return session;
  }

  addSubscription(s: MosquittoSubscription): void {
    const session = this.sessionOf(s.clientId);
    if (session === undefined) return;
    const f = parsedFilter(s.topic);
    const o = { qos: s.qos, noLocal: s.noLocal, retainAsPublished: s.retainAsPublished, retainHandling: 0 as const, subscriptionId: s.identifier };
    const subs = session.meta.subs;
    const at = subs.findIndex((x) => x.f.raw === f.raw);
    if (at >= 0) subs[at] = { f, o };
    else subs.push({ f, o });
  }

  addClientMessage(cm: MosquittoClientMessage): void {
    const session = this.sessionOf(cm.clientId);
    if (session === undefined) return;
    const m = this.db.messages.get(cm.storeId);
    if (!this.live(m)) {
      this.counts.expired++;
      return;
    }
    if (cm.direction === Direction.In) {
      // QoS 2 from this client, not released yet: delivered by deliverIncoming(), its id awaits the PUBREL
      if (cm.qos === 2 && !session.inbound.includes(cm.mid)) {
        session.inbound.push(cm.mid);
        this.incoming.push(m);
      }
      return;
    }
    const [p, st] = outboundState(cm);
    session.deliveries.push({ m, e: { q: cm.qos, r: cm.retain, i: subscriptionIds(cm.properties), p, s: st } });
  }

  /** Routes the unreleased incoming QoS 2 messages as culex would have on receipt: one delivery per matching session. */
  deliverIncoming(): void {
    for (const m of this.incoming) {
      this.counts.incoming++;
      if (m.retain) this.retain(m);
      for (const session of this.sessions.values()) {
        let qos = -1;
        const ids: number[] = [];
        let retainFlag = false;
        for (const { f, o } of session.meta.subs) {
          if (f.group !== undefined || !topicMatchesFilter(f.filter, m.topic)) continue;
          if (o.noLocal && m.sourceId === session.clientId) continue; // [MQTT-3.8.3-3]
          qos = Math.max(qos, Math.min(o.qos, m.qos));
          if (o.subscriptionId > 0) ids.push(o.subscriptionId);
          retainFlag ||= o.retainAsPublished && m.retain; // [MQTT-3.3.1-12]
        }
        if (qos < 0) continue;
        session.deliveries.push({ m, e: { q: qos as 0 | 1 | 2, r: retainFlag, i: ids.length > 0 ? ids : undefined, p: 0, s: QueueState.Queued } });
      }
    }
  }

  /** The queue entries: a message several entries share goes to the log once (seqs above `seqBase`), one entry carries it inline. */
  plan(seqBase: number): ImportPlan {
    const uses = new Map<MosquittoMessage, number>();
    for (const s of this.sessions.values()) for (const { m } of s.deliveries) uses.set(m, (uses.get(m) ?? 0) + 1);
    const log = new Map<number, MessageRecord>();
    const seqOf = new Map<MosquittoMessage, number>();
    let seq = seqBase;
    const planned: PlannedSession[] = [];
    const counts = this.counts;
    for (const s of this.sessions.values()) {
      const queue: QueueEntry[] = [];
      for (const { m, e } of s.deliveries) {
        counts.queued++;
        if (e.s !== QueueState.Queued) counts.inflight++;
        if (uses.get(m)! === 1) {
          queue.push({ m: 0, x: messageRecord(m, m.retain, 0), ...e });
          continue;
        }
        let ms = seqOf.get(m);
        if (ms === undefined) {
          ms = ++seq;
          seqOf.set(m, ms);
          log.set(ms, messageRecord(m, m.retain, 0));
        }
        queue.push({ m: ms, ...e });
      }
      counts.sessions++;
      counts.subscriptions += s.meta.subs.length;
      planned.push({ clientId: s.clientId, meta: s.meta, queue, inbound: s.inbound });
    }
    counts.retained = this.retained.size;
    return { retained: [...this.retained.values()], sessions: planned, log, counts };
  }
}

/**
 * Writes a plan through the store's write methods, all in the current event turn: lmdb-js
 * commits them as one transaction, so an import is stored whole or not at all (the caller
 * awaits `flush()`).
 */
export function writeImport(store: ImportStore, plan: ImportPlan): void {
  for (const r of plan.retained) store.putRetained(r.t, r);
  for (const [seq, m] of plan.log) store.putMessage(seq, m);
  for (const s of plan.sessions) {
    store.putSession(s.clientId, s.meta);
    s.queue.forEach((entry, i) => store.putQueued(s.clientId, i + 1, entry));
    for (const id of s.inbound) store.putInbound(s.clientId, id);
  }
}

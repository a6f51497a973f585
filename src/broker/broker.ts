import { randomUUID } from 'node:crypto';
import type { BrokerConfig } from '../config/types.ts';
import { counters } from '../metrics/counters.ts';
import type { ClientLink } from './clientLink.ts';
import { createMessage, isExpired, type Message } from '../model/message.ts';
import { Router, type RoutePart } from './router.ts';
import { RetainedStore } from './retained.ts';
import { NEVER_EXPIRES, Session, type QueueLimits, type SessionLink } from './session.ts';
import type { ParsedFilter, SubscriptionOptions } from '../model/subscription.ts';
import { TopicTree } from './topicTree.ts';
import { DelayedWills } from './delayedWills.ts';
import { SessionExpiry } from './sessionExpiry.ts';
import type { Will } from '../model/will.ts';
import type { Logger } from '../log.ts';
import type { AclClient, AuthRequest, Authorizer, BrokerServices, DurableStore } from './services.ts';
import { aclCheck } from '../auth/acl.ts';
import type { ClusterLink, MovedSession } from './clusterLink.ts';
import type { NodeLink } from './nodeLink.ts';
import { messageFromRecord, messageToRecord, type MessageRecord } from '../records/message.ts';
import type { LoadedSession, RefTally, SessionMeta } from '../records/stored.ts';
import { Journal } from '../durability/journal.ts';
import { AckScope } from '../durability/ackScope.ts';
import { createDelivery } from '../model/delivery.ts';
import { willFromRecord, willToRecord } from '../records/session.ts';

/** how often offline sessions are checked for expiry */
const EXPIRY_SWEEP_MS = 1000;

/**
 * The broker state of one worker: its sessions and their clients, the subscription tree,
 * retained messages and pending wills. Single-threaded: only this worker touches it. It talks
 * to connections through ClientLink and SessionLink, never to a socket.
 * called from: worker
 */
export class Broker {
  readonly log: Logger;
  /** advertised v5 Receive Maximum (Mosquitto: max_inflight_messages); a reload changes it for later connections */
  receiveMaximum: number;
  readonly sessions = new Map<string, Session>();
  /** with other nodes: the filters each session holds durably, as last told (syncDurable) */
  private readonly durableFilters = new WeakMap<Session, Set<string>>();
  /** connected clients by client id */
  readonly clients = new Map<string, ClientLink>();
  readonly tree = new TopicTree<Session>();
  readonly retained = new RetainedStore();
  private readonly router: Router;
  /** shared by every session (they read it on each queue decision), so a reload reaches them all */
  private readonly queueLimits: { -readonly [K in keyof QueueLimits]: QueueLimits[K] };
  /** wills waiting for their delay (stored with the session) */
  private readonly wills = new DelayedWills((will) => {
    this.publishWill(will);
    // the session record no longer carries it
    const session = this.sessions.get(will.clientId);
    if (session?.stored === true) this.persistSession(session);
    this.flushSoon();
  });
  private readonly expiryTimer: NodeJS.Timeout;
  /** the offline sessions with an expiry, by the second they expire in */
  private readonly expiry = new SessionExpiry(Date.now());
  /** the local client ids of the configured bridges (src/bridge/), on every worker */
  private readonly bridgeIds: ReadonlySet<string>;

  /** read where it is used, never copied: reconfigure() replaces it */
  config: BrokerConfig;
  private readonly services: BrokerServices;
  /** acl_file and/or dynamic security; replaced by reconfigure() */
  private authorizer: Authorizer | undefined;
  readonly cluster: ClusterLink | undefined;
  /** the other culex nodes: while set, `$share` groups are served only through it (one member cluster-wide) */
  readonly nodes: NodeLink | undefined;
  readonly store: DurableStore | undefined;
  /** the stored queues of persistent sessions; undefined without a store */
  readonly journal: Journal | undefined;
  /** what the acknowledgement of the packet being handled waits for (src/durability/ackScope.ts) */
  readonly scope: AckScope;

  constructor(config: BrokerConfig, services: BrokerServices) {
    this.config = config;
    this.services = services;
    this.log = services.log;
    this.authorizer = services.authorizer;
    this.cluster = services.cluster;
    this.nodes = services.nodes;
    this.store = services.store;
    const seq = services.messageSeq ?? { first: 1, step: 1 };
    this.journal = services.store === undefined ? undefined : new Journal(services.store, seq.first, seq.step, () => this.flushSoon());
    this.scope = this.journal?.scope ?? new AckScope(undefined);
    this.bridgeIds = new Set((config.bridges ?? []).map((b) => b.localClientId));
    this.receiveMaximum = config.maxInflightMessages > 0 ? Math.min(config.maxInflightMessages, 65535) : 65535;
    this.queueLimits = {
      maxQueuedMessages: config.maxQueuedMessages,
      maxQueuedBytes: config.maxQueuedBytes,
      queueQos0Messages: config.queueQos0Messages,
      dropOldest: config.queueDropPolicy === 'drop_oldest',
      maxInflightBytes: config.maxInflightBytes,
      mayRead: this.authorizer === undefined ? undefined : this.mayRead.bind(this),
      // Mosquitto database.c: once per drop episode (until the client connects again)
      dropping: (session) => this.log.notice(`Outgoing messages are being dropped for client ${session.clientId}.`),
      warn: (text) => this.log.warning(text),
    };
    this.router = new Router(this.tree, config.upgradeOutgoingQos, (session, topic) => this.mayRead(session, topic));
    this.expiryTimer = setInterval(() => {
      this.expireSessions();
      this.flushSoon();
    }, EXPIRY_SWEEP_MS);
  }

  /**
   * A configuration reload (SIGHUP): the reloadable options of `config` and the authorizer
   * built from its ACL files apply from now on, to every later check and queue decision;
   * connections already open keep what their CONNACK announced.
   */
  reconfigure(config: BrokerConfig, authorizer: Authorizer | undefined): void {
    this.config = config;
    this.authorizer = authorizer;
    this.receiveMaximum = config.maxInflightMessages > 0 ? Math.min(config.maxInflightMessages, 65535) : 65535;
    const q = this.queueLimits;
    q.maxQueuedMessages = config.maxQueuedMessages;
    q.maxQueuedBytes = config.maxQueuedBytes;
    q.queueQos0Messages = config.queueQos0Messages;
    q.dropOldest = config.queueDropPolicy === 'drop_oldest';
    q.maxInflightBytes = config.maxInflightBytes;
    q.mayRead = authorizer === undefined ? undefined : this.mayRead.bind(this);
    this.router.upgradeQos = config.upgradeOutgoingQos;
  }

  // ---- connections ------------------------------------------------------------------------

  /** A new client id: `prefix` (the listener's auto_id_prefix) and a UUID. */
  assignClientId(prefix = this.config.autoIdPrefix): string {
    return prefix + randomUUID();
  }

  authenticate(request: AuthRequest) {
    return this.services.authenticate(request);
  }

  /**
   * Attaches a CONNECTed client to its session: takes over an existing connection with the same
   * client id [MQTT-3.1.4-3] (on this worker, or on another one, which hands the session over
   * first), discards the old session on clean start [MQTT-3.1.2-4], cancels a delayed will
   * [MQTT-3.1.3-9]. `done` is called at once, or once the session has arrived from another worker.
   */
  openSession(conn: ClientLink, cleanStart: boolean, expiryInterval: number, done: (session: Session, present: boolean) => void): void {
    const nodes = this.nodes;
    // another node first (it may hold the session), then this node's workers; a bridge's local
    // session is each node's own (every node may run the same bridge configuration)
    if (nodes === undefined || conn.idAssigned || this.bridgeIds.has(conn.clientId)) this.openOnNode(conn, cleanStart, expiryInterval, done, undefined);
    else {
      // `settled` is called once on every path: attached, or the client gone meanwhile
      nodes.acquire(conn.clientId, cleanStart, conn.username, (moved, settled) => {
        if (moved === undefined) {
          if (conn.awaitingSession) this.openOnNode(conn, cleanStart, expiryInterval, done, settled);
          else settled();
        } else {
          this.cluster?.adopt(conn.clientId);
          this.sessionArrived(conn, cleanStart, expiryInterval, moved, done, settled);
        }
      });
    }
  }

  /** openSession within this node: the session may be on another worker. `settled`: see NodeLink.acquire. */
  private openOnNode(conn: ClientLink, cleanStart: boolean, expiryInterval: number, done: (session: Session, present: boolean) => void, settled: (() => void) | undefined): void {
    const cluster = this.cluster;
    const id = conn.clientId;
    // an id the broker assigned is a fresh UUID: no other worker can hold it, so it needs no registry entry
    if (cluster === undefined || conn.idAssigned || !cluster.acquire(id, cleanStart, conn.username, (moved) => this.sessionArrived(conn, cleanStart, expiryInterval, moved, done, settled))) {
      const { session, present } = this.attachSession(conn, cleanStart, expiryInterval, undefined);
      done(session, present);
      settled?.();
    }
  }

  private sessionArrived(
    conn: ClientLink,
    cleanStart: boolean,
    expiryInterval: number,
    moved: MovedSession | undefined,
    done: (session: Session, present: boolean) => void,
    settled: (() => void) | undefined,
  ): void {
    if (!conn.awaitingSession) {
      // the client went away while its session was on its way: keep the session, offline
      if (moved !== undefined) this.adoptSession(moved.session, moved.will, Date.now());
      else this.cluster?.released(conn.clientId);
      settled?.();
      return;
    }
    const { session, present } = this.attachSession(conn, cleanStart, expiryInterval, moved);
    done(session, present);
    settled?.();
    this.flushSoon();
  }

  private attachSession(conn: ClientLink, cleanStart: boolean, expiryInterval: number, moved: MovedSession | undefined): { session: Session; present: boolean } {
    const id = conn.clientId;
    const old = this.clients.get(id);
    // the new connection is registered first, so the old one's close does not give up the id
    this.clients.set(id, conn);
    const existing = moved?.session ?? this.sessions.get(id);
    // A session belongs to the user who made it: another user's CONNECT with the same client id
    // starts afresh, as Mosquitto 2.0 does; its queue is never handed over. (For a session on
    // another worker, the old owner made this check before handing it: see handover.ts.)
    const otherUser = existing !== undefined && !existing.declared && existing.username !== conn.username;
    if (old !== undefined && old !== conn) old.takeOver(cleanStart || otherUser);
    if (otherUser) {
      this.log.notice(`client id ${id} taken by user ${conn.username ?? '(anonymous)'}: the session of user ${existing.username ?? '(anonymous)'} is discarded`);
      cleanStart = true;
    }
    const pendingWill = this.wills.take(id) ?? moved?.will;
    // a new connection to a session that ends now (clean start) still ends the old session: send the will
    if (pendingWill !== undefined && cleanStart) this.publishWill(pendingWill);
    let session = this.sessions.get(id);
    let present = false;
    if (session !== undefined && cleanStart) {
      this.endSession(session, false);
      session = undefined;
    }
    if (moved !== undefined && !cleanStart) {
      session = moved.session;
      this.installSession(session);
      present = true;
    } else if (session === undefined) {
      session = new Session(id, this.queueLimits);
      this.sessions.set(id, session);
      counters.sessions++;
    } else {
      present = true; // [MQTT-3.2.2-3]
    }
    session.expiryInterval = expiryInterval;
    session.declared = false; // taken: from now on it is this user's, with the expiry this CONNECT gave
    session.username = conn.username;
    session.listenerIndex = conn.listenerIndex;
    this.persistSession(session);
    return { session, present };
  }

  /** Takes in a session that moved here from another worker: its subscriptions join this worker's tree. */
  private installSession(session: Session): void {
    this.sessions.set(session.clientId, session);
    counters.sessions++;
    for (const { filter, options } of session.subscriptions.values()) this.treeAdd(filter, session, options);
    counters.subscriptions += session.subscriptions.size;
  }

  /**
   * A stored session that moved here: the entries of its deliveries in memory are rewritten to
   * refer to message copies this worker owns (keys, packet ids and states unchanged); those of
   * its disk segment stay as they are, and this worker counts the messages they refer to from
   * now on (`lent`, the old owner's Journal.lendRange). Returns the old owner's message seqs, one
   * per rewritten entry, for it to let go of once this is committed.
   */
  takeStoredQueue(session: Session, lent: { s: number[]; n: number[] } | undefined): number[] {
    const journal = this.journal;
    if (journal === undefined) return [];
    session.journal = journal;
    if (lent !== undefined) journal.adoptLent(lent.s, lent.n);
    const old: number[] = [];
    for (const d of session.queuedInMemory()) if (d.qseq > 0) old.push(journal.rewrite(session, d, 0, 0));
    for (const e of session.outbound.values()) if (e.delivery.qseq > 0) old.push(journal.rewrite(session, e.delivery, e.packetId, e.state));
    return old.filter((seq) => seq !== 0); // inline entries referred to no message of the old owner
  }

  /** An offline session that arrived for a client that left meanwhile; it expires as usual. */
  adoptSession(session: Session, will: Will | undefined, now: number): void {
    this.installSession(session);
    this.sessionOffline(session, now);
    if (will !== undefined) this.wills.schedule(will, Math.min(will.delay, session.expiryInterval));
    this.persistSession(session);
  }

  /**
   * Takes a session out of this worker for another one (handover). Its subscriptions stay in the
   * tree until removeSubscriptions(), so that messages still routed here, and `$share` picks
   * (while it may be its group's only member), reach the session's intercept, which forwards
   * them. Returns the will that was waiting, if any.
   */
  releaseSession(session: Session): Will | undefined {
    const id = session.clientId;
    this.sessions.delete(id);
    this.expiry.forget(session);
    counters.sessions--;
    return this.wills.take(id);
  }

  /**
   * The last step of a handover: the session's subscriptions leave this
   * tree. Until then it stays counted as a stored subscriber: publishes of other workers that it
   * still receives here (to forward) must come as durable records, so that they wait for its
   * entries (Journal.late()).
   */
  removeSubscriptions(session: Session): void {
    this.storedChanged(session, false);
    for (const { filter } of session.subscriptions.values()) this.treeRemove(filter, session);
    counters.subscriptions -= session.subscriptions.size;
  }

  /** A connection ended (socket closed or taken over). Publishes or schedules the will. */
  onClosed(conn: ClientLink & SessionLink, discardWill: boolean): void {
    const session = conn.session;
    if (session === undefined) return;
    if (this.clients.get(conn.clientId) === conn) this.clients.delete(conn.clientId);
    const now = Date.now();
    if (session.link === conn) session.detach(now);
    const will = discardWill ? undefined : conn.will;
    conn.will = undefined;
    const ending = session.expiryInterval === 0 || this.sessions.get(session.clientId) !== session;
    if (will !== undefined) {
      // [MQTT-3.1.3-9] the will waits for the Will Delay Interval or the end of the session, whichever is first
      const delay = Math.min(will.delay, session.expiryInterval);
      if (delay === 0 || ending) this.publishWill(will);
      else this.wills.schedule(will, delay);
    }
    const current = this.sessions.get(session.clientId) === session;
    if (session.expiryInterval === 0 && current && session.link === undefined) {
      this.endSession(session);
    } else if (current) {
      if (session.stored) this.persistSession(session); // offline now: the record gets its expiry time
      this.expiry.offline(session, now); // only a session that stays waits for its expiry
    }
    this.flushSoon();
  }

  /**
   * Writes a persistent session's record (subscriptions, expiry, owning worker), or removes it
   * when the session no longer outlives its connection. Clean sessions never touch the disk.
   */
  private persistSession(session: Session): void {
    const store = this.store;
    if (store === undefined) return;
    if (session.expiryInterval === 0) {
      if (session.stored) {
        session.forgetStored();
        store.deleteSession(session.clientId);
      }
      session.journal = undefined;
      this.storedChanged(session, false);
      return;
    }
    store.putSession(session.clientId, this.sessionMeta(session));
    session.journal = this.journal;
    this.storedChanged(session, session.subscriptions.size > 0);
  }

  /** A persistent session's record as the store keeps it. */
  private sessionMeta(session: Session): SessionMeta {
    const pendingWill = this.wills.pending(session.clientId);
    return {
      owner: this.cluster?.self ?? 0,
      user: session.username,
      l: session.listenerIndex,
      expiry: session.expiryInterval,
      expiresAt: session.expiresAt,
      subs: [...session.subscriptions.values()].map((x) => ({ f: x.filter, o: x.options })),
      lastId: 0,
      will: pendingWill === undefined ? undefined : willToRecord(pendingWill.will, pendingWill.due),
    };
  }

  /**
   * A clean stop of run `run`, once every write is committed (src/persistence/cleanStop.ts):
   * every stored session's record is written again with its queue tally. Returns what this
   * worker's mark counts and the reference counts of its log messages left to the queued
   * entries (the sent ones are read at start-up and counted then); undefined, writing nothing,
   * while the store is unhealthy (the next start reads every entry).
   */
  writeQueueTallies(run: number): { sessions: number; entries: number; messages: number; refs: RefTally } | undefined {
    const store = this.store;
    const journal = this.journal;
    if (store === undefined || journal === undefined || !store.healthy) return undefined;
    /** references of sent entries, by log seq */
    const sent = new Map<number, number>();
    let sessions = 0;
    let entries = 0;
    for (const session of this.sessions.values()) {
      if (!session.stored) continue;
      const q = session.queueTally(run);
      for (const e of session.outbound.values()) {
        const seq = e.delivery.mseq;
        if (e.delivery.qseq !== 0 && seq !== 0) sent.set(seq, (sent.get(seq) ?? 0) + 1);
      }
      store.putSession(session.clientId, { ...this.sessionMeta(session), q });
      sessions++;
      entries += q.c + q.s.length;
    }
    const refs = journal.refTally();
    if (sent.size > 0) for (let i = 0; i < refs.seqs.length; i++) refs.counts[i]! -= sent.get(refs.seqs[i]!) ?? 0;
    return { sessions, entries, messages: refs.seqs.length, refs };
  }

  /**
   * A session's record or subscriptions changed (`counted`: it is stored and has a
   * subscription). Keeps this worker's count of such sessions (shared with the other workers: a
   * worker with none needs no durable PUBLISH records, so routing to it costs no round trip), and
   * tells the other nodes the session's durable filters (syncDurable).
   */
  private storedChanged(session: Session, counted: boolean): void {
    this.syncDurable(session);
    if (session.countedStored === counted) return;
    session.countedStored = counted;
    this.cluster?.storedSubscribers(counted ? 1 : -1);
  }

  /**
   * Tells the other nodes (NodeLink.durableChanged) which filters `session` now holds durably:
   * non-shared, QoS 1 or 2, while it is this worker's stored session (the test Router's
   * 'durable' part makes). Called wherever a session's record or subscriptions change
   * (through storedChanged). A new durable filter's SUBACK waits for the other nodes to be told.
   */
  private syncDurable(session: Session): void {
    const nodes = this.nodes;
    if (nodes === undefined) return;
    const had = this.durableFilters.get(session);
    let want: Set<string> | undefined;
    if (session.stored && this.sessions.get(session.clientId) === session) {
      for (const { filter, options } of session.subscriptions.values()) {
        if (filter.group === undefined && options.qos > 0) (want ??= new Set()).add(filter.filter);
      }
    }
    if (had === undefined && want === undefined) return;
    if (want !== undefined) {
      for (const f of want) {
        if (had?.has(f) === true) continue;
        const known = nodes.durableChanged(f, 1);
        if (known !== undefined) this.scope.waitAlso(known);
      }
    }
    if (had !== undefined) for (const f of had) if (want?.has(f) !== true) nodes.durableChanged(f, -1);
    if (want === undefined) this.durableFilters.delete(session);
    else this.durableFilters.set(session, want);
  }

  /**
   * A persistent session read back from the store at start-up: offline, with its subscriptions
   * in this worker's tree, its queue (messages sent before come again with DUP set) and its
   * inbound QoS 2 ids; an expired one is removed instead. `message(seq)` reads a stored message.
   */
  restoreSession(loaded: LoadedSession, message: (seq: number) => MessageRecord | undefined, now: number): void {
    const { clientId, meta } = loaded;
    if (meta.expiresAt !== 0 && meta.expiresAt <= now && meta.expiry !== NEVER_EXPIRES) {
      // a tally counted the references of its queued entries (Journal.adoptRefTally): they go with it
      const disk = loaded.disk;
      if (disk?.tallied === true) this.journal?.forgetRange({ clientId, lastQseq: disk.last, pump: () => {} }, disk.after, disk.last);
      this.store?.deleteSession(clientId);
      // the session ended while the broker was down: its will goes now [MQTT-3.1.3-9]
      const will = meta.will;
      if (will !== undefined) setTimeout(() => this.publishWill(willFromRecord(will)), 0);
      return;
    }
    const session = new Session(clientId, this.queueLimits);
    session.username = meta.user;
    session.listenerIndex = meta.l ?? undefined;
    session.expiryInterval = meta.expiry;
    session.journal = this.journal;
    for (const { f, o } of meta.subs) session.setSubscription({ raw: f.raw, filter: f.filter, group: f.group ?? undefined }, o);
    const journal = this.journal!;
    for (const { qseq, entry } of loaded.queue) {
      session.lastQseq = Math.max(session.lastQseq, qseq);
      let m = entry.x !== undefined ? messageFromRecord(entry.x, -1) : journal.message(entry.m);
      if (m === undefined) {
        const r = message(entry.m);
        if (r === undefined) {
          this.log.warning(`persistence: queue entry ${qseq} of ${clientId} refers to message ${entry.m}, which is not stored; dropped`);
          this.store!.deleteQueued(clientId, qseq);
          continue;
        }
        m = messageFromRecord(r, -1);
      }
      const d = createDelivery(m, entry.q, entry.r, entry.i);
      journal.adopt(d, qseq, entry.m);
      if (entry.p !== 0 && entry.s !== 0) session.outbound.restore(entry.p, d, entry.s);
      else if (isExpired(m, now)) journal.done(session, d);
      else session.restoreQueued(d);
    }
    const disk = loaded.disk;
    if (disk !== undefined) {
      // queued entries stay in the store, read back in order once the client is there (sessionQueue.ts)
      for (const seq of disk.refs) journal.countRef(seq);
      session.restoreQueuedOnDisk(disk.after, disk.last, disk.count, disk.bytes);
    }
    for (const id of loaded.inbound) session.inbound.receive(id);
    this.cluster?.adopt(clientId);
    this.installSession(session);
    this.storedChanged(session, session.subscriptions.size > 0);
    if (meta.expiresAt === 0) session.detach(now);
    else session.expiresAt = meta.expiresAt;
    this.expiry.offline(session, now);
    // a will still waiting for its delay: published when due (at once if that passed while the broker was down)
    if (meta.will !== undefined) this.wills.schedule(willFromRecord(meta.will), Math.max(0, ((meta.will.due ?? now) - now) / 1000));
  }

  /**
   * A persistent session declared by configuration (`persistent_subscription`, see
   * src/workers/declaredSessions.ts): created offline and never expiring when this worker has no
   * session `clientId`, else kept as it is (expiry, queue, existing subscriptions' options) with
   * the missing subscriptions added. A session no user has taken (username undefined) becomes
   * `declared` again. Retained messages are not sent: no client subscribed. Returns how many
   * subscriptions were added.
   */
  declareSession(clientId: string, subscriptions: readonly { filter: ParsedFilter; options: SubscriptionOptions }[]): number {
    let session = this.sessions.get(clientId);
    if (session === undefined) {
      session = new Session(clientId, this.queueLimits);
      session.expiryInterval = NEVER_EXPIRES;
      this.sessions.set(clientId, session);
      counters.sessions++;
    }
    if (session.username === undefined && session.link === undefined) session.declared = true;
    let added = 0;
    for (const { filter, options } of subscriptions) {
      if (session.subscriptions.has(filter.raw)) continue;
      session.setSubscription(filter, options);
      this.treeAdd(filter, session, options);
      counters.subscriptions++;
      added++;
    }
    if (added > 0 || !session.stored) this.persistSession(session);
    return added;
  }

  /** queue limits for sessions rebuilt from a record (handover) */
  get sessionQueueLimits(): QueueLimits {
    return this.queueLimits;
  }

  private publishWill(will: Will): void {
    const a = this.authorizer;
    const source = { clientId: will.clientId, username: will.username, listenerIndex: will.listenerIndex };
    if (a !== undefined && !a.allows(source, will.topic, 'write')) return;
    this.publish(createMessage(will.topic, will.payload, will.qos, will.retain, will.properties, will.clientId, Date.now(), source));
  }

  /**
   * Removes a session and its subscriptions; a will still waiting for its delay is sent now.
   * `freeId`: the client id is given up too (false when a new connection takes it at once).
   */
  endSession(session: Session, freeId = true): void {
    for (const { filter } of session.subscriptions.values()) this.treeRemove(filter, session);
    counters.subscriptions -= session.subscriptions.size;
    session.clearSubscriptions();
    session.clearMessages();
    this.sessions.delete(session.clientId);
    this.expiry.forget(session);
    counters.sessions--;
    if (session.stored) {
      this.store?.deleteSession(session.clientId);
      session.journal = undefined;
    }
    this.storedChanged(session, false);
    if (freeId && this.clients.get(session.clientId) === undefined) this.cluster?.released(session.clientId);
    const pending = this.wills.take(session.clientId);
    if (pending !== undefined) this.publishWill(pending);
  }

  // ---- subscriptions ----------------------------------------------------------------------

  /** Adds or replaces a subscription; returns true when one with the same filter existed. */
  subscribe(session: Session, filter: ParsedFilter, options: SubscriptionOptions): boolean {
    const existed = session.subscriptions.has(filter.raw);
    session.setSubscription(filter, options);
    this.treeAdd(filter, session, options);
    if (!existed) counters.subscriptions++;
    if (session.stored) {
      this.persistSession(session);
      this.scope.noteWrite(); // the SUBACK waits for it
    }
    return existed;
  }

  unsubscribe(session: Session, filter: ParsedFilter): boolean {
    if (!session.deleteSubscription(filter.raw)) return false;
    this.treeRemove(filter, session);
    counters.subscriptions--;
    if (session.stored) {
      this.persistSession(session);
      this.scope.noteWrite(); // the UNSUBACK waits for it
    }
    return true;
  }

  /** Topic tree updates, mirrored to the other workers' interest trees and to the other nodes. */
  private treeAdd(filter: ParsedFilter, session: Session, options: SubscriptionOptions): void {
    if (!this.tree.add(filter.filter, filter.group, session, options)) return;
    this.cluster?.interestChanged(filter, 1);
    const known = this.nodes?.interestChanged(filter, 1);
    if (known !== undefined) this.scope.waitAlso(known);
  }

  private treeRemove(filter: ParsedFilter, session: Session): void {
    if (!this.tree.remove(filter.filter, filter.group, session)) return;
    this.cluster?.interestChanged(filter, -1);
    this.nodes?.interestChanged(filter, -1);
  }

  /** Retained messages for a new subscription, with RETAIN set [MQTT-3.3.1-9]. */
  sendRetained(session: Session, filter: string, options: SubscriptionOptions): void {
    const now = Date.now();
    for (const m of this.retained.match(filter, now)) {
      if (!this.mayRead(session, m.topic)) continue;
      // check_retain_source: its publisher must still be allowed to publish it (Mosquitto retain.c)
      if (m.source !== undefined && this.config.checkRetainSource && !this.mayPublish(m.source, m.topic)) continue;
      // [MQTT-3.8.4-8] the lower of the two QoS; upgrade_outgoing_qos: the subscription's (Mosquitto retain.c)
      const qos = (this.config.upgradeOutgoingQos ? options.qos : Math.min(m.qos, options.qos)) as 0 | 1 | 2;
      session.deliver(createDelivery(m, qos, true, options.subscriptionId > 0 ? [options.subscriptionId] : undefined), now, false);
    }
  }

  // ---- publishing -------------------------------------------------------------------------

  /**
   * Routes a message to every matching session, on this worker and (through the cluster) on the
   * others. Returns whether a subscription matches its topic anywhere (another worker's or
   * node's interest included), ACL and No Local aside: a v5 PUBACK says 0x10 No Matching
   * Subscribers only when none does, as Mosquitto's (sub__messages_queue), the same at any
   * worker count. `localOnly`: this worker's sessions only (each worker publishes its own copy
   * of `$SYS`).
   */
  publish(message: Message, localOnly = false, publisher?: Session, packetId = 0): boolean {
    // a client's `$CONTROL/…` request is consumed by the broker, never routed nor retained (Mosquitto
    // handle_publish.c); it counts as delivered, so that it is acknowledged with success
    if (publisher !== undefined && message.topic.charCodeAt(0) === 36 /* $ */ && message.topic.startsWith('$CONTROL/')) {
      this.services.control?.(message.topic, message.payload, publisher);
      return true;
    }
    const cluster = localOnly ? undefined : this.cluster;
    const nodes = localOnly ? undefined : this.nodes;
    if (message.retain) {
      if (cluster !== undefined) message.stamp = cluster.retainStamp();
      this.retained.set(message); // an empty payload clears [MQTT-3.3.1-6]
      counters.retainedMessages = this.retained.size;
      // the publishing worker stores it; $SYS (localOnly) is regenerated, never stored
      const store = this.store;
      if (store !== undefined && !localOnly) {
        if (message.payload.length === 0) store.deleteRetained(message.topic);
        else store.putRetained(message.topic, messageToRecord(message));
        this.scope.noteWrite();
      }
    }
    const now = Date.now();
    // a durable publish: the journal collects what it stores (publisher's QoS 2 id included) until endPublish()
    const journal = message.qos > 0 ? this.journal : undefined;
    journal?.beginPublish(message, publisher?.stored === true && packetId !== 0 ? { clientId: publisher.clientId, packetId } : undefined);
    // whether another node has a subscriber is not known here: with other nodes, every topic counts as matched
    let matched = nodes !== undefined;
    // with other nodes, `$share` groups get the message through NATS only: it picks one member cluster-wide
    if (nodes !== undefined) {
      const accepted = nodes.publish(message, now);
      if (accepted !== undefined) this.scope.waitAlso(accepted);
    }
    if (cluster === undefined) {
      this.router.route(message, now, nodes === undefined);
    } else {
      message.originWorker = cluster.self;
      // the other workers first: the ticket then knows whether this worker's entries wait for their answers
      if (cluster.route(message, now, journal, nodes === undefined) > 0) matched = true;
      this.router.route(message, now, false);
    }
    if (journal !== undefined) this.scope.waitFor(journal.endPublish());
    return matched || this.router.matched;
  }

  /**
   * A message published on another node (src/nats/): delivered to this worker's sessions as if
   * published here, never sent on to the other workers or nodes (each holds its own NATS
   * interest). `share`: one member of this `$share` group only. `part`: 'notDurable' when the
   * durable subscriptions here get the message from JetStream (fromNodeDurable). The retained
   * store is not touched: retained updates reach every node through the retained bucket.
   */
  fromNode(message: Message, share: { group: string; filter: string } | undefined, part: RoutePart = 'all'): void {
    if (share === undefined) this.router.route(message, Date.now(), false, part);
    // the last member here left while NATS still had this worker in the queue group
    else if (!this.deliverToGroup(share.group, share.filter, message)) counters.messagesDroppedNoMember++;
    this.flushSoon();
  }

  /**
   * A message published on another node, from JetStream: delivered to this worker's durable
   * subscriptions only (the others got it through core NATS). Returns what its acknowledgement
   * to JetStream waits for (the commit of the queue entries it made), or undefined when it
   * made none.
   */
  fromNodeDurable(message: Message): Promise<void> | undefined {
    const n = this.router.route(message, Date.now(), false, 'durable');
    this.flushSoon();
    return n === 0 ? undefined : this.journal?.commit();
  }

  /** Resolves once everything this worker wrote so far is committed; undefined without a store. */
  committed(): Promise<void> | undefined {
    return this.journal?.commit();
  }

  /** PUBREL of a stored session: its QoS 2 id is released on disk too (the PUBCOMP waits for the scope's close()). */
  releaseInbound(session: Session, packetId: number): void {
    if (session.stored) this.journal!.releaseInbound(session.clientId, packetId);
  }

  /** false while the store cannot write: publishes that must be stored are refused */
  get canStore(): boolean {
    return this.store === undefined || this.store.healthy;
  }

  /** the store refuses writes because the disk is full (rather than an I/O error) */
  get storeFull(): boolean {
    return this.store !== undefined && this.store.full;
  }

  /**
   * A message another worker sent here: `route` to this worker's non-shared subscribers,
   * `retain` to update the retained store (the newest stamp wins).
   */
  receive(message: Message, route: boolean, retain: boolean): void {
    if (retain) {
      this.retained.set(message);
      counters.retainedMessages = this.retained.size;
    }
    if (route) this.router.route(message, Date.now(), false);
  }

  /**
   * The cluster's retained message of `topic` changed (src/nats/retainedBucket.ts): this
   * worker's store follows; undefined = cleared. Never stored here: the bucket keeps it.
   */
  retainedFromNode(topic: string, message: Message | undefined): void {
    this.retained.set(message ?? createMessage(topic, Buffer.alloc(0), 0, true, undefined, '', 0));
    counters.retainedMessages = this.retained.size;
  }

  /** Delivers to one member of this worker's `$share/group/filter`; false when it has none. */
  deliverToGroup(group: string, filter: string, message: Message): boolean {
    const g = this.tree.group(filter, group);
    return g !== undefined && g.members.size > 0 && this.router.deliverShared(g, message, Date.now());
  }

  // ---- authorisation ----------------------------------------------------------------------

  // The client objects passed to the authorizer are long-lived (the connection, the session) so
  // that it can cache their substituted %c/%u patterns.

  mayPublish(conn: AclClient, topic: string): boolean {
    const a = this.authorizer;
    // without an acl_file, Mosquitto still refuses client publishes to $SYS/… and $share/…
    if (a === undefined) return topic.charCodeAt(0) !== 36 /* $ */ || aclCheck(undefined, conn, topic, 'write');
    return a.allows(conn, topic, 'write');
  }

  /** `filter` as the client sent it, `$share/group/` included (Mosquitto checks the whole string). */
  maySubscribe(conn: AclClient, filter: string): boolean {
    const a = this.authorizer;
    return a === undefined || a.allows(conn, filter, 'subscribe');
  }

  /** UNSUBSCRIBE: only the dynamic security plugin ever refuses one (an acl_file allows every one, as in Mosquitto). */
  mayUnsubscribe(conn: AclClient, filter: string): boolean {
    const a = this.authorizer;
    return a === undefined || a.allows(conn, filter, 'unsubscribe');
  }

  private mayRead(session: Session, topic: string): boolean {
    const a = this.authorizer;
    // a declared session nobody has taken keeps what it matches; its taker's rights apply on attach;
    // a bridge's local session passes no ACL check (Mosquitto security.c: `if(context->bridge)`)
    return a === undefined || session.declared || this.bridgeIds.has(session.clientId) || a.allows(session, topic, 'read');
  }

  /** Schedules one flush of every connection written to (src/link/outbox.ts). */
  flushSoon(): void {
    this.services.output.flushSoon();
  }

  // ---- timers -----------------------------------------------------------------------------

  /** Once a second: the offline sessions whose expiry came end (SessionExpiry looks only at those due). */
  private expireSessions(): void {
    this.expiry.pass(Date.now(), this.holds, this.expire);
  }

  private readonly holds = (session: Session): boolean => this.sessions.get(session.clientId) === session;
  private readonly expire = (session: Session): void => {
    counters.sessionsExpired++;
    this.endSession(session);
  };

  /** `session`'s connection is gone (or it never had one here): it is offline from `now`, and expires when its interval says. */
  sessionOffline(session: Session, now: number): void {
    session.detach(now);
    this.expiry.offline(session, now);
  }

  /** Graceful stop: timers end (the connections are closed by the link's Outbox). */
  shutdown(): void {
    clearInterval(this.expiryTimer);
    this.wills.clear();
  }
}

/**
 * A client id is connected once in the whole cluster (issue 17) [MQTT-3.1.4-3]: the JetStream
 * key-value bucket `culex_clients` maps each client id (key: its UTF-8 in base64url) to the node
 * that last took it, as `<node> <workers>`. A CONNECT on node B looks the id up; held by node A,
 * B asks A on `culex.takeover.<A>` (every worker of A answers: the one holding the session with
 * it, the others with none). A's worker closes the old connection (v5 DISCONNECT 0x8E) and hands
 * the session over as a SessionRecord (the worker handover's shape, src/broker/sessionTransfer.ts,
 * msgpack-encoded): subscriptions, inflight and queued messages, QoS 2 ids, delayed will. The
 * session leaves A whole (tree, stored record and entries); B rewrites a stored queue into its own
 * store, then puts itself in the bucket.
 * The registry is a hint, not a lock: an entry of a node that no longer holds the id costs one
 * round trip; a node that is down answers nothing (no responders, or the wait runs out) and the
 * CONNECT goes on with what B has. Two CONNECTs racing on two nodes may both win (README). A
 * session whose record is larger than one NATS message (max_payload, 1 MiB by default) is not
 * moved: it stays on A, offline, and the client starts afresh on B.
 * called from: worker
 */
import { Packr } from 'msgpackr';
import { Kvm, type KV } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Broker } from '../broker/broker.ts';
import type { MovedSession } from '../broker/clusterLink.ts';
import { sessionFromRecord, sessionToRecord } from '../broker/sessionTransfer.ts';
import type { SessionRecord } from '../records/session.ts';
import type { Logger } from '../log.ts';
import { counters } from '../metrics/counters.ts';

export const CLIENTS_BUCKET = 'culex_clients';
/** how long B waits for the old node's workers */
const ASK_TIMEOUT_MS = 3000;

const packr = new Packr({ useRecords: false });

/** A takeover request, B → A */
interface Ask {
  id: string;
  clean: boolean;
  u: string | null;
}

/** One worker's answer, A → B: `s` absent = not here; null = here, nothing to hand (clean start, other user, ended) */
interface Answer {
  s?: SessionRecord | null;
}

export function takeoverSubject(node: string): string {
  return `culex.takeover.${node}`;
}

export class Takeover {
  private readonly nc: NatsConnection;
  private readonly kv: KV;
  private readonly node: string;
  private readonly workers: number;
  private readonly log: Logger;
  private sub: Subscription | undefined;

  private constructor(nc: NatsConnection, kv: KV, node: string, workers: number, log: Logger) {
    this.nc = nc;
    this.kv = kv;
    this.node = node;
    this.workers = workers;
    this.log = log;
  }

  /** Opens the registry bucket; `workers`: this node's worker count (each answers a takeover). */
  static async open(nc: NatsConnection, node: string, workers: number, log: Logger): Promise<Takeover> {
    const kv = await new Kvm(jetstream(nc)).create(CLIENTS_BUCKET, { history: 1 });
    return new Takeover(nc, kv, node, workers, log);
  }

  /** Answers the other nodes' takeover requests for the sessions of `broker`. */
  serve(broker: Broker): void {
    this.sub = this.nc.subscribe(takeoverSubject(this.node), {
      callback: (err, msg) => {
        if (err === null) this.answer(broker, msg);
      },
    });
  }

  /**
   * B: makes this node the holder of `id`, bringing its session from the node that held it.
   * `done` gets the session (undefined: none came).
   */
  acquire(broker: Broker, id: string, cleanStart: boolean, username: string | undefined, done: (moved: MovedSession | undefined) => void): void {
    const key = Buffer.from(id).toString('base64url');
    const mine = `${this.node} ${this.workers}`;
    void (async () => {
      const entry = await this.kv.get(key);
      const [holder, count] = entry === null || entry.operation !== 'PUT' ? [] : entry.string().split(' ');
      let moved: MovedSession | undefined;
      if (holder !== undefined && holder !== this.node) {
        const record = await this.ask(holder, Number(count) || 1, { id, clean: cleanStart, u: username ?? null });
        if (record !== undefined) {
          counters.clusterTakeovers++;
          if (record !== null) moved = this.arrive(broker, record);
        }
      }
      if (holder !== this.node) await this.kv.put(key, mine);
      return moved;
    })().then(done, (err: unknown) => {
      this.log.warning(`cluster: client id ${id}: the registry could not be used (${(err as Error).message}); connecting here without it`);
      done(undefined);
    });
  }

  /** Asks `holder`'s workers; the record (or null) of the one that held the session, undefined when none did. */
  private async ask(holder: string, workers: number, ask: Ask): Promise<SessionRecord | null | undefined> {
    let replies: AsyncIterable<Msg>;
    try {
      replies = await this.nc.requestMany(takeoverSubject(holder), packr.pack(ask), { strategy: 'count', maxMessages: workers, maxWait: ASK_TIMEOUT_MS });
    } catch {
      return undefined; // no responders: the node is gone
    }
    let found: SessionRecord | null | undefined;
    try {
      for await (const m of replies) {
        const a = packr.unpack(m.data) as Answer;
        if (a.s !== undefined) found = a.s;
      }
    } catch {
      // the wait ran out or the node went away: what came is what there is
    }
    return found;
  }

  /** A: the session `ask` names, if this worker holds it, taken from here. */
  private answer(broker: Broker, msg: Msg): void {
    let ask: Ask;
    try {
      ask = packr.unpack(msg.data) as Ask;
    } catch {
      return;
    }
    const answer: Answer = broker.sessions.has(ask.id) ? { s: handOff(broker, ask.id, ask.clean, ask.u ?? undefined, this.maxPayload(), this.log) } : {};
    msg.respond(packr.pack(answer));
    broker.flushSoon();
  }

  /** B: the session record as a session of this worker (a stored queue rewritten into this store). */
  private arrive(broker: Broker, record: SessionRecord): MovedSession {
    const { session, will, stored } = sessionFromRecord(record, broker.sessionQueueLimits, -1);
    // the other node's message seqs mean nothing here: the entries get copies of their own
    if (stored) broker.takeStoredQueue(session);
    return { session, will };
  }

  /** the largest message the NATS server takes (its max_payload), less room for the answer's framing */
  private maxPayload(): number {
    return (this.nc.info?.max_payload ?? 1024 * 1024) - 1024;
  }

  stop(): void {
    this.sub?.unsubscribe();
  }
}

/**
 * A: closes `id`'s connection (0x8E) and takes its session out of this worker whole; returns
 * its record, or null when nothing is handed (clean start, another user's session, or a
 * session that ended with its connection).
 */
function handOff(broker: Broker, id: string, clean: boolean, username: string | undefined, maxBytes: number, log: Logger): SessionRecord | null {
  const first = broker.sessions.get(id)!;
  // a declared session nobody has taken is the first user's (Broker.attachSession)
  if (first.declared && !clean) first.username = username;
  const otherUser = first.username !== username;
  broker.clients.get(id)?.takeOver(clean || otherUser);
  const session = broker.sessions.get(id);
  if (session === undefined) return null;
  if (clean || otherUser) {
    broker.endSession(session);
    return null;
  }
  // one NATS message carries the whole session: one too large for it stays here, offline, and expires as usual
  const size = packr.pack(sessionToRecord(session, undefined)).length;
  if (size > maxBytes) {
    log.warning(`cluster: session ${id} (${size} bytes with its queue) is larger than a NATS message; it stays on this node and its client starts afresh on the other`);
    return null;
  }
  const will = broker.releaseSession(session);
  const record = sessionToRecord(session, will);
  broker.removeSubscriptions(session);
  if (session.stored) {
    session.forgetStored();
    broker.store?.deleteSession(id);
  }
  session.journal = undefined;
  session.clearMessages();
  broker.cluster?.released(id);
  return record;
}

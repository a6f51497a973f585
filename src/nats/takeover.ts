/**
 * A client id is connected once in the whole cluster (issue 17) [MQTT-3.1.4-3]: the JetStream
 * key-value bucket `culex_clients` maps each client id (key: its UTF-8 in base64url) to the node
 * that holds it, as `<node> <workers>`, and is a lock: every CONNECT writes the entry by
 * compare-and-set on the key's revision (`kv.create` for a new id, `kv.update(key, value, rev)`
 * otherwise, even when this node already holds it), so the entry's revisions put the CONNECTs for
 * one id in one order. Of two racing CONNECTs the one whose write comes second loses the set,
 * reads again and writes over the winner's entry: it is the newer one, and it takes over from the
 * winner as from any holder [MQTT-3.1.4-3] (the newest connection wins; none is refused).
 *
 * Takeover: the CONNECT on B that replaced node A's entry asks A on `culex.takeover.<A>`, naming
 * the revision it replaced (every worker of A answers: the one holding the session with it, the
 * others with none). A's worker closes the old connection (v5 DISCONNECT 0x8E) and hands the
 * session over as a SessionRecord (the worker handover's shape, src/broker/sessionTransfer.ts,
 * msgpack-encoded): subscriptions, inflight and queued messages, QoS 2 ids, delayed will. The
 * session leaves A whole (tree, stored record and entries); B rewrites a stored queue into its
 * own store.
 *
 * A claim (this worker's CONNECT that is writing the entry or attaching its session) whose
 * compare-and-set is on its way is first waited for until it is decided: the asker may have read
 * its write before this worker has the server's reply. A claim that wrote the revision the asker
 * replaced, or an earlier one, is older than the asker: the answer waits until the claim's
 * connection is attached here (its own takeover may still be on its way), then closes it with
 * 0x8E and hands its session on, even when the asker has stopped waiting (then the session is
 * lost, but the older connection still goes). Any other claim is newer than the asker (it will
 * ask the asker in turn) and is not waited for. A wait thus goes only to JetStream's reply or
 * from a later revision to an earlier one: no cycle.
 *
 * A node that is down answers nothing (no responders, or the wait runs out) and the CONNECT goes
 * on with what B has. An answer larger than one NATS message (a long queue) goes in chunks
 * (chunks.ts).
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
import { fetchChunks, offerChunks, type ChunkedRef } from './chunks.ts';

export const CLIENTS_BUCKET = 'culex_clients';
/** how long B waits for the old node's workers (one of them may wait for its own claim first) */
const ASK_TIMEOUT_MS = 5000;
/**
 * how long an answer waits for an older claim of this worker to be attached (see the file
 * comment): a bound against a claim never settled, far above any attach; the asker may have gone
 * on meanwhile (ASK_TIMEOUT_MS), the older connection is closed all the same
 */
const CLAIM_WAIT_MS = 60_000;
/** compare-and-set attempts of one CONNECT before it gives up the registry (each lost one means another CONNECT wrote) */
const MAX_ATTEMPTS = 20;

const packr = new Packr({ useRecords: false });

/** A takeover request, B → A */
interface Ask {
  id: string;
  clean: boolean;
  u: string | null;
  /** the registry revision naming A that B's compare-and-set replaced */
  r: number;
}

/**
 * One worker's answer, A → B: `s` absent = not here; null = here, nothing to hand (clean start,
 * other user, ended). `x`: the answer (with `s`) is larger than one NATS message; fetch it in chunks.
 */
interface Answer {
  s?: SessionRecord | null;
  x?: ChunkedRef;
}

/** The registry entry a CONNECT replaced. */
interface Replaced {
  readonly node: string;
  readonly workers: number;
  readonly rev: number;
}

/** This worker's CONNECT for an id, from its first registry read until its session is attached (or its client is gone). */
interface Claim {
  /** the revision this claim wrote; 0 until its compare-and-set succeeded */
  rev: number;
  /** resolved once `rev` is set, or the claim failed (rev stays 0) */
  readonly decided: Promise<void>;
  decide(): void;
  readonly settled: Promise<void>;
  settle(): void;
}

export function takeoverSubject(node: string): string {
  return `culex.takeover.${node}`;
}

/** true for JetStream's "wrong last sequence": the key's revision moved since it was read */
function isConflict(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 10071 || code === 10164;
}

export class Takeover {
  private readonly nc: NatsConnection;
  private readonly kv: KV;
  private readonly node: string;
  private readonly workers: number;
  private readonly log: Logger;
  private sub: Subscription | undefined;
  /** client id → the newest claim of this worker for it */
  private readonly claims = new Map<string, Claim>();

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
   * B: makes this node the holder of `id` (compare-and-set), bringing its session from the node
   * that held it. `done` gets the session (undefined: none came) and `settled`, which the broker
   * calls once the CONNECT is attached or its client gone (until then an older CONNECT's takeover
   * request waits for it).
   */
  acquire(broker: Broker, id: string, cleanStart: boolean, username: string | undefined, done: (moved: MovedSession | undefined, settled: () => void) => void): void {
    const key = Buffer.from(id).toString('base64url');
    const claim = newClaim();
    this.claims.set(id, claim);
    const settled = (): void => {
      claim.settle();
      if (this.claims.get(id) === claim) this.claims.delete(id);
    };
    void (async () => {
      const replaced = await this.claim(key, claim);
      if (replaced === undefined || replaced.node === this.node) return undefined;
      const record = await this.ask(replaced.node, replaced.workers, { id, clean: cleanStart, u: username ?? null, r: replaced.rev });
      if (record === undefined) return undefined;
      counters.clusterTakeovers++;
      return record === null ? undefined : this.arrive(broker, record);
    })().then((moved) => done(moved, settled), (err: unknown) => {
      this.log.warning(`cluster: client id ${id}: the registry could not be used (${(err as Error).message}); connecting here without it`);
      claim.decide();
      done(undefined, settled);
    });
  }

  /** Writes this node into `key` by compare-and-set, reading again after each lost one; the entry it replaced. */
  private async claim(key: string, claim: Claim): Promise<Replaced | undefined> {
    const mine = `${this.node} ${this.workers}`;
    for (let attempt = 1; ; attempt++) {
      const entry = await this.kv.get(key);
      try {
        if (entry === null || entry.operation !== 'PUT') {
          // create() also takes the place of a deleted entry
          claim.rev = await this.kv.create(key, mine);
          claim.decide();
          return undefined;
        }
        claim.rev = await this.kv.update(key, mine, entry.revision);
        claim.decide();
        const [node, count] = entry.string().split(' ');
        return { node: node!, workers: Number(count) || 1, rev: entry.revision };
      } catch (err) {
        // another CONNECT for this id wrote first: it is older than this one, which takes over from it
        if (!isConflict(err) || attempt >= MAX_ATTEMPTS) throw err;
        counters.clusterRegistryConflicts++;
      }
    }
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
    let chunked: ChunkedRef | undefined;
    try {
      for await (const m of replies) {
        const a = packr.unpack(m.data) as Answer;
        if (a.x !== undefined) chunked = a.x;
        else if (a.s !== undefined) found = a.s;
      }
    } catch {
      // the wait ran out or the node went away: what came is what there is
    }
    if (chunked === undefined) return found;
    try {
      return (packr.unpack(await fetchChunks(this.nc, chunked)) as Answer).s;
    } catch (err) {
      this.log.warning(`cluster: the session of ${ask.id} from node ${holder} did not arrive whole (${(err as Error).message}): it is lost, the client starts afresh`);
      return found;
    }
  }

  /** A: the session `ask` names, if this worker holds it, taken from here (after an older claim of this worker is attached). */
  private answer(broker: Broker, msg: Msg): void {
    let ask: Ask;
    try {
      ask = packr.unpack(msg.data) as Ask;
    } catch {
      return;
    }
    const claim = this.claims.get(ask.id);
    if (claim === undefined) this.respond(broker, msg, ask);
    // a compare-and-set on its way may be the very revision the asker replaced (its answer can
    // come after the ask): whether the claim is older is known once it is decided
    else if (claim.rev === 0) void claim.decided.then(() => this.answerAfter(broker, msg, ask, claim));
    else this.answerAfter(broker, msg, ask, claim);
  }

  /** `answer` once `claim` is decided: waits for it to be attached when it is older than the asker. */
  private answerAfter(broker: Broker, msg: Msg, ask: Ask, claim: Claim): void {
    if (claim.rev === 0 || claim.rev > (ask.r ?? 0)) {
      this.respond(broker, msg, ask);
      return;
    }
    // this worker's CONNECT came first: the asker's replaces it once it is attached
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), CLAIM_WAIT_MS);
    });
    void Promise.race([claim.settled, waited]).then((late) => {
      clearTimeout(timer);
      if (late === 'late') this.log.warning(`cluster: client id ${ask.id}: this node's CONNECT was not attached within ${CLAIM_WAIT_MS} ms; answering the newer one on another node without it`);
      this.respond(broker, msg, ask);
    });
  }

  private respond(broker: Broker, msg: Msg, ask: Ask): void {
    const answer: Answer = broker.sessions.has(ask.id) ? { s: handOff(broker, ask.id, ask.clean, ask.u ?? undefined) } : {};
    let data = packr.pack(answer);
    const max = this.maxPayload();
    if (data.length > max) {
      const size = data.length;
      // a copy: packr's buffer is reused by the next pack
      const ref = offerChunks(this.nc, Buffer.from(data), max, () => {
        this.log.warning(`cluster: the session of ${ask.id} (${size} bytes) was not fetched by the node that took it over: it is lost`);
      });
      data = packr.pack({ x: ref } satisfies Answer);
    }
    msg.respond(data);
    broker.flushSoon();
  }

  /** B: the session record as a session of this worker (a stored queue rewritten into this store). */
  private arrive(broker: Broker, record: SessionRecord): MovedSession {
    const { session, will, stored } = sessionFromRecord(record, broker.sessionQueueLimits, -1);
    // the other node's message seqs mean nothing here: the entries get copies of their own
    if (stored) broker.takeStoredQueue(session, undefined);
    return { session, will };
  }

  /** the largest message the NATS server takes (its max_payload), less room for headers and framing: the chunk size */
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
function handOff(broker: Broker, id: string, clean: boolean, username: string | undefined): SessionRecord | null {
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

function newClaim(): Claim {
  let settle!: () => void;
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  let decide!: () => void;
  const decided = new Promise<void>((resolve) => {
    decide = resolve;
  });
  return { rev: 0, decided, decide, settled, settle };
}

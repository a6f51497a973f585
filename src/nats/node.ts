/**
 * One worker's link to the other culex nodes through core NATS (issue 17): this worker's own
 * NATS connection (one per worker: no cross-thread hand-off, and NATS keeps the order of one
 * connection's messages, so one publisher's messages reach every subscriber in order
 * [MQTT-4.6.0-5]).
 * - out: every message published on this worker (not one from another node) goes to NATS once,
 *   on the subject of its topic (subjects.ts) with its headers (envelope.ts);
 * - interest: this worker subscribes in NATS to the filters its own topic tree holds, counted
 *   per filter (one NATS subscription however many local sessions), and to each `$share` group
 *   it has a member of as a NATS queue subscription (queue named after group and filter), so
 *   that NATS picks one subscriber cluster-wide; the worker then picks one local member;
 * - in: a message from NATS is delivered to this worker's sessions only (every worker holds its
 *   own interest), never published again (no loops); a plain subscription ignores messages of
 *   this node (already delivered here) and repeats (overlapping filters of this connection).
 * - retained messages: the shared bucket (retainedBucket.ts);
 * - client ids: the registry bucket (a lock) and the takeover of a session from another node
 *   (takeover.ts; a large session in chunks, chunks.ts).
 * - durable copies: a QoS 1/2 message also goes through JetStream to each other (node, worker)
 *   holding a durable subscription for it (durableInterest.ts, durableStream.ts), and the core
 *   message names those pairs (Culex-Durable): there the core copy goes to the other
 *   subscriptions only and the JetStream copy to the durable ones, so each gets one copy.
 * Across nodes core NATS is at most once; the JetStream copies are at least once (README "Cluster").
 * called from: worker
 */
import { createHash } from 'node:crypto';
import { connect, headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Broker } from '../broker/broker.ts';
import type { NodeLink } from '../broker/nodeLink.ts';
import type { Message } from '../model/message.ts';
import type { ParsedFilter } from '../model/subscription.ts';
import type { Logger } from '../log.ts';
import { counters } from '../metrics/counters.ts';
import { H_DURABLE, H_SUBJECT, readMessage, writeHeaders } from './envelope.ts';
import { DurableInterest } from './durableInterest.ts';
import { DurableStream } from './durableStream.ts';
import { RetainedBucket } from './retainedBucket.ts';
import { Takeover } from './takeover.ts';
import { Heartbeat } from './heartbeat.ts';
import type { MovedSession } from '../broker/clusterLink.ts';
import { filterSubjects, subjectTopic, topicSubject } from './subjects.ts';

/** One filter (or `$share` group and filter) held by this worker. */
interface Interest {
  /** entries in this worker's topic tree */
  count: number;
  readonly subs: Subscription[];
}

export class NatsNode implements NodeLink {
  readonly name: string;
  private readonly nc: NatsConnection;
  private readonly log: Logger;
  private broker: Broker | undefined;
  private retained: RetainedBucket | undefined;
  private takeover: Takeover | undefined;
  /** worker 0 only */
  private heartbeat: Heartbeat | undefined;
  private readonly worker: number;
  /** this node's worker count (each worker answers the takeover requests of other nodes) */
  private readonly workers: number;
  /** this connection's id in Culex-Conn, and the number of its last message */
  private readonly connId: string;
  private seq = 0;
  /** per publishing connection: the last Culex-Seq delivered through a plain subscription */
  private readonly lastSeq = new Map<string, number>();
  /** `<node>.<worker>` of this worker: its JetStream subject and its name in Culex-Durable */
  private readonly target: string;
  /** the durable interest of every node (set by start()) */
  private durable: DurableInterest | undefined;
  /** the stream of copies for persistent sessions: this worker puts copies for others and reads its own (set by start()) */
  private stream: DurableStream | undefined;
  /** filter (or `group\0filter`) → its NATS subscriptions */
  private readonly interests = new Map<string, Interest>();
  /**
   * false while the NATS connection is lost (reconnecting): the buckets are not asked (a JetStream
   * request would wait for its timeout); core NATS publishes wait in the client's reconnect buffer
   */
  private connected = true;
  /** the confirmation this turn's publishes and subscriptions wait for (one PING at the end of the turn) */
  private turn: Promise<void> | undefined;

  private constructor(nc: NatsConnection, name: string, worker: number, workers: number, log: Logger) {
    this.nc = nc;
    this.workers = workers;
    this.worker = worker;
    this.name = name;
    this.log = log;
    this.connId = `${name}-${worker}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    this.target = `${name}.${worker}`;
  }

  /** Connects worker `worker` (of `workers`) of node `name`; rejects when no server in `urls` answers. */
  static async connect(urls: readonly string[], name: string, worker: number, workers: number, log: Logger): Promise<NatsNode> {
    const nc = await connect({
      servers: [...urls],
      name: `culex ${name} worker ${worker}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 10_000,
    }).catch((err: unknown) => {
      throw new Error(`cluster_nats_url: no NATS server answered at ${urls.join(', ')} (${(err as Error).message})`);
    });
    const node = new NatsNode(nc, name, worker, workers, log);
    void node.watchStatus();
    return node;
  }

  /** Starts delivering what arrives to `broker`; resolves once the retained bucket is applied to its store. */
  async start(broker: Broker): Promise<void> {
    this.broker = broker;
    this.retained = await RetainedBucket.open(this.nc, this.name, this.log, (topic, message) => broker.retainedFromNode(topic, message));
    this.takeover = await Takeover.open(this.nc, this.name, this.workers, this.log);
    this.takeover.serve(broker);
    this.durable = await DurableInterest.open(this.nc, this.name, this.worker, this.log);
    this.stream = await DurableStream.open(this.nc, this.log);
    if (this.worker === 0) this.heartbeat = new Heartbeat(this.nc, this.name);
  }

  /**
   * Once this worker's persistent sessions are restored: the bucket gets exactly their durable
   * interest, and the JetStream copies that waited for this worker (published while this node
   * was down) are queued for them. Resolves once those are read (or after 10 s).
   */
  async startDurable(): Promise<void> {
    await this.durable?.reconcile(this.workers);
    await this.stream?.consume(this.name, this.worker, this.workers, (data, h, storedAt, repeat) => this.arrivedDurable(data, h, storedAt, repeat));
  }

  acquire(clientId: string, cleanStart: boolean, username: string | undefined, done: (moved: MovedSession | undefined, settled: () => void) => void): void {
    const t = this.takeover;
    // without NATS the registry cannot be read: the CONNECT goes on with this node's sessions
    if (t === undefined || this.broker === undefined || !this.connected) done(undefined, noop);
    else t.acquire(this.broker, clientId, cleanStart, username, done);
  }

  /** Closes the connection after sending what is buffered. */
  async stop(): Promise<void> {
    this.takeover?.stop();
    await this.stream?.stop();
    this.heartbeat?.stop();
    await this.nc.drain().catch(() => this.nc.close());
  }

  publish(message: Message, now: number): Promise<void> | undefined {
    const h = headers();
    const seq = ++this.seq;
    writeHeaders(h, message, now, this.name, this.connId, seq);
    const subject = topicSubject(message.topic);
    // while NATS is unreachable no copy goes to JetStream (its acknowledgement would wait for a timeout)
    const targets = message.qos > 0 && this.connected ? this.durable?.targets(message.topic) : undefined;
    if (targets !== undefined) h.set(H_DURABLE, targets.join(','));
    try {
      this.nc.publish(subject, message.payload, { headers: h });
      counters.clusterMessagesOut++;
    } catch (err) {
      // closed or over the reconnect buffer: the other nodes miss this one (at most once across nodes)
      this.log.warning(`cluster: message on ${message.topic} not sent to the other nodes: ${(err as Error).message}`);
      return undefined;
    }
    const stored = message.retain && this.connected ? this.retained?.put(message, now) : undefined;
    if (message.retain && !this.connected) this.log.warning(`cluster: NATS unreachable: the retained message on ${message.topic} stays on this node`);
    if (message.qos === 0) return undefined;
    const waits: Promise<unknown>[] = [this.confirmed()];
    if (stored !== undefined) waits.push(stored);
    if (targets !== undefined) {
      for (const target of targets) {
        // headers of its own per copy: js.publish writes the copy's Nats-Msg-Id into them and sends them again on a retry
        const jh = headers();
        writeHeaders(jh, message, now, this.name, this.connId, seq);
        jh.set(H_SUBJECT, subject);
        waits.push(this.stream!.put(target, message.payload, jh, `${this.connId}.${seq}.${target}`, message.topic).then((ok) => {
          if (ok) counters.clusterDurableOut++;
        }));
      }
    }
    return waits.length === 1 ? waits[0] as Promise<void> : Promise.all(waits).then(() => undefined);
  }

  durableChanged(filter: string, delta: 1 | -1): Promise<void> | undefined {
    return this.durable?.changed(filter, delta, this.connected);
  }

  interestChanged(filter: ParsedFilter, delta: 1 | -1): Promise<void> | undefined {
    const group = filter.group;
    const key = group === undefined ? filter.filter : `${group}\0${filter.filter}`;
    let interest = this.interests.get(key);
    if (delta === -1) {
      if (interest === undefined || --interest.count > 0) return undefined;
      this.interests.delete(key);
      for (const s of interest.subs) s.unsubscribe();
      return undefined;
    }
    if (interest !== undefined) {
      interest.count++;
      return undefined;
    }
    interest = { count: 1, subs: [] };
    this.interests.set(key, interest);
    const share = group === undefined ? undefined : { group, filter: filter.filter };
    const queue = group === undefined ? undefined : queueName(group, filter.filter);
    for (const subject of filterSubjects(filter.filter)) {
      interest.subs.push(this.nc.subscribe(subject, { queue, callback: (err, msg) => {
        if (err === null) this.arrived(msg, share);
      } }));
    }
    return this.confirmed();
  }

  /** A message from NATS for a plain subscription (`share` undefined) or one `$share` group's. */
  private arrived(msg: Msg, share: { group: string; filter: string } | undefined): void {
    const broker = this.broker;
    const topic = subjectTopic(msg.subject);
    if (broker === undefined || topic === undefined) return;
    const got = readMessage(topic, msg.data, msg.headers, Date.now());
    if (got === undefined) return;
    const e = got.envelope;
    if (share === undefined) {
      // this node delivered its own messages already; a `$share` group's pick is NATS's, wherever it published
      if (e.origin === this.name) return;
      const last = this.lastSeq.get(e.conn) ?? 0;
      if (e.seq <= last) return;
      this.lastSeq.set(e.conn, e.seq);
    }
    counters.clusterMessagesIn++;
    // a durable subscription here gets this message from JetStream instead (arrivedDurable)
    const part = share === undefined && namesTarget(msg.headers?.get(H_DURABLE), this.target) ? 'notDurable' : 'all';
    broker.fromNode(got.message, share, part);
  }

  /**
   * A JetStream copy for this worker: delivered to its durable subscriptions only. Returns what
   * its acknowledgement to JetStream waits for (the commit of the entries it made here). Its
   * message expiry counts from when JetStream stored it, not from now: the time it waited there
   * (its node down) counts as spent. A repeat (handed over before) is not delivered again: its
   * acknowledgement waits for the commit of everything written so far, its first delivery's
   * entries included.
   */
  private arrivedDurable(data: Uint8Array, h: Msg['headers'], storedAt: number, repeat: boolean): Promise<void> | undefined {
    const broker = this.broker;
    if (broker !== undefined && repeat) return broker.committed();
    const topic = subjectTopic(h?.get(H_SUBJECT) ?? '');
    if (broker === undefined || topic === undefined) throw new Error('not a culex message');
    const got = readMessage(topic, data, h, Math.min(storedAt, Date.now()));
    if (got === undefined) throw new Error('not a culex message');
    counters.clusterDurableIn++;
    return broker.fromNodeDurable(got.message);
  }

  /** Resolves once the NATS server has read what this worker sent before the end of this turn; never rejects. */
  private confirmed(): Promise<void> {
    this.turn ??= new Promise<void>((resolve) => {
      setImmediate(() => {
        this.turn = undefined;
        this.nc.flush().then(resolve, (err: unknown) => {
          // while reconnecting this is expected (the loss of the connection is logged once)
          if (this.connected) this.log.warning(`cluster: NATS did not confirm: ${(err as Error).message}`);
          resolve();
        });
      });
    });
    return this.turn;
  }

  /** Logs the connection's losses and recoveries. */
  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.log.warning(`cluster: NATS connection lost (${this.name})`);
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.log.notice(`cluster: NATS connection back (${this.name})`);
        // durable interest changed while NATS was away was not written; copies on their way were lost
        void this.durable?.reconcile(this.workers);
        void this.stream?.resume();
      }
    }
  }
}

/** The NATS queue of `$share/group/filter`: the same on every node, valid whatever the names hold. */
export function queueName(group: string, filter: string): string {
  return 'culex-share-' + createHash('sha256').update(group).update('\0').update(filter).digest('hex').slice(0, 32);
}

/** Whether the Culex-Durable header `list` names `target`. */
function namesTarget(list: string | undefined, target: string): boolean {
  if (list === undefined || list === '') return false;
  return list.split(',').includes(target);
}

function noop(): void {}

/**
 * The JetStream stream `culex_durable` (subjects `culex.dq.>`, work-queue retention, file
 * storage): copies of QoS 1/2 messages for the persistent sessions of other nodes (issue 17).
 * A publisher puts one copy per (node, worker) with a matching durable subscription
 * (durableInterest.ts) on `culex.dq.<node>.<worker>`, with a Nats-Msg-Id (the stream drops a
 * repeat within its duplicate window); each worker reads its own subject through a durable
 * pull consumer named after it (`<node>_<worker>`) and acknowledges a message only once what
 * it queued for its sessions is committed to its store, so a node that crashes or is stopped
 * finds the messages published meanwhile waiting when it comes back with the same name.
 * Invariants:
 * - one consumer per (node, worker), whose filter no other consumer shares (work-queue rule),
 *   made anew at each start of its worker; a node restarted with fewer workers reads out and
 *   removes the consumers of the indexes it no longer has (their sessions' new worker does);
 * - a message is acknowledged after the commit of the writes it caused, never before: a crash
 *   in between gives it again (at least once); given again while this process runs (a lost
 *   acknowledgement), it is recognised by its stream sequence and handed over once;
 * - one consumer delivers in stream order (the callback is synchronous), which is the order of
 *   one publishing connection's copies.
 * called from: worker
 */
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager, type Consumer, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../log.ts';

export const DURABLE_STREAM = 'culex_durable';
export const DURABLE_PREFIX = 'culex.dq.';
/** how long a start waits for the messages that waited for this worker before it serves anyway */
const BACKLOG_TIMEOUT_MS = 10_000;
/** redelivery of a message not acknowledged within this time (its commit never came) */
const ACK_WAIT_MS = 30_000;
/** stream sequences of the copies handled last, remembered to recognise one given again */
const SEEN_MAX = 1 << 17;

/** The subject of worker `worker` of node `node` (`target` = `<node>.<worker>`). */
export function durableSubject(target: string): string {
  return DURABLE_PREFIX + target;
}

/** The durable consumer of worker `worker` of `node` (its prefix, with `worker` ''). */
function consumerName(node: string, worker: number | string): string {
  return `${node}_${worker}`;
}

/**
 * What a worker does with one message, stored by JetStream at `storedAt` (ms since the epoch, the
 * NATS server's clock): returns what its acknowledgement waits for. `repeat`: the message was
 * handed over before (since this start) and must not be delivered again; its acknowledgement
 * waits for the commit of everything written so far.
 */
export type DurableHandler = (data: Uint8Array, h: MsgHdrs | undefined, storedAt: number, repeat: boolean) => Promise<void> | undefined;

export class DurableStream {
  private readonly nc: NatsConnection;
  private readonly js: JetStreamClient;
  private readonly log: Logger;
  private messages: ConsumerMessages | undefined;
  /** this worker's node, index and handler, once consume() was called */
  private reader: { node: string; worker: number; handle: DurableHandler } | undefined;
  /** consume() and resume() one after the other */
  private reading: Promise<void> = Promise.resolve();
  /**
   * stream sequences of the last SEEN_MAX copies handed over: one given again (its
   * acknowledgement lost with a connection, or late past ack_wait) is not delivered twice while
   * this process runs
   */
  private readonly seen = new Set<number>();

  private constructor(nc: NatsConnection, log: Logger) {
    this.nc = nc;
    this.js = jetstream(nc);
    this.log = log;
  }

  /** Makes sure the stream exists (created by the first node; its settings kept if it exists). */
  static async open(nc: NatsConnection, log: Logger): Promise<DurableStream> {
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.info(DURABLE_STREAM);
    } catch {
      await jsm.streams.add({
        name: DURABLE_STREAM,
        subjects: [DURABLE_PREFIX + '>'],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        // a full stream refuses new copies (the publisher logs it) rather than dropping queued ones
        discard: DiscardPolicy.New,
      }).catch(async (err: unknown) => {
        // another worker or node created it meanwhile
        await jsm.streams.info(DURABLE_STREAM).catch(() => { throw err; });
      });
    }
    return new DurableStream(nc, log);
  }

  /**
   * Puts one copy on `culex.dq.<target>`; resolves with true when the stream stored it (or had
   * it already: `id` repeated), false when it did not (logged); never rejects.
   */
  put(target: string, payload: Uint8Array, h: MsgHdrs, id: string, topic: string): Promise<boolean> {
    return this.js.publish(durableSubject(target), payload, { headers: h, msgID: id }).then(() => true, (err: unknown) => {
      this.log.warning(`cluster: message on ${topic} not stored in JetStream for ${target} (at most once for its persistent sessions): ${(err as Error).message}`);
      return false;
    });
  }

  /**
   * Reads worker `worker` (of `workers`) of node `node`'s subject from now on, handing each
   * message to `handle` and acknowledging it once what `handle` returned resolved. First, when
   * the node had more workers before, it reads out the subjects of those indexes whose sessions
   * this worker restores (index mod `workers`), and removes their consumers. Resolves once the
   * messages that were waiting at the start went through `handle` (or after 10 s).
   */
  async consume(node: string, worker: number, workers: number, handle: DurableHandler): Promise<void> {
    const jsm = await jetstreamManager(this.nc);
    for (const old of await this.formerWorkers(jsm, node, worker, workers)) await this.drain(jsm, node, old, handle);
    this.reader = { node, worker, handle };
    const started = this.reading.then(() => this.read(true));
    this.reading = started.catch(() => {});
    await started;
  }

  /**
   * After the NATS connection came back: reads on from a fresh consumer, so that copies that
   * were on their way when it broke come again at once and in order (not after ack_wait, behind
   * newer ones). Never rejects.
   */
  resume(): Promise<void> {
    if (this.reader === undefined) return this.reading;
    this.reading = this.reading.then(() => this.read(false)).catch((err: unknown) => {
      this.log.warning(`cluster: JetStream reading of ${this.reader!.node} worker ${this.reader!.worker} not resumed: ${(err as Error).message}`);
    });
    return this.reading;
  }

  /** Reads this worker's subject through a fresh consumer; `waitBacklog`: resolves once what waited went through (or after 10 s). */
  private async read(waitBacklog: boolean): Promise<void> {
    const { node, worker, handle } = this.reader!;
    await this.messages?.close().catch(() => {});
    const { consumer, backlog: waiting } = await this.fresh(await jetstreamManager(this.nc), node, worker);
    let backlog = waitBacklog ? waiting : 0;
    let drained!: () => void;
    const done = new Promise<void>((resolve) => (drained = resolve));
    if (backlog === 0) drained();
    this.messages = await consumer.consume({
      max_messages: 1000,
      callback: (m: JsMsg) => {
        void this.deliver(m, handle, false);
        if (backlog > 0 && --backlog === 0) drained();
      },
    });
    const timer = setTimeout(() => {
      if (backlog > 0) this.log.warning(`cluster: ${backlog} JetStream messages for ${node} worker ${worker} not read within ${BACKLOG_TIMEOUT_MS} ms of the start; serving, the rest follows`);
      drained();
    }, BACKLOG_TIMEOUT_MS);
    await done;
    clearTimeout(timer);
  }

  /**
   * The consumer of worker `worker` of `node`, made anew, and how many messages wait in it.
   * A previous run's consumer may have messages out that no one will acknowledge (it crashed
   * with them): JetStream would give them again only after ack_wait, behind newer ones. In a
   * work-queue stream every unacknowledged message is still in the stream, so a new consumer
   * gives them all again, in stream order.
   */
  private async fresh(jsm: JetStreamManager, node: string, worker: number): Promise<{ consumer: Consumer; backlog: number }> {
    const name = consumerName(node, worker);
    await jsm.consumers.delete(DURABLE_STREAM, name).catch(() => false);
    await jsm.consumers.add(DURABLE_STREAM, {
      durable_name: name,
      filter_subject: durableSubject(`${node}.${worker}`),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: ACK_WAIT_MS * 1_000_000,
      max_ack_pending: 10_000,
    });
    const consumer = await this.js.consumers.get(DURABLE_STREAM, name);
    return { consumer, backlog: (await consumer.info()).num_pending };
  }

  /** Indexes at or above `workers` whose consumers `node` still has in the stream and whose sessions worker `worker` restores. */
  private async formerWorkers(jsm: JetStreamManager, node: string, worker: number, workers: number): Promise<number[]> {
    const prefix = consumerName(node, '');
    const found: number[] = [];
    for await (const info of jsm.consumers.list(DURABLE_STREAM)) {
      if (!info.name.startsWith(prefix)) continue;
      const w = Number(info.name.slice(prefix.length));
      if (Number.isInteger(w) && w >= workers && w % workers === worker) found.push(w);
    }
    return found.sort((a, b) => a - b);
  }

  /** Reads out what waits for former worker `old` of `node`, then removes its consumer. */
  private async drain(jsm: JetStreamManager, node: string, old: number, handle: DurableHandler): Promise<void> {
    const { consumer } = await this.fresh(jsm, node, old);
    let n = 0;
    for (let info = await consumer.info(); info.num_pending > 0; info = await consumer.info()) {
      const acks: Promise<void>[] = [];
      for await (const m of await consumer.fetch({ max_messages: 1000, expires: 2000 })) acks.push(this.deliver(m, handle, true));
      await Promise.all(acks);
      n += acks.length;
      if (acks.length === 0) break;
    }
    await jsm.consumers.delete(DURABLE_STREAM, consumerName(node, old)).catch(() => false);
    this.log.notice(`cluster: ${n} JetStream messages for former worker ${old} of ${node} delivered; its consumer removed`);
  }

  /**
   * Hands `m` to `handle` and acknowledges it after what that returned; resolves after the
   * acknowledgement (`confirmed`: once JetStream confirmed it), never rejects.
   */
  private async deliver(m: JsMsg, handle: DurableHandler, confirmed: boolean): Promise<void> {
    const seen = this.seen;
    const repeat = seen.has(m.seq);
    let committed: Promise<void> | undefined;
    try {
      committed = handle(m.data, m.headers, m.time.getTime(), repeat);
    } catch (err) {
      // not a culex message or not deliverable: acknowledged, so that it does not come back forever
      this.log.warning(`cluster: JetStream message ${m.seq} dropped: ${(err as Error).message}`);
    }
    if (!repeat) {
      seen.add(m.seq);
      if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value!);
    }
    try {
      await committed;
    } catch {
      // a failed commit leaves the message unacknowledged: JetStream gives it again after ack_wait
      return;
    }
    try {
      if (confirmed) await m.ackAck();
      else m.ack();
    } catch (err) {
      // the connection closed meanwhile: JetStream gives the message again (a repeat, recognised or not)
      this.log.warning(`cluster: JetStream message ${m.seq} not acknowledged: ${(err as Error).message}`);
    }
  }

  /** Stops reading (the consumer and what waits in it stay in JetStream). */
  async stop(): Promise<void> {
    await this.messages?.close().catch(() => {});
  }
}

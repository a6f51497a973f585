/**
 * Durable interest shared by every node (issue 17): which (node, worker) holds a subscription
 * that must not lose a QoS 1/2 message across a node crash — a non-shared subscription of QoS
 * 1 or 2 of a persistent (stored) session, connected or not. The JetStream key-value bucket
 * `culex_durable` holds one key per (node, worker, filter): `<node>.<worker>.<hash of filter>`,
 * its value the filter (UTF-8). Each worker puts its own keys (a filter's first durable
 * subscription on the worker puts it, the last one deletes it) and watches the whole bucket,
 * keeping the other nodes' entries in a topic tree, so that a publisher finds the (node, worker)
 * pairs that get a JetStream copy (durableStream.ts).
 * Invariants:
 * - a key outlives its node's crash: an offline persistent session keeps its interest, and a
 *   node that comes back puts what its restored sessions hold and deletes the rest (reconcile);
 * - this node's own keys are never in the tree (this node delivers its own messages locally);
 * - `$share` subscriptions are never durable here: groups stay on core NATS queue groups.
 * called from: worker
 */
import { createHash } from 'node:crypto';
import type { KV, KvEntry } from '@nats-io/kv';
import { openBucket, watchBucket } from './watchedBucket.ts';
import type { NatsConnection } from '@nats-io/transport-node';
import type { SubscriptionOptions } from '../model/subscription.ts';
import { TopicTree, type MatchVisitor, type ShareGroup } from '../broker/topicTree.ts';
import type { Logger } from '../log.ts';

export const DURABLE_BUCKET = 'culex_durable';
/** the options a tree entry carries: unused (the tree is matched for its keys only) */
const NO_OPTIONS: SubscriptionOptions = { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 0 };

/** The bucket key of `filter` held by worker `worker` of node `node`. */
export function durableKey(node: string, worker: number, filter: string): string {
  return `${node}.${worker}.${createHash('sha256').update(filter).digest('base64url').slice(0, 32)}`;
}

/** `<node>.<worker>` of a bucket key, or undefined when the key is not one of ours. */
export function keyTarget(key: string): { target: string; node: string; worker: number } | undefined {
  const parts = key.split('.');
  if (parts.length !== 3) return undefined;
  const worker = Number(parts[1]);
  if (!Number.isInteger(worker) || worker < 0) return undefined;
  return { target: `${parts[0]}.${worker}`, node: parts[0]!, worker };
}

export class DurableInterest implements MatchVisitor<string> {
  private readonly kv: KV;
  private readonly node: string;
  private readonly worker: number;
  private readonly log: Logger;
  /** this worker's durable filters: filter → how many durable subscriptions here hold it */
  private readonly own = new Map<string, number>();
  /** the other nodes' entries: bucket key → (target, filter), to undo a deletion (it has no value) */
  private readonly entries = new Map<string, { target: string; filter: string }>();
  /** `<node>.<worker>` → filters, matched by topic */
  private readonly tree = new TopicTree<string>();
  /**
   * false until the first reconcile(): the sessions restored at start change `own` only, and
   * reconcile() writes the result once (not one request per filter, then all of them again)
   */
  private live = false;
  /** match() scratch: valid during one call */
  private found: string[] = [];

  private constructor(kv: KV, node: string, worker: number, log: Logger) {
    this.kv = kv;
    this.node = node;
    this.worker = worker;
    this.log = log;
  }

  /** Opens (or creates) the bucket and watches it; resolves once the entries already there are applied. */
  static async open(nc: NatsConnection, node: string, worker: number, log: Logger): Promise<DurableInterest> {
    const kv = await openBucket(nc, DURABLE_BUCKET);
    const d = new DurableInterest(kv, node, worker, log);
    await watchBucket(kv, 'durable interest bucket', log, (e) => d.apply(e));
    return d;
  }

  private apply(e: KvEntry): void {
    const t = keyTarget(e.key);
    if (t === undefined || t.node === this.node) return;
    const before = this.entries.get(e.key);
    if (before !== undefined) {
      this.entries.delete(e.key);
      this.tree.remove(before.filter, undefined, before.target);
    }
    if (e.operation !== 'PUT') return;
    const filter = Buffer.from(e.value).toString();
    this.entries.set(e.key, { target: t.target, filter });
    this.tree.add(filter, undefined, t.target, NO_OPTIONS);
  }

  /**
   * The other nodes' `<node>.<worker>` pairs with a durable subscription matching `topic`, or
   * undefined for none. The array is fresh (the caller may keep it).
   */
  targets(topic: string): string[] | undefined {
    this.tree.match(topic, this);
    const found = this.found;
    if (found.length === 0) return undefined;
    this.found = [];
    return found;
  }

  subscriber(target: string): void {
    if (!this.found.includes(target)) this.found.push(target);
  }

  group(_group: ShareGroup<string>): void {}

  /**
   * A durable subscription on `filter` came (+1) or went (-1) on this worker. Returns what the
   * SUBACK waits for (JetStream stored the key), or undefined; never rejects. `connected`
   * false: the bucket is not asked now (reconcile() puts it when NATS is back).
   */
  changed(filter: string, delta: 1 | -1, connected: boolean): Promise<void> | undefined {
    const n = (this.own.get(filter) ?? 0) + delta;
    if (n > 0) this.own.set(filter, n);
    else this.own.delete(filter);
    if ((delta === 1 && n !== 1) || (delta === -1 && n !== 0) || !connected || !this.live) return undefined;
    const key = durableKey(this.node, this.worker, filter);
    const done = delta === 1 ? this.kv.put(key, Buffer.from(filter)) : this.kv.delete(key);
    return done.then(() => undefined, (err: unknown) => {
      this.log.warning(`cluster: durable interest in ${filter} not ${delta === 1 ? 'stored in' : 'removed from'} the bucket: ${(err as Error).message}`);
    });
  }

  /**
   * Makes the bucket hold exactly this worker's durable filters (after a restart, after NATS
   * came back); `workers`: this node's worker count, and worker 0 also deletes the keys of
   * workers at or above it (a node restarted with fewer workers). Never rejects.
   */
  async reconcile(workers: number): Promise<void> {
    try {
      const listed: string[] = [];
      for await (const key of await this.kv.keys(`${this.node}.>`)) listed.push(key);
      // what this worker holds now, after the listing's awaits (changed() may have run meanwhile)
      const want = new Map<string, string>();
      for (const filter of this.own.keys()) want.set(durableKey(this.node, this.worker, filter), filter);
      this.live = true; // from here on changed() writes each change itself
      const mine = `${this.node}.${this.worker}.`;
      const stale: string[] = [];
      for (const key of listed) {
        const t = keyTarget(key);
        if (t === undefined) continue;
        if (key.startsWith(mine)) {
          if (!want.delete(key)) stale.push(key);
        } else if (this.worker === 0 && t.worker >= workers) {
          stale.push(key);
        }
      }
      await Promise.all([
        ...stale.map((k) => this.kv.delete(k)),
        ...[...want].map(([k, filter]) => this.kv.put(k, Buffer.from(filter))),
      ]);
    } catch (err) {
      this.log.warning(`cluster: durable interest of ${this.node} worker ${this.worker} not brought up to date in the bucket: ${(err as Error).message}`);
    } finally {
      this.live = true;
    }
  }
}

/**
 * The subscription-interest mirror: which workers have at least one subscriber on a filter, and
 * how many members each worker has in each `$share` group. Every worker keeps one, fed by the
 * change records the others send it (and by its own changes), so that routing a PUBLISH is one
 * trie walk: topic → the workers to send it to, and the share groups to pick a member worker in.
 * Exact subscriptions stay in each worker's own TopicTree; this holds only worker numbers.
 * called from: worker (single-threaded; each worker owns its own mirror)
 */
import { pathTo, prunePath } from '../broker/triePath.ts';

/** One `$share` group on one filter, across all workers. */
export class GroupInterest {
  readonly group: string;
  readonly filter: string;
  /** members per worker index */
  readonly counts: number[];
  total = 0;
  /** position of the next pick in the (weighted) round-robin over all members */
  cursor = 0;
  constructor(group: string, filter: string, workers: number) {
    this.group = group;
    this.filter = filter;
    this.counts = new Array<number>(workers).fill(0);
  }

  /** A worker for the next message, weighted by member count (round-robin over all members); -1 when empty. */
  pick(exclude = -1): number {
    const total = exclude >= 0 ? this.total - this.counts[exclude]! : this.total;
    if (total <= 0) return -1;
    let k = this.cursor++ % total;
    for (let w = 0; w < this.counts.length; w++) {
      if (w === exclude) continue;
      const c = this.counts[w]!;
      if (k < c) return w;
      k -= c;
    }
    return -1;
  }
}

class InterestNode {
  readonly children = new Map<string, InterestNode>();
  /** workers with at least one non-shared subscriber whose filter ends here */
  readonly workers: number[] = [];
  /** share groups whose filter ends here, by group name */
  readonly groups = new Map<string, GroupInterest>();
  isEmpty(): boolean {
    return this.children.size === 0 && this.workers.length === 0 && this.groups.size === 0;
  }
}

/** What routing a topic needs from the mirror; reused per call (valid until the next match). */
export interface InterestMatch {
  /** worker indices with non-shared interest, without duplicates */
  readonly workers: number[];
  /** matching share groups */
  readonly groups: GroupInterest[];
}

export class InterestTree {
  private readonly root = new InterestNode();
  private readonly workerCount: number;
  /** per-match scratch: generation stamps de-duplicate workers found on several filters */
  private readonly seen: Uint32Array;
  private generation = 0;
  private readonly result: { workers: number[]; groups: GroupInterest[] } = { workers: [], groups: [] };
  /** number of (worker, filter) entries plus groups: 0 means nobody anywhere subscribes */
  private entries = 0;

  constructor(workers: number) {
    this.workerCount = workers;
    this.seen = new Uint32Array(workers);
  }

  get isEmpty(): boolean {
    return this.entries === 0;
  }

  /** Worker `w` gained (true) or lost (false) its last non-shared subscriber on `filter`. */
  setInterest(filter: string, w: number, on: boolean): void {
    if (on) {
      const node = this.nodeFor(filter);
      if (!node.workers.includes(w)) {
        node.workers.push(w);
        this.entries++;
      }
      return;
    }
    this.update(filter, (node) => {
      const i = node.workers.indexOf(w);
      if (i < 0) return;
      node.workers.splice(i, 1);
      this.entries--;
    });
  }

  /** Worker `w` now has `count` members in `$share/group/filter`. */
  setGroupCount(group: string, filter: string, w: number, count: number): void {
    if (count > 0) {
      const node = this.nodeFor(filter);
      let g = node.groups.get(group);
      if (g === undefined) {
        g = new GroupInterest(group, filter, this.workerCount);
        node.groups.set(group, g);
        this.entries++;
      }
      g.total += count - g.counts[w]!;
      g.counts[w] = count;
      return;
    }
    this.update(filter, (node) => {
      const g = node.groups.get(group);
      if (g === undefined) return;
      g.total -= g.counts[w]!;
      g.counts[w] = 0;
      if (g.total === 0) {
        node.groups.delete(group);
        this.entries--;
      }
    });
  }

  /** Forgets everything worker `w` announced (it was restarted). */
  forgetWorker(w: number): void {
    const walk = (node: InterestNode): void => {
      const i = node.workers.indexOf(w);
      if (i >= 0) {
        node.workers.splice(i, 1);
        this.entries--;
      }
      for (const [name, g] of node.groups) {
        g.total -= g.counts[w]!;
        g.counts[w] = 0;
        if (g.total === 0) {
          node.groups.delete(name);
          this.entries--;
        }
      }
      for (const [level, child] of node.children) {
        walk(child);
        if (child.isEmpty()) node.children.delete(level);
      }
    };
    walk(this.root);
  }

  /** The share group entry of `$share/group/filter`, if any worker has members. */
  group(group: string, filter: string): GroupInterest | undefined {
    let node: InterestNode | undefined = this.root;
    for (const level of filter.split('/')) {
      node = node.children.get(level);
      if (node === undefined) return undefined;
    }
    return node.groups.get(group);
  }

  /**
   * Workers and share groups interested in `topic`. [MQTT-4.7.2-1] a topic starting with `$` is
   * not matched by a filter starting with a wildcard. The result is reused by the next call.
   */
  match(topic: string): InterestMatch {
    const r = this.result;
    r.workers.length = 0;
    r.groups.length = 0;
    if (this.entries === 0) return r;
    if (++this.generation === 0xffffffff) {
      this.seen.fill(0);
      this.generation = 1;
    }
    this.walk(this.root, topic.split('/'), 0, topic.charCodeAt(0) === 36 /* $ */);
    return r;
  }

  private walk(node: InterestNode, levels: string[], depth: number, dollar: boolean): void {
    const wildcards = !(dollar && depth === 0);
    if (wildcards) {
      const hash = node.children.get('#');
      if (hash !== undefined) this.visit(hash); // '#' matches the parent level too [MQTT-4.7.1-2]
    }
    if (depth === levels.length) {
      this.visit(node);
      return;
    }
    const exact = node.children.get(levels[depth]!);
    if (exact !== undefined) this.walk(exact, levels, depth + 1, dollar);
    if (wildcards) {
      const plus = node.children.get('+');
      if (plus !== undefined) this.walk(plus, levels, depth + 1, dollar);
    }
  }

  private visit(node: InterestNode): void {
    const r = this.result;
    for (const w of node.workers) {
      if (this.seen[w] !== this.generation) {
        this.seen[w] = this.generation;
        r.workers.push(w);
      }
    }
    for (const g of node.groups.values()) r.groups.push(g);
  }

  private nodeFor(filter: string): InterestNode {
    let node = this.root;
    for (const level of filter.split('/')) {
      let next = node.children.get(level);
      if (next === undefined) {
        next = new InterestNode();
        node.children.set(level, next);
      }
      node = next;
    }
    return node;
  }

  /** Applies `change` to the node of `filter` (if it exists) and prunes empty nodes. */
  private update(filter: string, change: (node: InterestNode) => void): void {
    const levels = filter.split('/');
    const path = pathTo(this.root, levels);
    if (path === undefined) return;
    change(path[levels.length]!);
    prunePath(path, levels, (n) => n.isEmpty());
  }
}

import type { SubscriptionOptions } from '../model/subscription.ts';
import { pathTo, prunePath } from './triePath.ts';

/**
 * The worker's subscription trie: filter levels → subscribers, with shared-subscription groups
 * kept apart. Keys are opaque subscriber objects (sessions) owned by the caller.
 * called from: worker (single-threaded; no locks)
 */

/** One `$share` group on one filter: members are taken round-robin. */
export class ShareGroup<K> {
  readonly members = new Map<K, SubscriptionOptions>();
  /** the members as an array, for picking by index without allocating; same order as `members` */
  readonly list: K[] = [];
  /** index into `list` of the next candidate */
  cursor = 0;

  set(key: K, options: SubscriptionOptions): boolean {
    const isNew = !this.members.has(key);
    this.members.set(key, options);
    if (isNew) this.list.push(key);
    return isNew;
  }

  delete(key: K): boolean {
    if (!this.members.delete(key)) return false;
    const i = this.list.indexOf(key);
    this.list.splice(i, 1);
    if (this.cursor > i) this.cursor--;
    return true;
  }
}

class TreeNode<K> {
  readonly children = new Map<string, TreeNode<K>>();
  /** non-shared subscribers whose filter ends at this node */
  readonly subscribers = new Map<K, SubscriptionOptions>();
  /** share groups whose filter ends at this node, by group name */
  readonly groups = new Map<string, ShareGroup<K>>();
  isEmpty(): boolean {
    return this.children.size === 0 && this.subscribers.size === 0 && this.groups.size === 0;
  }
}

/** Receives matches; called once per matching (subscriber, subscription). */
export interface MatchVisitor<K> {
  subscriber(key: K, options: SubscriptionOptions): void;
  group(group: ShareGroup<K>, name: string): void;
}

/**
 * Topics whose matching nodes a tree remembers. Devices publish the same topic again and again:
 * a remembered topic is one Map lookup instead of a split and a walk. Beyond this many, new
 * topics are walked and not remembered (no eviction churn); about 100 bytes each.
 */
const REMEMBERED_TOPICS = 65536;

export class TopicTree<K> {
  private readonly root = new TreeNode<K>();
  private count = 0;
  /**
   * topic → the nodes whose subscribers and groups match it, in walk order. Invariant: valid
   * while no node is created or pruned (a subscriber added to or removed from an existing node
   * is seen at visit time); cleared when one is.
   */
  private readonly remembered = new Map<string, TreeNode<K>[]>();

  /** number of (subscriber, filter) entries, shared ones included */
  get size(): number {
    return this.count;
  }

  /** Adds or replaces a subscription. Returns true when it is new (not a replacement). */
  add(filter: string, group: string | undefined, key: K, options: SubscriptionOptions): boolean {
    let node = this.root;
    for (const level of filter.split('/')) {
      let next = node.children.get(level);
      if (next === undefined) {
        next = new TreeNode<K>();
        node.children.set(level, next);
        this.remembered.clear();
      }
      node = next;
    }
    let isNew: boolean;
    if (group === undefined) {
      isNew = !node.subscribers.has(key);
      node.subscribers.set(key, options);
    } else {
      let g = node.groups.get(group);
      if (g === undefined) {
        g = new ShareGroup<K>();
        node.groups.set(group, g);
      }
      isNew = g.set(key, options);
    }
    if (isNew) this.count++;
    return isNew;
  }

  /** Removes a subscription. Returns true when one existed. Prunes empty nodes. */
  remove(filter: string, group: string | undefined, key: K): boolean {
    const levels = filter.split('/');
    const path = pathTo(this.root, levels);
    if (path === undefined) return false;
    const node = path[levels.length]!;
    let removed: boolean;
    if (group === undefined) {
      removed = node.subscribers.delete(key);
    } else {
      const g = node.groups.get(group);
      removed = g !== undefined && g.delete(key);
      if (g !== undefined && g.members.size === 0) node.groups.delete(group);
    }
    if (!removed) return false;
    this.count--;
    if (node.isEmpty()) this.remembered.clear(); // its path is pruned below
    prunePath(path, levels, (n) => n.isEmpty());
    return true;
  }

  /** The share group `group` on exactly `filter`, if it has members here. */
  group(filter: string, group: string): ShareGroup<K> | undefined {
    let node: TreeNode<K> | undefined = this.root;
    for (const level of filter.split('/')) {
      node = node.children.get(level);
      if (node === undefined) return undefined;
    }
    return node.groups.get(group);
  }

  /**
   * Visits every subscription whose filter matches `topic`.
   * [MQTT-4.7.2-1] a topic starting with `$` is not matched by a filter starting with a wildcard.
   */
  match(topic: string, visitor: MatchVisitor<K>): void {
    let nodes = this.remembered.get(topic);
    if (nodes === undefined) {
      nodes = [];
      this.walk(this.root, topic.split('/'), 0, nodes, topic.charCodeAt(0) === 36 /* $ */);
      if (this.remembered.size < REMEMBERED_TOPICS) this.remembered.set(topic, nodes);
    }
    for (let i = 0; i < nodes.length; i++) TopicTree.visitNode(nodes[i]!, visitor);
  }

  /** Collects, in visit order, the nodes whose filters match the topic `levels`. */
  private walk(node: TreeNode<K>, levels: string[], depth: number, out: TreeNode<K>[], dollar: boolean): void {
    const wildcardsAllowed = !(dollar && depth === 0);
    if (wildcardsAllowed) {
      // '#' matches the parent level too: "sport/#" matches "sport" [MQTT-4.7.1-2]
      const hash = node.children.get('#');
      if (hash !== undefined) out.push(hash);
    }
    if (depth === levels.length) {
      out.push(node);
      return;
    }
    const exact = node.children.get(levels[depth]!);
    if (exact !== undefined) this.walk(exact, levels, depth + 1, out, dollar);
    if (wildcardsAllowed) {
      const plus = node.children.get('+');
      if (plus !== undefined) this.walk(plus, levels, depth + 1, out, dollar);
    }
  }

  /** Map.forEach with the visitor as `this`: no entry array and no closure per visited node. */
  private static visitNode<K>(node: TreeNode<K>, visitor: MatchVisitor<K>): void {
    if (node.subscribers.size > 0) node.subscribers.forEach(visitSubscriber<K>, visitor);
    if (node.groups.size > 0) node.groups.forEach(visitGroup<K>, visitor);
  }
}

function visitSubscriber<K>(this: MatchVisitor<K>, options: SubscriptionOptions, key: K): void {
  this.subscriber(key, options);
}

function visitGroup<K>(this: MatchVisitor<K>, group: ShareGroup<K>, name: string): void {
  this.group(group, name);
}

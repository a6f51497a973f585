import { isExpired, type Message } from '../model/message.ts';
import { pathTo, prunePath } from './triePath.ts';

class RetainedNode {
  readonly children = new Map<string, RetainedNode>();
  message: Message | undefined = undefined;
}

/**
 * Retained messages by topic, in a trie so a subscription's filter finds its matches without a
 * scan of every retained topic.
 * called from: worker
 */
export class RetainedStore {
  private readonly root = new RetainedNode();
  private count = 0;
  private payloadBytes = 0;

  get size(): number {
    return this.count;
  }

  /** payload bytes of the retained messages */
  get bytes(): number {
    return this.payloadBytes;
  }

  /** [MQTT-3.3.1-5] replaces the retained message of the topic; an empty payload clears it [MQTT-3.3.1-6/7]. */
  set(message: Message): void {
    const levels = message.topic.split('/');
    // with several workers, updates of one topic may arrive in different orders: the newest stamp wins
    if (message.stamp !== 0 && (this.get(message.topic)?.stamp ?? 0) > message.stamp) return;
    if (message.payload.length === 0) {
      this.delete(levels);
      return;
    }
    let node = this.root;
    for (const level of levels) {
      let next = node.children.get(level);
      if (next === undefined) {
        next = new RetainedNode();
        node.children.set(level, next);
      }
      node = next;
    }
    if (node.message === undefined) this.count++;
    else this.payloadBytes -= node.message.payload.length;
    this.payloadBytes += message.payload.length;
    node.message = message;
  }

  get(topic: string): Message | undefined {
    let node: RetainedNode | undefined = this.root;
    for (const level of topic.split('/')) {
      node = node.children.get(level);
      if (node === undefined) return undefined;
    }
    return node.message;
  }

  private delete(levels: string[]): void {
    const path = pathTo(this.root, levels);
    const node = path?.[levels.length];
    if (path === undefined || node === undefined || node.message === undefined) return;
    this.payloadBytes -= node.message.payload.length;
    node.message = undefined;
    this.count--;
    prunePath(path, levels, (n) => n.message === undefined && n.children.size === 0);
  }

  /**
   * The retained messages matching a filter, expired ones removed on the way.
   * [MQTT-4.7.2-1] wildcards at the first level do not match topics starting with `$`.
   */
  match(filter: string, now: number): Message[] {
    const out: Message[] = [];
    this.walk(this.root, filter.split('/'), 0, now, out);
    return out;
  }

  private walk(node: RetainedNode, levels: string[], depth: number, now: number, out: Message[]): void {
    if (depth === levels.length) {
      this.take(node, now, out);
      return;
    }
    const level = levels[depth]!;
    if (level === '#') {
      this.collect(node, depth === 0, now, out);
      return;
    }
    if (level === '+') {
      for (const [name, child] of node.children) {
        if (depth === 0 && name.startsWith('$')) continue;
        this.walk(child, levels, depth + 1, now, out);
      }
      return;
    }
    const child = node.children.get(level);
    if (child !== undefined) this.walk(child, levels, depth + 1, now, out);
  }

  /** '#' matches the node itself (its parent level) and everything below it. */
  private collect(node: RetainedNode, atRoot: boolean, now: number, out: Message[]): void {
    if (!atRoot) this.take(node, now, out);
    for (const [name, child] of node.children) {
      if (atRoot && name.startsWith('$')) continue;
      this.collect(child, false, now, out);
    }
  }

  private take(node: RetainedNode, now: number, out: Message[]): void {
    const m = node.message;
    if (m === undefined) return;
    if (isExpired(m, now)) {
      this.delete(m.topic.split('/'));
      return;
    }
    out.push(m);
  }

  *all(): IterableIterator<Message> {
    const stack: RetainedNode[] = [this.root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n.message !== undefined) yield n.message;
      for (const c of n.children.values()) stack.push(c);
    }
  }
}

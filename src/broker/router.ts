import { counters } from '../metrics/counters.ts';
import type { Message } from '../model/message.ts';
import { createDelivery } from '../model/delivery.ts';
import type { Session } from './session.ts';
import type { SubscriptionOptions } from '../model/subscription.ts';
import type { MatchVisitor, ShareGroup, TopicTree } from './topicTree.ts';

/** One session's combined match: overlapping subscriptions give one delivery [MQTT-3.3.4-2]. */
interface Match {
  qos: number;
  /** one of the matching subscriptions has QoS 1 or 2 (durable when the session is stored) */
  durable: boolean;
  retainAsPublished: boolean;
  subscriptionIds: number[] | undefined;
}

/** Which matching sessions a route delivers to (Router.route). */
export type RoutePart = 'all' | 'durable' | 'notDurable';

/** Whether a matched session belongs to `part`; the same test as Broker's durable interest. */
function inPart(session: Session, m: Match, part: RoutePart): boolean {
  return part === 'all' || (session.stored && m.durable) === (part === 'durable');
}

/**
 * Routes one message to the sessions of this worker: matches the topic tree, merges
 * overlapping subscriptions of a session into one delivery at the highest QoS carrying every
 * subscription identifier [MQTT-3.3.4-3/4/5], picks one member per `$share` group.
 * called from: worker
 */
export class Router implements MatchVisitor<Session> {
  /**
   * Per-route scratch, cleared at the end of route(): valid only during one call. The first
   * matching session is kept in fields (most messages match one session: no Map, no object);
   * any other session goes into `matches`.
   */
  private first: Session | undefined = undefined;
  private readonly firstMatch: Match = { qos: 0, durable: false, retainAsPublished: false, subscriptionIds: undefined };
  private readonly matches = new Map<Session, Match>();
  private readonly groups: ShareGroup<Session>[] = [];
  private origin = '';
  /**
   * The last route() found a subscription or a share group for its topic, whether or not it
   * delivered (No Local, ACL): what Mosquitto calls having subscribers (sub__messages_queue).
   */
  matched = false;

  private readonly tree: TopicTree<Session>;
  /** upgrade_outgoing_qos; a configuration reload changes it */
  upgradeQos: boolean;
  private readonly mayRead: (session: Session, topic: string) => boolean;

  constructor(tree: TopicTree<Session>, upgradeQos: boolean, mayRead: (session: Session, topic: string) => boolean) {
    this.tree = tree;
    this.upgradeQos = upgradeQos;
    this.mayRead = mayRead;
  }

  subscriber(session: Session, o: SubscriptionOptions): void {
    this.matched = true;
    // [MQTT-3.8.3-3] No Local: not back to the publisher
    if (o.noLocal && session.clientId === this.origin) return;
    const f = this.firstMatch;
    if (this.first === undefined) {
      this.first = session;
      f.qos = o.qos;
      f.durable = o.qos > 0;
      f.retainAsPublished = o.retainAsPublished;
      f.subscriptionIds = o.subscriptionId > 0 ? [o.subscriptionId] : undefined;
      return;
    }
    const m = this.first === session ? f : this.matches.get(session);
    if (m === undefined) {
      this.matches.set(session, {
        qos: o.qos,
        durable: o.qos > 0,
        retainAsPublished: o.retainAsPublished,
        subscriptionIds: o.subscriptionId > 0 ? [o.subscriptionId] : undefined,
      });
      return;
    }
    if (o.qos > m.qos) m.qos = o.qos;
    if (o.qos > 0) m.durable = true;
    if (o.retainAsPublished) m.retainAsPublished = true;
    if (o.subscriptionId > 0) (m.subscriptionIds ??= []).push(o.subscriptionId);
  }

  group(group: ShareGroup<Session>): void {
    this.matched = true;
    this.groups.push(group);
  }

  /**
   * Delivers `message` to the matching sessions of this worker. `shared`: also pick a member of
   * each matching share group here (one worker); with several workers, the cluster picks the
   * worker for each group and calls deliverShared itself. `part` (a message of another node,
   * src/nats/): 'durable' only to sessions that hold it durably (stored, a matching
   * subscription of QoS 1/2), 'notDurable' only to the others.
   */
  route(message: Message, now: number, shared: boolean, part: RoutePart = 'all'): number {
    this.origin = message.origin;
    this.matched = false;
    this.tree.match(message.topic, this);
    let count = 0;
    const first = this.first;
    if (first !== undefined) {
      this.first = undefined;
      if (inPart(first, this.firstMatch, part) && this.offer(first, this.firstMatch, message, now)) count++;
      if (this.matches.size > 0) {
        for (const [session, m] of this.matches) if (inPart(session, m, part) && this.offer(session, m, message, now)) count++;
        this.matches.clear();
      }
    }
    if (shared) {
      for (const g of this.groups) {
        if (this.deliverShared(g, message, now)) count++;
      }
    }
    this.groups.length = 0;
    return count;
  }

  /** Delivers `message` to one matched session, unless its ACL refuses the topic. */
  private offer(session: Session, m: Match, message: Message, now: number): boolean {
    if (!this.mayRead(session, message.topic)) return false;
    const qos = (this.upgradeQos ? m.qos : Math.min(message.qos, m.qos)) as 0 | 1 | 2;
    // [MQTT-3.3.1-12/13] RETAIN is kept only for Retain As Published subscriptions
    session.deliver(createDelivery(message, qos, m.retainAsPublished && message.retain, m.subscriptionIds), now, true);
    return true;
  }

  /**
   * One member of the group gets the message: round-robin, preferring connected members whose
   * send quota is not exhausted; if none is connected, the next member's session queues it.
   */
  deliverShared(g: ShareGroup<Session>, message: Message, now: number): boolean {
    const members = g.list;
    const n = members.length;
    if (n === 0) return false;
    let session: Session | undefined;
    for (let i = 0; i < n; i++) {
      const candidate = members[(g.cursor + i) % n]!;
      const link = candidate.link;
      if (link !== undefined && !link.congested && candidate.mayFly(link)) {
        session = candidate;
        g.cursor = (g.cursor + i + 1) % n;
        break;
      }
    }
    if (session === undefined) {
      session = members[g.cursor % n]!;
      g.cursor = (g.cursor + 1) % n;
    }
    const o = g.members.get(session)!;
    if (!this.mayRead(session, message.topic)) {
      counters.aclDenied++;
      return false;
    }
    const qos = (this.upgradeQos ? o.qos : Math.min(message.qos, o.qos)) as 0 | 1 | 2;
    session.deliver(createDelivery(message, qos, o.retainAsPublished && message.retain, o.subscriptionId > 0 ? [o.subscriptionId] : undefined), now, false);
    return true;
  }
}

/**
 * The persistent sessions `persistent_subscription` declares (BrokerConfig.persistentSubscriptions):
 * each worker creates its share at start-up, after restoring its stored sessions and before it
 * reports 'loaded', so they exist before any listener opens and keep messages from the first
 * PUBLISH on.
 *
 * Placement — one session per client id, broker-wide:
 * - The responsible worker for a declared id is the one that restores its stored session (the
 *   recorded owner modulo the number of workers, as worker.ts restores), else the id's home
 *   worker (a hash of the id modulo the number of workers). Every worker reads the store for this
 *   before restoring anything: a worker writes only its own sessions' records at start-up (it
 *   deletes those that expired while the broker was down), so a worker's plan is never changed by
 *   its own restore, and a restorer always counts itself responsible.
 * - The responsible worker extends the session it restored (missing subscriptions added), or
 *   claims the id in the client-id registry and creates the session. Two workers that read the
 *   store on either side of a deletion may both be responsible: the claim lets only one create.
 *   A claim that fails means another worker holds the id (a replacement worker starting while that
 *   client's session lives elsewhere): nothing is created.
 * The subscriptions enter this worker's topic tree and, through Cluster.interestChanged, every
 * other worker's interest mirror, so a PUBLISH on any worker reaches the session.
 * called from: worker
 */
import type { Broker } from '../broker/broker.ts';
import type { PersistentSubscription } from '../config/types.ts';
import type { ParsedFilter, SubscriptionOptions } from '../model/subscription.ts';
import type { ClientRegistry } from './registry.ts';

/** What the plan reads from the store: the recorded owner of a stored session (Store.sessionOwner). */
export interface OwnerLookup {
  sessionOwner(clientId: string): number | undefined;
}

/** One declared session: its client id and subscriptions. */
export interface DeclaredSession {
  readonly clientId: string;
  readonly subscriptions: readonly { filter: ParsedFilter; options: SubscriptionOptions }[];
}

/** The declared sessions worker `self` of `workers` is responsible for. */
export class DeclaredSessions {
  readonly mine: readonly DeclaredSession[];

  private constructor(mine: readonly DeclaredSession[]) {
    this.mine = mine;
  }

  /**
   * Groups the configured lines by client id (file order kept) and keeps those this worker is
   * responsible for. Call before this worker restores its stored sessions.
   */
  static plan(lines: readonly PersistentSubscription[], store: OwnerLookup | undefined, self: number, workers: number): DeclaredSessions {
    const byId = new Map<string, { filter: ParsedFilter; options: SubscriptionOptions }[]>();
    for (const l of lines) {
      let subs = byId.get(l.clientId);
      if (subs === undefined) byId.set(l.clientId, (subs = []));
      subs.push({ filter: { raw: l.filter, filter: l.filter, group: undefined }, options: declaredOptions(l.qos) });
    }
    const mine: DeclaredSession[] = [];
    for (const [clientId, subscriptions] of byId) {
      const owner = store?.sessionOwner(clientId);
      const responsible = owner !== undefined ? owner % workers : homeWorker(clientId, workers);
      if (responsible === self) mine.push({ clientId, subscriptions });
    }
    return new DeclaredSessions(mine);
  }

  /**
   * Creates or extends this worker's declared sessions (see the module comment); `registry`:
   * undefined with one worker. Returns how many sessions were created and how many kept.
   */
  create(broker: Broker, registry: ClientRegistry | undefined, self: number): { created: number; kept: number } {
    let created = 0;
    let kept = 0;
    for (const { clientId, subscriptions } of this.mine) {
      const restored = broker.sessions.has(clientId);
      if (!restored && registry !== undefined) {
        const owner = registry.claim(clientId, self);
        if (owner === -2) {
          broker.log.error(`persistent_subscription ${clientId}: the client id registry is full; the session is not declared`);
          continue;
        }
        if (owner !== self) continue; // another worker holds it
      }
      broker.declareSession(clientId, subscriptions);
      if (restored) kept++;
      else created++;
    }
    return { created, kept };
  }
}

/** A declared subscription's options: as a v3.1.1 SUBSCRIBE at `qos` would have them. */
function declaredOptions(qos: 0 | 1 | 2): SubscriptionOptions {
  return { qos, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 0 };
}

/** The worker a declared id without a stored session lives on: FNV-1a of its UTF-16 units. */
export function homeWorker(clientId: string, workers: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < clientId.length; i++) h = Math.imul(h ^ clientId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % workers;
}

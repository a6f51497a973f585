/**
 * What the broker of one worker needs from the other culex nodes (issue 17); implemented by
 * src/nats/node.ts, absent when the broker runs alone (no `cluster_nats_url`). The broker knows
 * nothing of NATS: it hands over what its clients publish and says which filters it holds.
 * called from: worker
 */
import type { Message } from '../model/message.ts';
import type { ParsedFilter } from '../model/subscription.ts';
import type { MovedSession } from './clusterLink.ts';

export interface NodeLink {
  /**
   * A message published on this node (by a client, a will, the broker), never one that came
   * from another node: sent to the other nodes once. Returns what a QoS 1/2 acknowledgement
   * waits for (the NATS server has accepted it), or undefined.
   */
  publish(message: Message, now: number): Promise<void> | undefined;
  /**
   * This worker's topic tree gained (+1) or lost (-1) an entry for `filter` (a `$share`
   * filter: one per member). Returns what the SUBACK waits for (the NATS server knows the new
   * interest, so that a message published elsewhere after the SUBACK arrives), or undefined.
   */
  interestChanged(filter: ParsedFilter, delta: 1 | -1): Promise<void> | undefined;
  /**
   * A durable subscription on `filter` (non-shared, QoS 1 or 2, of a stored session) came (+1)
   * or went (-1) on this worker: the other nodes send their QoS 1/2 messages for it through
   * JetStream too (Broker.fromNodeDurable). Returns what the SUBACK waits for, or undefined;
   * never rejects.
   */
  durableChanged(filter: string, delta: 1 | -1): Promise<void> | undefined;
  /**
   * Makes this node the holder of `clientId` cluster-wide: a node that held it closes its
   * connection (0x8E) and hands its session over. `done` is called later, with that session, or
   * undefined (none came: the id was free, on clean start, another user's, or the node is gone),
   * and `settled`, which the caller must call once the CONNECT is attached to its session here
   * or its client has gone: until then a newer CONNECT on another node waits to take over.
   */
  acquire(clientId: string, cleanStart: boolean, username: string | undefined, done: (moved: MovedSession | undefined, settled: () => void) => void): void;
}

/**
 * Which nodes of the cluster are alive: worker 0 of each node publishes its node name on
 * `culex.heartbeat` every HEARTBEAT_MS and counts the nodes heard from within ALIVE_MS (itself
 * included, once its own beat came back through NATS: a node cut off from NATS counts 0).
 * The count is counters.clusterNodesAlive (culex_cluster_nodes_alive, `$SYS/broker/cluster/nodes`);
 * only worker 0 sets it, so the workers' sum is the node's view.
 * called from: worker (worker 0)
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { counters } from '../metrics/counters.ts';

export const HEARTBEAT_SUBJECT = 'culex.heartbeat';
export const HEARTBEAT_MS = 1000;
/** a node is alive while its last beat is at most this old */
export const ALIVE_MS = 3500;

export class Heartbeat {
  private readonly seen = new Map<string, number>();
  private readonly sub: Subscription;
  private readonly timer: NodeJS.Timeout;

  constructor(nc: NatsConnection, node: string) {
    const beat = Buffer.from(node);
    this.sub = nc.subscribe(HEARTBEAT_SUBJECT, {
      callback: (err, msg) => {
        if (err === null) this.seen.set(Buffer.from(msg.data).toString(), Date.now());
      },
    });
    this.timer = setInterval(() => {
      try {
        nc.publish(HEARTBEAT_SUBJECT, beat);
      } catch {
        // closed or reconnect buffer full: this node misses a beat, as it should
      }
      counters.clusterNodesAlive = this.alive(Date.now());
    }, HEARTBEAT_MS);
    this.timer.unref();
    nc.publish(HEARTBEAT_SUBJECT, beat);
  }

  /** Nodes heard from within ALIVE_MS of `now`; forgets the others. */
  alive(now: number): number {
    let n = 0;
    for (const [node, at] of this.seen) {
      if (now - at <= ALIVE_MS) n++;
      else this.seen.delete(node);
    }
    return n;
  }

  stop(): void {
    clearInterval(this.timer);
    this.sub.unsubscribe();
    counters.clusterNodesAlive = 0;
  }
}

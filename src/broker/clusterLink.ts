import type { Journal } from '../durability/journal.ts';
import type { Message } from '../model/message.ts';
import type { Session } from './session.ts';
import type { ParsedFilter } from '../model/subscription.ts';
import type { Will } from '../model/will.ts';

/** A session handed over by the worker that held it, with the will it had waiting. */
export interface MovedSession {
  readonly session: Session;
  readonly will: Will | undefined;
}

/** What a Connection's socket offers for read back-pressure. */
export interface Pausable {
  pause(): unknown;
  resume(): unknown;
}

/**
 * What the broker of one worker needs from the other workers; implemented by
 * src/workers/cluster.ts, absent with one worker. The broker stays ignorant of threads, rings
 * and shared memory.
 * called from: worker
 */
export interface ClusterLink {
  /** this worker's index */
  readonly self: number;
  /**
   * Sends `message` to every other worker with a matching non-shared subscriber (and, if it is
   * retained, to every worker), and delivers it to one member of each matching `$share` group,
   * wherever it is. Returns the number of workers and groups reached. With the `journal` (a
   * durable publish, between journal.begin and end), each worker reached that has stored
   * sessions answers with the queue entries it needs stored (journal.ts). `groups` false: no
   * `$share` group is served here (the other nodes' NATS queue groups pick the member).
   */
  route(message: Message, now: number, journal: Journal | undefined, groups: boolean): number;
  /** This worker gained (+1) or lost (-1) a stored session with a subscription (durable routing, see journal.ts). */
  storedSubscribers(delta: 1 | -1): void;
  /** broker-wide order for a retained update (the newest wins on every worker) */
  retainStamp(): number;
  /** This worker's topic tree gained (+1) or lost (-1) an entry for `filter`. */
  interestChanged(filter: ParsedFilter, delta: 1 | -1): void;
  /**
   * Makes this worker the owner of `clientId`. Returns false when it is done at once (no other
   * worker holds the id). Returns true when another worker holds it: that worker closes its
   * connection (0x8E) and hands the session over, and `done` is called with it later (undefined
   * when it had none, on clean start, or when the session belongs to another username).
   */
  acquire(clientId: string, cleanStart: boolean, username: string | undefined, done: (moved: MovedSession | undefined) => void): boolean;
  /** Registers `clientId` for this worker (a session restored from the store at start-up). */
  adopt(clientId: string): void;
  /** The session of `clientId` ended on this worker: the id is free again. */
  released(clientId: string): void;
  /** Applies what other workers sent; called before this worker handles newly read packets. */
  sync(): void;
  /** Publishes this turn's ring writes and wakes their readers; called before sockets are written. */
  flush(): void;
  /** true while a ring to another worker is full: a connection that just read is paused */
  readonly congested: boolean;
  /** Pauses a reader until the rings have room again. */
  pauseReader(reader: Pausable): void;
}

/**
 * What the broker of one worker is given (src/workers/worker.ts builds them): authentication,
 * authorisation, the connections' output, the other workers, the store. The broker reads no
 * file and opens no socket itself.
 * called from: worker
 */
import type { Logger } from '../log.ts';
import type { JournalStore } from '../durability/journal.ts';
import type { MessageRecord } from '../records/message.ts';
import type { SessionMeta } from '../records/stored.ts';
import type { NodeLink } from './nodeLink.ts';
import type { ClusterLink } from './clusterLink.ts';

/** A CONNECT to authenticate. */
export interface AuthRequest {
  /** index of the listener the client came in through (BrokerConfig.listeners) */
  readonly listener: number;
  readonly clientId: string;
  /** undefined = the client sent no username */
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
}

/** Answers whether a client may connect: synchronously when no password file is involved. */
export type Authenticate = (request: AuthRequest) => boolean | Promise<'ok' | 'bad_credentials' | 'not_authorized'>;

/** The client an ACL check is made for (long-lived objects, so the authorizer can cache per client). */
export interface AclClient {
  readonly clientId: string;
  readonly username?: string | undefined;
  /** the listener the client (last) came in through, for per_listener_settings ACLs; undefined = unknown */
  readonly listenerIndex?: number | undefined;
}

/**
 * Topic-level authorisation (acl_file, dynamic security); undefined when neither is configured.
 * `topic` is a PUBLISH topic for read/write, a filter for subscribe/unsubscribe.
 */
export interface Authorizer {
  allows(client: AclClient, topic: string, access: 'read' | 'write' | 'subscribe' | 'unsubscribe'): boolean;
}

/**
 * A client's PUBLISH to `$CONTROL/…`, which is never routed (Mosquitto's control topics). Called
 * after the write ACL check; `payload` is only valid during the call.
 */
export type ControlHandler = (topic: string, payload: Buffer, client: AclClient) => void;

export interface BrokerServices {
  readonly log: Logger;
  readonly authenticate: Authenticate;
  readonly authorizer: Authorizer | undefined;
  /** `$CONTROL/…` requests (the dynamic security plugin); without it they are dropped */
  readonly control?: ControlHandler | undefined;
  /** the connections' output: one flush per turn (src/link/outbox.ts) */
  readonly output: { flushSoon(): void };
  /** the other workers; undefined with one worker */
  readonly cluster?: ClusterLink | undefined;
  /** the other culex nodes (src/nats/); undefined for a broker alone */
  readonly nodes?: NodeLink | undefined;
  /** durable storage; undefined when persistence is off */
  readonly store?: DurableStore | undefined;
  /** the first seq this worker gives a stored message, and the step to the next (workers never share one) */
  readonly messageSeq?: { first: number; step: number };
}

/** What the broker writes to disk (src/persistence/store.ts). */
export interface DurableStore extends JournalStore {
  putRetained(topic: string, message: MessageRecord): void;
  deleteRetained(topic: string): void;
  putSession(clientId: string, meta: SessionMeta): void;
  deleteSession(clientId: string): void;
  /** false after a failed commit, until the disk accepts writes again */
  readonly healthy: boolean;
  /** unhealthy because the disk is full */
  readonly full: boolean;
}

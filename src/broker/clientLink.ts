/**
 * What the broker of one worker needs from a connected client (implemented by
 * src/link/connection.ts): the broker never sees a socket or the Connection class.
 * called from: worker
 */
import type { Will } from '../model/will.ts';
import type { Session } from './session.ts';

export interface ClientLink {
  readonly clientId: string;
  readonly username: string | undefined;
  /** index of the listener the client came in through (BrokerConfig.listeners) */
  readonly listenerIndex: number;
  /** the broker made up this client id (unique by construction: no registry entry) */
  readonly idAssigned: boolean;
  /** true while CONNECT waits for its session to arrive from another worker */
  readonly awaitingSession: boolean;
  /** set once CONNACK is sent; undefined before */
  readonly session: Session | undefined;
  /** the Will of the connection; the broker takes it (sets undefined) when the connection ends */
  will: Will | undefined;
  /** Another connection took the client id over [MQTT-3.1.4-3]: close with 0x8E. `cleanStart`: whether the
   *  new connection starts a clean session (a 3.1/3.1.1 will is kept only then; src/link/connection.ts). */
  takeOver(cleanStart: boolean): void;
}

/**
 * Which listener a connection came in through: the settings that differ per listener
 * (mount_point, certificate identities, per_listener_settings security) are read from here.
 * called from: worker
 */
import type { BrokerConfig, ListenerConfig, ListenerSecurity } from '../config/types.ts';
import { listenerSecurity } from '../config/listenerSecurity.ts';

export interface ListenerContext {
  /** index in BrokerConfig.listeners */
  readonly index: number;
  readonly config: ListenerConfig;
  /** the allow_zero_length_clientid / auto_id_prefix / … that apply to its clients (global or its own) */
  readonly security: ListenerSecurity;
}

/** The context of listener `index`; `listener` defaults to its configuration (tests serve a variant). */
export function listenerContext(config: BrokerConfig, index: number, listener: ListenerConfig = config.listeners[index]!): ListenerContext {
  return { index, config: listener, security: listenerSecurity(config, index) };
}

/**
 * Which listener a connection came in through: the settings that differ per listener
 * (mount_point, certificate identities, per_listener_settings security) are read from here.
 * called from: worker
 */
import type { ListenerConfig } from '../config/types.ts';

export interface ListenerContext {
  /** index in BrokerConfig.listeners */
  readonly index: number;
  readonly config: ListenerConfig;
}

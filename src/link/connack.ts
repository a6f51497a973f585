/**
 * The properties of a successful v5 CONNACK: what this broker offers every client (Receive
 * Maximum, Maximum QoS, Retain Available, Maximum Packet Size, Topic Alias Maximum, …).
 * called from: worker
 */
import type { IConnackPacket } from 'mqtt-packet';
import type { BrokerConfig } from '../config/types.ts';

export type ConnackProperties = NonNullable<IConnackPacket['properties']>;

/** `assigned`: the client id the broker made up for a zero-length one [MQTT-3.2.2-16]. */
export function connackProperties(cfg: BrokerConfig, receiveMaximum: number, assigned: string | undefined): ConnackProperties {
  const p: ConnackProperties = {
    receiveMaximum,
    retainAvailable: cfg.retainAvailable,
    wildcardSubscriptionAvailable: true,
    subscriptionIdentifiersAvailable: true,
    sharedSubscriptionAvailable: true,
    topicAliasMaximum: cfg.maxTopicAlias,
  };
  if (cfg.maxQos < 2) p.maximumQoS = cfg.maxQos;
  if (cfg.maxPacketSize > 0) p.maximumPacketSize = cfg.maxPacketSize;
  if (assigned !== undefined) p.assignedClientIdentifier = assigned;
  return p;
}

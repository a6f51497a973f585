/**
 * CONNACK packets: the properties of a successful v5 CONNACK (what this broker offers every
 * client: Receive Maximum, Maximum QoS, Retain Available, Maximum Packet Size, …), the constant
 * 3.1/3.1.1 acceptances, and refusals in either version.
 * called from: worker
 */
import type { IConnackPacket } from 'mqtt-packet';
import type { BrokerConfig } from '../config/types.ts';
import { ReasonCode, v3ConnackReturnCode } from '../protocol/errors.ts';
import { encodePacket } from '../protocol/encode.ts';
import type { ProtocolVersion } from '../protocol/decode.ts';

/** reason codes that have a 3.1/3.1.1 CONNACK return code */
const V3_CONNACK_REASONS = new Set<number>([
  ReasonCode.UnsupportedProtocolVersion, ReasonCode.ClientIdentifierNotValid,
  ReasonCode.BadUserNameOrPassword, ReasonCode.NotAuthorized, ReasonCode.ServerUnavailable,
]);

/** 3.1/3.1.1 CONNACK accepted, session present or not: constant bytes (a connect storm encodes nothing) */
const CONNACK_V3_NEW = Buffer.from([0x20, 2, 0, 0]);
const CONNACK_V3_PRESENT = Buffer.from([0x20, 2, 1, 0]);

export function v3Connack(sessionPresent: boolean): Buffer {
  return sessionPresent ? CONNACK_V3_PRESENT : CONNACK_V3_NEW;
}

/** Whether a 3.1/3.1.1 client can be told `reasonCode` in a CONNACK (otherwise it is just closed). */
export function hasV3ReturnCode(reasonCode: number): boolean {
  return V3_CONNACK_REASONS.has(reasonCode);
}

/** A CONNACK refusing the connection [MQTT-3.2.2-6]; `reasonString` only for v5 clients that allow problem information. */
export function refusalConnack(version: ProtocolVersion, reasonCode: number, reasonString: string | undefined): Buffer {
  return version === 5
    ? encodePacket({ cmd: 'connack', sessionPresent: false, reasonCode, properties: reasonString === undefined ? undefined : { reasonString } }, 5)
    : encodePacket({ cmd: 'connack', sessionPresent: false, returnCode: v3ConnackReturnCode(reasonCode) }, version);
}

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

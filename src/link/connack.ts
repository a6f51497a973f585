/**
 * CONNACK packets: the properties of a successful v5 CONNACK (what this broker offers every
 * client where it differs from the spec's default: Receive Maximum, Maximum QoS, Retain Available,
 * Maximum Packet Size, …), the constant 3.1/3.1.1 acceptances, and refusals in either version.
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

/** The accepting CONNACK of a 3.1 or 3.1.1 client. MQTT 3.1 has no Session Present flag: its first
 *  byte is reserved, 0 (Mosquitto 2.0.11 sets the flag for 3.1.1 and 5.0 only). */
export function v3Connack(version: ProtocolVersion, sessionPresent: boolean): Buffer {
  return sessionPresent && version === 4 ? CONNACK_V3_PRESENT : CONNACK_V3_NEW;
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

/**
 * The properties of an accepting v5 CONNACK. A property at the spec's default value is left out
 * (Retain Available 1, Wildcard / Subscription Identifier / Shared Subscription Available 1, Topic Alias
 * Maximum 0, Receive Maximum 65535, Maximum QoS 2), as Mosquitto 2.0.11 does, and the rest come in
 * Mosquitto's order (handle_connect.c then send_connack.c), so the bytes are Mosquitto's.
 * `serverKeepAlive`: set when the client must use it [MQTT-3.2.2-21]; `assigned`: the client id the
 * broker made up for a zero-length one [MQTT-3.2.2-16].
 */
export function connackProperties(cfg: BrokerConfig, receiveMaximum: number, serverKeepAlive: number | undefined,
    assigned: string | undefined): ConnackProperties {
  const p: ConnackProperties = {};
  if (cfg.maxTopicAlias > 0) p.topicAliasMaximum = cfg.maxTopicAlias;
  if (serverKeepAlive !== undefined) p.serverKeepAlive = serverKeepAlive;
  if (assigned !== undefined) p.assignedClientIdentifier = assigned;
  if (!cfg.retainAvailable) p.retainAvailable = false;
  if (cfg.maxPacketSize > 0) p.maximumPacketSize = cfg.maxPacketSize;
  if (receiveMaximum < 65535) p.receiveMaximum = receiveMaximum;
  if (cfg.maxQos < 2) p.maximumQoS = cfg.maxQos;
  return p;
}

/**
 * CONNECT requests this broker refuses whatever the credentials: an extended authentication
 * method, a 3.1/3.1.1 keep-alive outside max_keepalive, a will it cannot honour (QoS, retain, or a
 * payload larger than message_size_limit).
 * called from: worker
 */
import type { IConnectPacket } from 'mqtt-packet';
import type { BrokerConfig } from '../config/types.ts';
import { ReasonCode } from '../protocol/errors.ts';
import type { ProtocolVersion } from '../protocol/decode.ts';

/** The CONNACK reason (and its log text) refusing `packet`, or undefined to go on. */
export function connectRefusal(cfg: BrokerConfig, packet: IConnectPacket, version: ProtocolVersion): { reason: number; why: string } | undefined {
  if (packet.properties?.authenticationMethod !== undefined) {
    // [MQTT-4.12.0-1] no extended authentication method is supported
    return { reason: ReasonCode.BadAuthenticationMethod, why: 'authentication method not supported' };
  }
  const keepalive = packet.keepalive ?? 0;
  if (version !== 5 && cfg.maxKeepalive < 65535 && (keepalive > cfg.maxKeepalive || keepalive === 0)) {
    // v3 has no Server Keep Alive: Mosquitto refuses such clients with "identifier rejected"
    return { reason: ReasonCode.ClientIdentifierNotValid, why: 'keepalive above max_keepalive' };
  }
  const will = packet.will;
  if (will !== undefined && will !== null) {
    if ((will.qos ?? 0) > cfg.maxQos) return { reason: ReasonCode.QoSNotSupported, why: 'will QoS not supported' };
    if (will.retain === true && !cfg.retainAvailable) return { reason: ReasonCode.RetainNotSupported, why: 'retain not supported' };
    const limit = cfg.messageSizeLimit;
    if (limit > 0 && will.payload !== undefined && will.payload.length > limit) {
      // Mosquitto 2.0.11 handle_connect.c will__read: v5 0x95 Packet Too Large, 3.1/3.1.1 code 5 (v3ConnackReturnCode)
      return { reason: ReasonCode.PacketTooLarge, why: 'will payload larger than message_size_limit' };
    }
  }
  return undefined;
}

/** The largest first packet of a client that has not been answered CONNACK yet. */
export function connectPacketLimit(cfg: BrokerConfig): number {
  const limit = cfg.maxConnectPacketSize;
  if (limit === 0) return cfg.maxPacketSize;
  return cfg.maxPacketSize === 0 ? limit : Math.min(limit, cfg.maxPacketSize);
}

/**
 * An inbound PUBLISH: checkPublish() throws the protocol errors that close the connection;
 * admitPublish() returns the reasons that are answered in the acknowledgement (Mosquitto's
 * behaviour: the message is acknowledged, not routed); routePublish() routes it and sends the
 * PUBACK/PUBREC once what it wrote is durable.
 * called from: worker
 */
import { isUtf8 } from 'node:buffer';
import type { IPublishPacket } from 'mqtt-packet';
import { MqttProtocolError, ReasonCode } from '../protocol/errors.ts';
import type { BrokerConfig } from '../config/types.ts';
import { counters } from '../metrics/counters.ts';
import type { Broker } from '../broker/broker.ts';
import type { AclClient } from '../broker/services.ts';
import type { Session } from '../broker/session.ts';
import type { ProtocolVersion } from '../protocol/decode.ts';
import { encodeAck } from '../protocol/packets/ack.ts';
import { createMessage, type MessageProperties } from '../model/message.ts';
import { adoptReceivedFrame } from './publishEncoder.ts';
import { mountTopic } from './mountPoint.ts';
import { overMemoryLimit } from './memoryLimit.ts';
import type { TopicAliases } from './topicAliases.ts';

/** 0 to route; otherwise the reason the message is acknowledged but not routed. */
export function admitPublish(broker: Broker, client: AclClient, topic: string, p: IPublishPacket): number {
  // a message that may have to be stored is refused while the disk cannot take it, rather than acknowledged
  if (p.qos > 0 && !broker.canStore) {
    counters.storeFailures++;
    return ReasonCode.QuotaExceeded;
  }
  // memory_limit: refused as a full disk is (3.1.1: the connection is closed, as Mosquitto does)
  const memoryLimit = broker.config.memoryLimit;
  if (memoryLimit > 0 && overMemoryLimit(memoryLimit)) {
    counters.messagesRejectedMemoryLimit++;
    return ReasonCode.QuotaExceeded;
  }
  const limit = broker.config.messageSizeLimit;
  if (limit > 0 && p.payload.length > limit) {
    counters.messagesRejectedTooLarge++;
    return ReasonCode.PacketTooLarge;
  }
  // [MQTT-3.3.2-4] a payload declared UTF-8 must be UTF-8 (Mosquitto checks it too)
  if (p.properties?.payloadFormatIndicator === true && !isUtf8(p.payload as Buffer)) return ReasonCode.PayloadFormatInvalid;
  if (!broker.mayPublish(client, topic)) {
    counters.aclDenied++;
    return ReasonCode.NotAuthorized;
  }
  return 0;
}

/** Counts an inbound PUBLISH and throws the protocol error it is, if any. */
export function checkPublish(cfg: BrokerConfig, p: IPublishPacket): void {
  const qos = p.qos;
  if (qos === 1) counters.publishReceivedQos1++;
  else if (qos === 2) counters.publishReceivedQos2++;
  else counters.publishReceivedQos0++;
  counters.publishBytesReceived += p.payload.length;
  if (qos > cfg.maxQos) {
    // [MQTT-3.2.2-11] a QoS above Maximum QoS is a protocol error (0x9B)
    throw new MqttProtocolError(ReasonCode.QoSNotSupported, 'MQTT_ERR_QOS_NOT_SUPPORTED', 'QoS not supported', 'MQTT-3.2.2-11');
  }
  if (p.retain && !cfg.retainAvailable) {
    throw new MqttProtocolError(ReasonCode.RetainNotSupported, 'MQTT_ERR_RETAIN_NOT_SUPPORTED', 'retain not supported', 'MQTT-3.2.2-14');
  }
}

/** What routePublish needs of its connection (src/link/connection.ts). */
export interface PublishingClient extends AclClient {
  readonly version: ProtocolVersion;
  readonly clientId: string;
  readonly session: Session | undefined;
  /** the listener's mount_point, if any */
  readonly mountPoint: string | undefined;
  readonly aliases: TopicAliases;
  /** something waits in the ordered-ack queue */
  readonly acksWaiting: boolean;
  write(bytes: Buffer): void;
  afterCommit(commit: Promise<void> | undefined, send: () => void, failed?: () => boolean): void;
  disconnect(reasonCode: number, reasonString?: string): void;
}

/**
 * A PUBLISH of a connected client (in its window): checked, routed, acknowledged once what it
 * wrote is durable. `frame`: the frame it was decoded from, when that is the one being handled
 * (adoptReceivedFrame); undefined for a PUBLISH that waited in the 3.1.1 window.
 */
export function routePublish(conn: PublishingClient, broker: Broker, p: IPublishPacket, frame: Buffer | undefined, bodyOffset: number): void {
  const cfg = broker.config;
  const qos = p.qos;
  checkPublish(cfg, p);
  let topic = p.topic;
  let props = p.properties;
  if (props?.topicAlias !== undefined) topic = conn.aliases.resolveInbound(props.topicAlias, topic, cfg.maxTopicAlias);
  if (conn.mountPoint !== undefined) topic = mountTopic(conn.mountPoint, topic);
  if (props?.subscriptionIdentifier !== undefined) {
    // [MQTT-3.3.4-6] a PUBLISH from a client must not carry a Subscription Identifier
    throw new MqttProtocolError(ReasonCode.ProtocolError, 'MQTT_ERR_PUBLISH_SUBID', 'subscription identifier in PUBLISH', 'MQTT-3.3.4-6');
  }
  const session = conn.session!;
  const id = p.messageId ?? 0;
  if (qos === 2) {
    if (!session.inbound.receive(id)) {
      // retransmission of a PUBLISH we already routed: acknowledge again, do not route [MQTT-4.3.3-10]
      // (behind the first PUBREC if that still waits for its commit)
      conn.afterCommit(undefined, () => conn.write(encodeAck('pubrec', id, conn.version)));
      return;
    }
    if (session.inbound.size > broker.receiveMaximum) {
      session.inbound.release(id);
      // [MQTT-3.3.4-9] more unacknowledged QoS 2 PUBLISHes than our Receive Maximum
      throw new MqttProtocolError(ReasonCode.ReceiveMaximumExceeded, 'MQTT_ERR_RECEIVE_MAXIMUM', 'receive maximum exceeded', 'MQTT-3.3.4-9');
    }
  }
  let reason = admitPublish(broker, conn, topic, p);
  if (reason === ReasonCode.NotAuthorized && broker.log.debugEnabled) logDenied(broker, conn, p, topic);
  let commit: Promise<void> | undefined;
  if (reason === ReasonCode.QuotaExceeded && conn.version !== 5) {
    // 3.1.1 cannot refuse one message: closing is the only answer that does not acknowledge it
    if (qos === 2) session.inbound.release(id);
    conn.disconnect(reason, 'message could not be stored (store unhealthy or memory_limit)');
    return;
  }
  if (reason === 0) {
    if (props !== undefined && (props.topicAlias !== undefined || props.subscriptionIdentifier !== undefined)) {
      const { topicAlias: _a, subscriptionIdentifier: _s, ...rest } = props;
      props = rest;
    }
    // a message that may be stored owns its payload; a QoS 0 one is only read during this call
    const store = qos > 0 || p.retain || cfg.queueQos0Messages;
    const raw = p.payload as Buffer;
    const payload = store ? Buffer.from(raw) : raw;
    const source = p.retain ? { clientId: conn.clientId, username: conn.username, listenerIndex: conn.listenerIndex } : undefined;
    const message = createMessage(topic, payload, qos, p.retain, props as MessageProperties | undefined, conn.clientId, Date.now(), source);
    // a device's QoS 0 PUBLISH is forwarded as it came (not for a message kept beyond this turn, nor a topic changed here)
    if (!store && conn.version !== 5 && topic === p.topic && frame !== undefined) adoptReceivedFrame(message, frame, bodyOffset);
    const scope = broker.scope.open();
    const matched = broker.publish(message, false, session, qos === 2 ? id : 0);
    if (qos === 0) return;
    // v5 PUBACK says 0x10 when no subscription matches; PUBREC does not, as in Mosquitto 2.0.11 (handle_publish.c)
    if (!matched && qos === 1 && conn.version === 5) reason = ReasonCode.NoMatchingSubscribers;
    // acknowledged only once what it wrote is on disk (persistence_durability)
    commit = scope.close();
  }
  if (qos === 0) return;
  if (commit === undefined && !conn.acksWaiting) {
    acknowledge(conn, broker, qos, id, reason); // the common case: no closures on the hot path
    return;
  }
  const ack = { qos, id, reason };
  conn.afterCommit(commit, () => acknowledge(conn, broker, ack.qos, ack.id, ack.reason), () => {
    // a failed commit is not acknowledged as a success: v5 is told why (0x97 for a full disk, as
    // every publish after it while the store is full; else 0x80), 3.1.1 (no way to say it) is disconnected
    if (conn.version !== 5) return false;
    ack.reason = broker.storeFull ? ReasonCode.QuotaExceeded : ReasonCode.UnspecifiedError;
    return true;
  });
}

/** Mosquitto's debug line for a PUBLISH the ACL refused (handle_publish.c). */
function logDenied(broker: Broker, conn: PublishingClient, p: IPublishPacket, topic: string): void {
  broker.log.debug(`Denied PUBLISH from ${conn.clientId} (d${p.dup ? 1 : 0}, q${p.qos}, r${p.retain ? 1 : 0}, m${p.messageId ?? 0}, '${topic}', ... (${p.payload.length} bytes))`);
}

/** PUBACK (QoS 1) or PUBREC (QoS 2) for a received PUBLISH; a refused QoS 2 id is forgotten. */
function acknowledge(conn: PublishingClient, broker: Broker, qos: 1 | 2, id: number, reason: number): void {
  if (qos === 1) {
    conn.write(encodeAck('puback', id, conn.version, conn.version === 5 ? reason : 0));
    return;
  }
  if (reason >= 0x80 && conn.session?.inbound.release(id) === true) broker.releaseInbound(conn.session, id);
  conn.write(encodeAck('pubrec', id, conn.version, conn.version === 5 ? reason : 0));
}

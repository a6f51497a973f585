/**
 * Whether an inbound PUBLISH may be routed: checkPublish() throws the protocol errors that close
 * the connection; admitPublish() returns the reasons that are answered in the acknowledgement
 * (Mosquitto's behaviour: the message is acknowledged, not routed).
 * called from: worker
 */
import { isUtf8 } from 'node:buffer';
import type { IPublishPacket } from 'mqtt-packet';
import { MqttProtocolError, ReasonCode } from '../protocol/errors.ts';
import type { BrokerConfig } from '../config/types.ts';
import { counters } from '../metrics/counters.ts';
import type { Broker } from '../broker/broker.ts';
import type { AclClient } from '../broker/services.ts';

/** 0 to route; otherwise the reason the message is acknowledged but not routed. */
export function admitPublish(broker: Broker, client: AclClient, topic: string, p: IPublishPacket): number {
  // a message that may have to be stored is refused while the disk cannot take it, rather than acknowledged
  if (p.qos > 0 && !broker.canStore) {
    counters.storeFailures++;
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
  if (qos > cfg.maxQos) {
    // [MQTT-3.2.2-11] a QoS above Maximum QoS is a protocol error (0x9B)
    throw new MqttProtocolError(ReasonCode.QoSNotSupported, 'MQTT_ERR_QOS_NOT_SUPPORTED', 'QoS not supported', 'MQTT-3.2.2-11');
  }
  if (p.retain && !cfg.retainAvailable) {
    throw new MqttProtocolError(ReasonCode.RetainNotSupported, 'MQTT_ERR_RETAIN_NOT_SUPPORTED', 'retain not supported', 'MQTT-3.2.2-14');
  }
}

/**
 * Whether an inbound PUBLISH may be routed: checks that answer with a reason code in its
 * acknowledgement rather than with a protocol error (Mosquitto's behaviour: the message is
 * acknowledged, not routed).
 * called from: worker
 */
import { isUtf8 } from 'node:buffer';
import type { IPublishPacket } from 'mqtt-packet';
import { ReasonCode } from '../protocol/errors.ts';
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

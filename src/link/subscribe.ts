import type { ISubackPacket, ISubscribePacket, IUnsubackPacket, IUnsubscribePacket } from 'mqtt-packet';
import { MqttProtocolError, ReasonCode } from '../protocol/errors.ts';
import { encodePacket } from '../protocol/encode.ts';
import { counters } from '../metrics/counters.ts';
import { isValidTopicFilter, parseSharedFilter } from '../protocol/topic.ts';
import type { Broker } from '../broker/broker.ts';
import type { Connection } from './connection.ts';
import type { ParsedFilter, SubscriptionOptions } from '../model/subscription.ts';
import { mountFilter } from './mountPoint.ts';

/**
 * SUBSCRIBE and UNSUBSCRIBE for one connection: validation, per-filter reason codes, the
 * topic tree update and retained-message delivery.
 * called from: worker
 */

/**
 * A filter checked and split, or the reason code refusing it. `mount`: the listener's
 * mount_point, put in front of the (checked) filter (src/link/mountPoint.ts).
 */
function parseFilter(raw: string, mount: string | undefined): ParsedFilter | number {
  const parsed = splitFilter(raw);
  return mount === undefined || typeof parsed === 'number' ? parsed : mountFilter(mount, parsed);
}

function splitFilter(raw: string): ParsedFilter | number {
  const shared = parseSharedFilter(raw);
  if (shared !== undefined) {
    if (!shared.valid) return ReasonCode.TopicFilterInvalid;
    return { raw, filter: shared.filter, group: shared.group };
  }
  if (!isValidTopicFilter(raw)) return ReasonCode.TopicFilterInvalid;
  return { raw, filter: raw, group: undefined };
}

export function handleSubscribe(conn: Connection, broker: Broker, packet: ISubscribePacket): void {
  const v5 = conn.version === 5;
  // Mosquitto handle_subscribe.c: a 3.1/3.1.1 bridge's subscriptions never send its own messages back
  const bridge = !v5 && conn.isBridge;
  const session = conn.session!;
  const subId = packet.properties?.subscriptionIdentifier ?? 0;
  const scope = broker.scope.open();
  const granted: number[] = [];
  const retainedFor: { filter: ParsedFilter; options: SubscriptionOptions; existed: boolean }[] = [];
  for (const s of packet.subscriptions) {
    const parsed = parseFilter(s.topic, conn.mountPoint);
    if (typeof parsed === 'number') {
      granted.push(v5 ? parsed : 0x80);
      continue;
    }
    if (parsed.group !== undefined && s.nl === true) {
      // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error
      throw new MqttProtocolError(ReasonCode.ProtocolError, 'MQTT_ERR_SHARED_NO_LOCAL', 'No Local on a shared subscription', 'MQTT-3.8.3-4');
    }
    if (!broker.maySubscribe(conn, parsed.raw)) {
      // the ACL grants read on nothing this filter can match: say so now rather than deliver nothing
      counters.aclDenied++;
      // Mosquitto 2.0.11 logs a refused subscription only in its debug lines
      if (broker.log.debugEnabled) broker.log.debug(`Denied SUBSCRIBE from ${conn.clientId} to '${parsed.raw}'`);
      granted.push(v5 ? ReasonCode.NotAuthorized : 0x80);
      continue;
    }
    const qos = Math.min(s.qos, broker.config.maxQos) as 0 | 1 | 2;
    const options: SubscriptionOptions = {
      qos,
      noLocal: s.nl === true || bridge,
      retainAsPublished: s.rap === true || bridge,
      retainHandling: (s.rh ?? 0) as 0 | 1 | 2,
      subscriptionId: subId,
    };
    const existed = broker.subscribe(session, parsed, options);
    granted.push(qos);
    // Mosquitto handle_subscribe.c: "<client id> <qos> <filter>" (the filter with the mount point)
    if (broker.log.subscribeEnabled) broker.log.subscribe(`${conn.clientId} ${qos} ${parsed.raw}`);
    if (parsed.group === undefined) retainedFor.push({ filter: parsed, options, existed });
  }
  const suback: ISubackPacket = { cmd: 'suback', messageId: packet.messageId, granted };
  const commit = scope.close();
  // a persistent session's subscriptions are on disk before the SUBACK says they exist
  conn.afterCommit(commit, () => {
    conn.write(encodePacket(suback, conn.version));
    // [MQTT-3.3.1-9] retained messages go after the SUBACK, with RETAIN set; none for shared subscriptions
    for (const r of retainedFor) {
      // Retain Handling: 0 always, 1 only for a new subscription, 2 never [MQTT-3.3.1-10/11]
      if (r.options.retainHandling === 2 || (r.options.retainHandling === 1 && r.existed)) continue;
      broker.sendRetained(session, r.filter.filter, r.options);
    }
  });
}

export function handleUnsubscribe(conn: Connection, broker: Broker, packet: IUnsubscribePacket): void {
  const v5 = conn.version === 5;
  const session = conn.session!;
  const codes: number[] = [];
  const scope = broker.scope.open();
  for (const raw of packet.unsubscriptions) {
    const parsed = parseFilter(raw, conn.mountPoint);
    if (typeof parsed === 'number') {
      codes.push(parsed);
      continue;
    }
    if (!broker.mayUnsubscribe(conn, parsed.raw)) {
      // the subscription stays (Mosquitto handle_unsubscribe.c); 3.1.1 has no code to say so
      codes.push(ReasonCode.NotAuthorized);
      continue;
    }
    codes.push(broker.unsubscribe(session, parsed) ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted);
    // Mosquitto handle_unsubscribe.c: "<client id> <filter>"
    if (broker.log.unsubscribeEnabled) broker.log.unsubscribe(`${conn.clientId} ${parsed.raw}`);
  }
  const unsuback: IUnsubackPacket = { cmd: 'unsuback', messageId: packet.messageId, granted: v5 ? codes : [] };
  conn.afterCommit(scope.close(), () => conn.write(encodePacket(unsuback, conn.version)));
}

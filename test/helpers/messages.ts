/**
 * Comparing broker Messages in tests: everything a message carries that must survive a copy (a
 * session moved between workers, a ring record, storage), a retained message's source included, in a form deepEqual can compare —
 * payload and correlation data as hex, user properties as ordered pairs.
 */
import type { Message } from '../../src/model/message.ts';
import { userPropertyPairs, type UserProperties } from '../../src/protocol/userProperties.ts';

export function messageView(m: Message): unknown {
  const p = m.properties;
  let properties: unknown;
  if (p !== undefined) {
    const { userProperties, correlationData, ...rest } = p;
    properties = {
      ...rest,
      correlationData: correlationData === undefined ? undefined : Buffer.from(correlationData).toString('hex'),
      userProperties: userProperties === undefined ? undefined : userPropertyPairs(userProperties as UserProperties),
    };
  }
  return { topic: m.topic, payload: m.payload.toString('hex'), qos: m.qos, retain: m.retain, properties, expiresAt: m.expiresAt, origin: m.origin, source: m.source === undefined ? undefined : { ...m.source }, stamp: m.stamp };
}

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { messageView } from '../../helpers/messages.ts';
import { Packr } from 'msgpackr';
import { Session, type QueueLimits, type SessionLink } from '../../../src/broker/session.ts';
import { createMessage, type Message, type MessageProperties } from '../../../src/model/message.ts';
import { AckResult } from '../../../src/broker/qos/outbound.ts';
import { OutState, type Delivery } from '../../../src/model/delivery.ts';
import type { ParsedFilter, SubscriptionOptions } from '../../../src/model/subscription.ts';
import type { Will } from '../../../src/model/will.ts';
import { type SessionRecord } from '../../../src/records/session.ts';
import { sessionFromRecord, sessionToRecord } from '../../../src/broker/sessionTransfer.ts';
import { messageFromRecord, messageToRecord, type MessageRecord } from '../../../src/records/message.ts';
import { userPropertiesFromPairs, userPropertyPairs, type UserProperties } from '../../../src/protocol/userProperties.ts';

/** The same options as src/workers/records.ts: plain maps, Buffers copied out of the source. */
const packr = new Packr({ useRecords: false, copyBuffers: true });
const viaMsgpack = <T>(record: T): T => packr.unpack(packr.pack(record)) as T;

const limits: QueueLimits = { maxQueuedMessages: 100, maxQueuedBytes: 0, queueQos0Messages: true, dropOldest: false };
const NOW = 1_700_000_000_000;
const ORIGIN_WORKER = 3;

/** Interleaved and repeated names: grouping by name would reorder them [MQTT-3.3.2-17/18]. */
const PAIRS: [string, string][] = [['z', '1'], ['a', '2'], ['z', '3'], ['a', '4'], ['m', 'x'], ['z', '5']];

function fullProperties(tag: string): MessageProperties {
  return {
    payloadFormatIndicator: true,
    messageExpiryInterval: 120,
    contentType: `application/${tag}+json`,
    responseTopic: `reply/${tag}`,
    correlationData: Buffer.from([0, 1, 2, 0xfe, 0xff, tag.length]),
    userProperties: userPropertiesFromPairs([...PAIRS, ['tag', tag]]),
  };
}

function message(topic: string, payload: Buffer, qos: 0 | 1 | 2, properties: MessageProperties | undefined, stamp = 0): Message {
  const m = createMessage(topic, payload, qos, false, properties, 'publisher-1', NOW);
  m.stamp = stamp;
  return m;
}

function delivery(m: Message, qos: 0 | 1 | 2, retain = false, subscriptionIds: readonly number[] | undefined = undefined): Delivery {
  return { message: m, qos, retain, subscriptionIds, qseq: 0, mseq: 0, hold: undefined, stored: undefined };
}


function deliveryView(d: Delivery): unknown {
  return { message: messageView(d.message), qos: d.qos, retain: d.retain, subscriptionIds: d.subscriptionIds, qseq: d.qseq };
}

function assertBuffers(m: Message, where: string): void {
  assert.ok(Buffer.isBuffer(m.payload), `${where}: payload is a Buffer`);
  const cd = m.properties?.correlationData;
  if (cd !== undefined) assert.ok(Buffer.isBuffer(cd), `${where}: correlation data is a Buffer`);
}

const sub = (raw: string, filter: string, group: string | undefined, options: SubscriptionOptions): [string, { filter: ParsedFilter; options: SubscriptionOptions }] =>
  [raw, { filter: { raw, filter, group }, options }];

const SUBSCRIPTIONS = [
  sub('a/+/c', 'a/+/c', undefined, { qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2, subscriptionId: 42 }),
  sub('$share/workers/jobs/#', 'jobs/#', 'workers', { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 0 }),
  sub('x/y', 'x/y', undefined, { qos: 0, noLocal: false, retainAsPublished: true, retainHandling: 1, subscriptionId: 268435455 }),
  sub('$share/g2/€/+', '€/+', 'g2', { qos: 2, noLocal: true, retainAsPublished: false, retainHandling: 1, subscriptionId: 7 }),
];

const WILL: Will = {
  topic: 'clients/c1/status',
  payload: Buffer.from('offline'),
  qos: 1,
  retain: true,
  properties: { contentType: 'text/plain', correlationData: Buffer.from('will-cd'), messageExpiryInterval: 30, userProperties: userPropertiesFromPairs(PAIRS) },
  delay: 45,
  clientId: 'c1',
  username: 'alice',
};

/**
 * A session with every kind of state: v5 subscriptions (shared and not), outbound entries in all
 * three states whose ids wrapped past 65535 (so send order ≠ numeric order), an acknowledged id in
 * the middle, inbound QoS 2 ids, and a queue mixing QoS 0/1/2 with and without properties.
 */
function fullSession(): Session {
  const s = new Session('c1', limits);
  s.username = 'alice';
  s.expiryInterval = 3600;
  for (const [, entry] of SUBSCRIPTIONS) s.setSubscription(entry.filter, entry.options);

  s.outbound.lastAllocated = 65533;
  const add = (d: Delivery): number => {
    const id = s.outbound.allocateId();
    s.outbound.add(id, d);
    return id;
  };
  add(delivery(message('out/one', Buffer.from('one'), 1, fullProperties('one')), 1, false, [42])); // 65534 AwaitPuback
  add(delivery(message('out/two', Buffer.from('two'), 2, undefined), 2, true, undefined)); // 65535 AwaitPubrec
  const three = add(delivery(message('out/three', Buffer.alloc(0), 2, fullProperties('three')), 2, false, [7, 42])); // 1
  assert.equal(s.outbound.pubrec(three, 0), AckResult.SendPubrel); // → AwaitPubcomp
  const four = add(delivery(message('out/four', Buffer.from('gone'), 1, undefined), 1)); // 2, acknowledged below
  add(delivery(message('out/five', Buffer.from([0xde, 0xad, 0xbe, 0xef]), 1, fullProperties('five')), 1)); // 3 AwaitPuback
  assert.equal(s.outbound.puback(four), AckResult.Completed);

  for (const id of [7, 65535, 300]) s.inbound.receive(id);

  s.deliver(delivery(message('q/0', Buffer.from('q0'), 0, undefined), 0), NOW, true);
  s.deliver(delivery(message('q/1/ünï', Buffer.from('q1'), 1, fullProperties('q1'), 17), 1, true, [42]), NOW, true);
  s.deliver(delivery(message('q/2', Buffer.alloc(0), 2, { userProperties: userPropertiesFromPairs([['k', 'v1'], ['j', 'w'], ['k', 'v2']]) }), 2, false, [1, 2, 3]), NOW, true);
  s.deliver(delivery(message('q/3', Buffer.alloc(70_000, 0x5a), 1, { correlationData: Buffer.alloc(0), contentType: '' }), 1), NOW, true);
  return s;
}

/** Packet id and state of each outbound entry in send order. */
const outboundIds = (s: Session): [number, number][] => [...s.outbound.values()].map((e) => [e.packetId, e.state]);

/** Round-trips a session as handover does: record → msgpackr → record → session. */
function move(s: Session, will: Will | undefined): { session: Session; will: Will | undefined } {
  return sessionFromRecord(viaMsgpack(sessionToRecord(s, will)), limits, ORIGIN_WORKER);
}

/** A link that records what an attached session sends. */
class RecordingLink implements SessionLink {
  readonly sent: string[] = [];
  sendQuota = 100;
  congested = false;
  sendPublish(d: Delivery, packetId: number, dup: boolean): boolean {
    this.sent.push(`PUBLISH ${d.message.topic} id=${packetId} qos=${d.qos} dup=${dup}`);
    return true;
  }
  sendPubrel(packetId: number): void {
    this.sent.push(`PUBREL id=${packetId}`);
  }
}

describe('sessionToRecord → msgpackr → sessionFromRecord', () => {
  test('the fixture session has what the round trip must keep (guards the tests below)', () => {
    const s = fullSession();
    assert.deepEqual(outboundIds(s), [[65534, OutState.AwaitPuback], [65535, OutState.AwaitPubrec], [1, OutState.AwaitPubcomp], [3, OutState.AwaitPuback]]);
    assert.equal(s.outbound.lastAllocated, 3);
    assert.equal(s.queuedCount, 4);
    assert.equal(s.inbound.size, 3);
  });

  test('client id, username and session expiry interval are kept', () => {
    const { session } = move(fullSession(), undefined);
    assert.equal(session.clientId, 'c1');
    assert.equal(session.username, 'alice');
    assert.equal(session.expiryInterval, 3600);
  });

  test('the listener the client last came in through is kept (per_listener_settings ACLs while offline)', () => {
    const s = fullSession();
    s.listenerIndex = 2;
    assert.equal(move(s, undefined).session.listenerIndex, 2);
    assert.equal(move(new Session('old', limits), undefined).session.listenerIndex, undefined);
  });

  test("a delayed will keeps its client's listener", () => {
    const will: Will = { topic: 'tenant1/w', payload: Buffer.from('x'), qos: 1, retain: false, properties: undefined, delay: 5, clientId: 'c1', username: undefined, listenerIndex: 1 };
    assert.deepEqual(move(fullSession(), will).will, will);
  });

  test('a session without a username comes back without one', () => {
    const s = new Session('anon', limits);
    const { session } = move(s, undefined);
    assert.equal(session.username, undefined);
    assert.equal(session.clientId, 'anon');
  });

  test('subscriptions, shared and not, come back with every v5 option, keyed and ordered as before', () => {
    const { session } = move(fullSession(), undefined);
    assert.deepEqual([...session.subscriptions], SUBSCRIPTIONS);
  });

  test('[MQTT-4.4.0-1] outbound entries come back in send order with the same packet ids and states', () => {
    const original = fullSession();
    const { session } = move(original, undefined);
    assert.deepEqual(outboundIds(session), outboundIds(original));
    const before = [...original.outbound.values()].map((e) => deliveryView(e.delivery));
    const after = [...session.outbound.values()].map((e) => deliveryView(e.delivery));
    assert.deepEqual(after, before);
    for (const e of session.outbound.values()) assertBuffers(e.delivery.message, `outbound ${e.packetId}`);
  });

  test('the packet id allocator continues after the last id allocated before the move', () => {
    const { session } = move(fullSession(), undefined);
    assert.equal(session.outbound.lastAllocated, 3);
    assert.equal(session.outbound.allocateId(), 4);
  });

  test('the restored allocator never hands out an id still in flight after the move', () => {
    const s = new Session('c', limits);
    s.outbound.lastAllocated = 65534;
    for (let i = 0; i < 3; i++) {
      const id = s.outbound.allocateId(); // 65535, 1, 2
      s.outbound.add(id, delivery(message('t', Buffer.from('p'), 1, undefined), 1));
    }
    s.outbound.lastAllocated = 65534; // next ids would collide with 65535, 1 and 2
    const { session } = move(s, undefined);
    assert.equal(session.outbound.allocateId(), 3);
  });

  test('[MQTT-4.3.3-10] inbound QoS 2 ids awaiting PUBREL are kept', () => {
    const { session } = move(fullSession(), undefined);
    assert.deepEqual([...session.inbound.ids()].sort((a, b) => a - b), [7, 300, 65535]);
    assert.equal(session.inbound.receive(300), false, 'a retransmitted PUBLISH is still recognised as a duplicate');
    assert.equal(session.inbound.release(7), true);
  });

  test('queued deliveries come back in order with QoS, retain, subscription ids and message properties', () => {
    const original = fullSession();
    const { session } = move(original, undefined);
    assert.equal(session.queuedCount, original.queuedCount);
    assert.deepEqual([...session.queued()].map(deliveryView), [...original.queued()].map(deliveryView));
    for (const d of session.queued()) {
      assertBuffers(d.message, `queued ${d.message.topic}`);
      assert.equal(d.message.originWorker, ORIGIN_WORKER);
      assert.equal(d.message.encodedFirst, undefined);
      assert.equal(d.message.encoded, undefined);
    }
  });

  test('[MQTT-3.3.2-17] [MQTT-3.3.2-18] user properties keep their wire order with interleaved and repeated names', () => {
    const { session } = move(fullSession(), undefined);
    const queued = [...session.queued()];
    assert.deepEqual(userPropertyPairs(queued[1]!.message.properties!.userProperties as UserProperties), [...PAIRS, ['tag', 'q1']]);
    assert.deepEqual(userPropertyPairs(queued[2]!.message.properties!.userProperties as UserProperties), [['k', 'v1'], ['j', 'w'], ['k', 'v2']]);
    const first = [...session.outbound.values()][0]!;
    assert.deepEqual(userPropertyPairs(first.delivery.message.properties!.userProperties as UserProperties), [...PAIRS, ['tag', 'one']]);
  });

  test('correlation data, content type and absolute message expiry are kept', () => {
    const original = fullSession();
    const { session } = move(original, undefined);
    const q1 = [...session.queued()][1]!.message;
    assert.ok(Buffer.isBuffer(q1.properties!.correlationData));
    assert.deepEqual(q1.properties!.correlationData, Buffer.from([0, 1, 2, 0xfe, 0xff, 2]));
    assert.equal(q1.properties!.contentType, 'application/q1+json');
    assert.equal(q1.properties!.messageExpiryInterval, 120);
    assert.equal(q1.expiresAt, NOW + 120_000, 'expiry stays absolute: time spent moving counts');
    assert.equal(q1.stamp, 17);
    const q3 = [...session.queued()][3]!.message;
    assert.ok(Buffer.isBuffer(q3.properties!.correlationData), 'empty correlation data is a Buffer too');
    assert.equal(q3.properties!.correlationData!.length, 0);
    assert.equal(q3.payload.length, 70_000);
  });

  test('a message without properties comes back without properties', () => {
    const { session } = move(fullSession(), undefined);
    assert.equal([...session.queued()][0]!.message.properties, undefined);
  });

  test('[MQTT-4.4.0-1] a moved session resends its unacknowledged messages first, in order, then the queue', () => {
    const original = fullSession();
    const { session } = move(original, undefined);
    const expected = new RecordingLink();
    original.attach(expected, NOW);
    const actual = new RecordingLink();
    session.attach(actual, NOW);
    assert.deepEqual(actual.sent, expected.sent);
    assert.deepEqual(actual.sent.slice(0, 4), [
      'PUBLISH out/one id=65534 qos=1 dup=true',
      'PUBLISH out/two id=65535 qos=2 dup=true',
      'PUBREL id=1',
      'PUBLISH out/five id=3 qos=1 dup=true',
    ]);
    assert.equal(actual.sent[5], 'PUBLISH q/1/ünï id=4 qos=1 dup=false', 'queued QoS 1 gets the next id after the kept ones');
  });

  test('queued bytes are accounted after the move (max_queued_bytes still applies)', () => {
    const byteLimits: QueueLimits = { ...limits, maxQueuedBytes: 10 };
    const s = new Session('c', byteLimits);
    s.deliver(delivery(message('t', Buffer.alloc(8), 1, undefined), 1), NOW, true);
    const { session } = sessionFromRecord(viaMsgpack(sessionToRecord(s, undefined)), byteLimits, 0);
    session.deliver(delivery(message('t', Buffer.alloc(4), 1, undefined), 1), NOW, true);
    assert.equal(session.queuedCount, 1, '8 queued + 4 new > 10: the new one is dropped');
  });

  test('a delayed will comes back with payload, properties (user property order, correlation data) and delay', () => {
    const { will } = move(fullSession(), WILL);
    assert.ok(will !== undefined);
    assert.ok(Buffer.isBuffer(will.payload));
    assert.ok(Buffer.isBuffer(will.properties?.correlationData));
    assert.deepEqual(will, WILL);
    assert.deepEqual(userPropertyPairs(will.properties!.userProperties as UserProperties), PAIRS);
  });

  test('a will without properties or username comes back the same', () => {
    const bare: Will = { topic: 'w', payload: Buffer.alloc(0), qos: 0, retain: false, properties: undefined, delay: 5, clientId: 'c1', username: undefined };
    const { will } = move(fullSession(), bare);
    assert.deepEqual(will, bare);
    assert.ok(Buffer.isBuffer(will!.payload));
  });

  test('no delayed will → no will', () => {
    assert.equal(move(fullSession(), undefined).will, undefined);
  });

  test('the record survives structured clone too (Buffers arrive as Uint8Arrays)', () => {
    const original = fullSession();
    const record = structuredClone(sessionToRecord(original, WILL)) as SessionRecord;
    const { session, will } = sessionFromRecord(record, limits, ORIGIN_WORKER);
    assert.deepEqual(outboundIds(session), outboundIds(original));
    assert.deepEqual([...session.queued()].map(deliveryView), [...original.queued()].map(deliveryView));
    for (const d of session.queued()) assertBuffers(d.message, `queued ${d.message.topic}`);
    assert.deepEqual(will, WILL);
  });
});

describe('messageToRecord / messageFromRecord', () => {
  test('a message with every v5 property round-trips through msgpackr', () => {
    const m = message('a/ü/€/𝄞', Buffer.from('hello'), 2, fullProperties('m'), 99);
    const back = messageFromRecord(viaMsgpack(messageToRecord(m)), 5);
    assert.deepEqual(messageView(back), messageView(m));
    assertBuffers(back, 'message');
    assert.deepEqual(back.properties!.correlationData, m.properties!.correlationData);
    assert.deepEqual(userPropertyPairs(back.properties!.userProperties as UserProperties), [...PAIRS, ['tag', 'm']]);
    assert.equal(back.originWorker, 5, 'the origin worker is the receiving side\'s argument');
    assert.equal(back.encodedFirst, undefined, 'encoded layouts are not carried');
    assert.equal(back.encoded, undefined, 'encoded layouts are not carried');
  });

  test('properties come back with the same fields and values, nothing added', () => {
    const m = message('t', Buffer.from('x'), 1, fullProperties('p'));
    const back = messageFromRecord(viaMsgpack(messageToRecord(m)), 0);
    assert.deepEqual({ ...back.properties, userProperties: undefined }, { ...m.properties, userProperties: undefined });
  });

  test('qos, retain, origin, stamp and expiresAt are kept', () => {
    const m = createMessage('r', Buffer.from([1, 2, 3]), 1, true, { messageExpiryInterval: 10 }, 'pub-ß', NOW);
    m.stamp = 123456789;
    const back = messageFromRecord(viaMsgpack(messageToRecord(m)), 0);
    assert.equal(back.qos, 1);
    assert.equal(back.retain, true);
    assert.equal(back.origin, 'pub-ß');
    assert.equal(back.stamp, 123456789);
    assert.equal(back.expiresAt, NOW + 10_000);
  });

  test('a message without properties and with an empty payload round-trips', () => {
    const m = message('t', Buffer.alloc(0), 0, undefined);
    const back = messageFromRecord(viaMsgpack(messageToRecord(m)), 1);
    assert.equal(back.properties, undefined);
    assert.ok(Buffer.isBuffer(back.payload));
    assert.equal(back.payload.length, 0);
    assert.deepEqual(messageView(back), messageView(m));
  });

  test('only user properties: the pairs keep their order and no other property appears', () => {
    const m = message('t', Buffer.from('x'), 0, { userProperties: userPropertiesFromPairs(PAIRS) });
    const back = messageFromRecord(viaMsgpack(messageToRecord(m)), 0);
    assert.deepEqual(Object.keys(back.properties!), ['userProperties']);
    assert.deepEqual(userPropertyPairs(back.properties!.userProperties as UserProperties), PAIRS);
  });

  test('user properties given in mqtt-packet\'s grouped shape come back with the same pairs', () => {
    const m = message('t', Buffer.from('x'), 0, { userProperties: { b: ['1', '2'], a: '3' } });
    const back = messageFromRecord(viaMsgpack(messageToRecord(m)), 0);
    assert.deepEqual(userPropertyPairs(back.properties!.userProperties as UserProperties), [['b', '1'], ['b', '2'], ['a', '3']]);
  });

  test('the record holds user properties as ordered pairs (readable without the wire-order symbol)', () => {
    const m = message('t', Buffer.from('x'), 0, fullProperties('r'));
    const record: MessageRecord = viaMsgpack(messageToRecord(m));
    assert.deepEqual(record.up, [...PAIRS, ['tag', 'r']]);
    assert.equal(record.pr?.['userProperties'], undefined);
  });

  test('the decoded payload is a Buffer owning its bytes, not a view of the packed record', () => {
    const m = message('t', Buffer.from('payload'), 1, fullProperties('c'));
    const packed = packr.pack(messageToRecord(m));
    const back = messageFromRecord(packr.unpack(packed) as MessageRecord, 0);
    packed.fill(0);
    assert.equal(back.payload.toString(), 'payload');
    assert.deepEqual(back.properties!.correlationData, m.properties!.correlationData);
  });

  test('a structured-cloned record gives Buffers for payload and correlation data', () => {
    const m = message('t', Buffer.from('sc'), 1, fullProperties('sc'));
    const record = structuredClone(messageToRecord(m));
    assert.ok(!Buffer.isBuffer(record.p), 'structured clone turned the payload into a plain Uint8Array (guards this test)');
    const back = messageFromRecord(record, 0);
    assertBuffers(back, 'structured clone');
    assert.deepEqual(messageView(back), messageView(m));
  });
});

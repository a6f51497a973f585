import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, type QueueLimits, type SessionLink } from '../../../src/broker/session.ts';
import { createMessage } from '../../../src/model/message.ts';
import type { Delivery } from '../../../src/model/delivery.ts';
import { OutboundTable, AckResult } from '../../../src/broker/qos/outbound.ts';
import { counters } from '../../../src/metrics/counters.ts';

/** A link that records what the session sends, with a settable quota and congestion. */
class RecordingLink implements SessionLink {
  sent: { payload: string; id: number; dup: boolean }[] = [];
  pubrels: number[] = [];
  sendQuota: number;
  congested = false;
  constructor(quota: number) {
    this.sendQuota = quota;
  }
  sendPublish(d: Delivery, packetId: number, dup: boolean): boolean {
    this.sent.push({ payload: d.message.payload.toString(), id: packetId, dup });
    return true;
  }
  sendPubrel(packetId: number): void {
    this.pubrels.push(packetId);
  }
}

const limits = (over: Partial<QueueLimits> = {}): QueueLimits => ({ maxQueuedMessages: 100, maxQueuedBytes: 0, queueQos0Messages: false, dropOldest: false, ...over });
const delivery = (payload: string, qos: 0 | 1 | 2, expiry?: number): Delivery => ({
  message: createMessage('t', Buffer.from(payload), qos, false, expiry === undefined ? undefined : { messageExpiryInterval: expiry }, 'p', 0),
  qos,
  retain: false,
  subscriptionIds: undefined,
  qseq: 0,
  mseq: 0,
  hold: undefined,
  stored: undefined,
});

test('QoS 1 beyond the receive window waits and drains in order as acks arrive', () => {
  const s = new Session('c', limits());
  const link = new RecordingLink(2);
  s.attach(link, 0);
  for (let i = 0; i < 5; i++) s.deliver(delivery(`m${i}`, 1), 0, true);
  assert.deepEqual(link.sent.map((x) => x.payload), ['m0', 'm1']);
  assert.equal(s.queuedCount, 3);
  s.puback(link.sent[0]!.id, 0);
  assert.deepEqual(link.sent.map((x) => x.payload), ['m0', 'm1', 'm2']);
  s.puback(link.sent[1]!.id, 0);
  s.puback(link.sent[2]!.id, 0);
  assert.deepEqual(link.sent.map((x) => x.payload), ['m0', 'm1', 'm2', 'm3', 'm4']);
  assert.equal(new Set(link.sent.map((x) => x.id)).size, 5, 'packet ids are distinct');
});

test('max_inflight_bytes: QoS 1/2 messages go while the payload bytes in flight are below the limit (Mosquitto db__ready_for_flight); QoS 0 is not held', () => {
  const s = new Session('c', limits({ maxInflightBytes: 10 }));
  const link = new RecordingLink(100);
  s.attach(link, 0);
  s.deliver(delivery('aaaa', 1), 0, true); // 4 in flight
  s.deliver(delivery('bbbbbbbbbbbb', 2), 0, true); // 4 < 10: goes, 16 in flight
  s.deliver(delivery('cc', 1), 0, true); // 16 >= 10: waits
  s.deliver(delivery('q0', 0), 0, true); // QoS 0 is not in flight: sent at once
  assert.deepEqual(link.sent.map((x) => x.payload), ['aaaa', 'bbbbbbbbbbbb', 'q0']);
  assert.equal(s.queuedCount, 1);
  s.puback(link.sent[0]!.id, 0); // 12 in flight: still waits
  assert.equal(s.queuedCount, 1);
  s.pubrec(link.sent[1]!.id, 0, 0); // PUBREL due: the entry is still in flight
  assert.equal(s.queuedCount, 1);
  s.pubcomp(link.sent[1]!.id, 0); // 0 in flight
  assert.deepEqual(link.sent.map((x) => x.payload), ['aaaa', 'bbbbbbbbbbbb', 'q0', 'cc']);
  assert.equal(s.outbound.bytes, 2);
  s.puback(link.sent[3]!.id, 0);
  assert.equal(s.outbound.bytes, 0);
});

test('[MQTT-4.4.0-1] unacknowledged messages are resent with DUP on reconnect, before queued ones', () => {
  const s = new Session('c', limits());
  const first = new RecordingLink(1);
  s.attach(first, 0);
  s.deliver(delivery('a', 1), 0, true);
  s.deliver(delivery('b', 1), 0, true);
  s.detach(0);
  s.deliver(delivery('c', 1), 0, true);
  const second = new RecordingLink(10);
  s.attach(second, 0);
  assert.deepEqual(second.sent.map((x) => `${x.payload}:${x.dup}`), ['a:true', 'b:false', 'c:false']);
  assert.equal(second.sent[0]!.id, first.sent[0]!.id, 'same packet id on redelivery');
});

test('QoS 2 after PUBREC: PUBREL is what is resent on reconnect', () => {
  const s = new Session('c', limits());
  const first = new RecordingLink(5);
  s.attach(first, 0);
  s.deliver(delivery('x', 2), 0, true);
  const id = first.sent[0]!.id;
  assert.equal(s.pubrec(id, 0, 0), AckResult.SendPubrel);
  assert.deepEqual(first.pubrels, [id]);
  s.detach(0);
  const second = new RecordingLink(5);
  s.attach(second, 0);
  assert.deepEqual(second.sent, []);
  assert.deepEqual(second.pubrels, [id]);
  assert.equal(s.pubcomp(id, 0), AckResult.Completed);
  assert.equal(s.outbound.size, 0);
});

test('max_queued_messages with drop_newest keeps the oldest and counts the drops', () => {
  const s = new Session('c', limits({ maxQueuedMessages: 3 }));
  const before = counters.messagesDroppedQueueFull;
  for (let i = 0; i < 5; i++) s.deliver(delivery(`m${i}`, 1), 0, true);
  assert.equal(counters.messagesDroppedQueueFull - before, 2);
  const link = new RecordingLink(10);
  s.attach(link, 0);
  assert.deepEqual(link.sent.map((x) => x.payload), ['m0', 'm1', 'm2']);
});

test('max_queued_messages with drop_oldest keeps the newest', () => {
  const s = new Session('c', limits({ maxQueuedMessages: 3, dropOldest: true }));
  for (let i = 0; i < 5; i++) s.deliver(delivery(`m${i}`, 1), 0, true);
  const link = new RecordingLink(10);
  s.attach(link, 0);
  assert.deepEqual(link.sent.map((x) => x.payload), ['m2', 'm3', 'm4']);
});

test('max_queued_bytes bounds the queue by payload bytes', () => {
  const s = new Session('c', limits({ maxQueuedBytes: 10 }));
  for (let i = 0; i < 5; i++) s.deliver(delivery('abcd', 1), 0, true);
  assert.equal(s.queuedCount, 2);
});

test('QoS 0 is queued offline only with queue_qos0_messages', () => {
  const plain = new Session('c', limits());
  plain.deliver(delivery('q0', 0), 0, true);
  assert.equal(plain.queuedCount, 0);
  const queuing = new Session('c', limits({ queueQos0Messages: true }));
  queuing.deliver(delivery('q0', 0), 0, true);
  assert.equal(queuing.queuedCount, 1);
});

test('QoS 0 to a congested connection is dropped and counted; QoS 1 waits for drain', () => {
  const s = new Session('c', limits());
  const link = new RecordingLink(10);
  s.attach(link, 0);
  link.congested = true;
  const before = counters.messagesDroppedQos0;
  s.deliver(delivery('zero', 0), 0, true);
  s.deliver(delivery('one', 1), 0, true);
  assert.equal(counters.messagesDroppedQos0 - before, 1);
  assert.equal(link.sent.length, 0);
  link.congested = false;
  s.pump(0);
  assert.deepEqual(link.sent.map((x) => x.payload), ['one']);
});

test('[MQTT-3.3.2-5] a queued message that expires is not sent', () => {
  const s = new Session('c', limits());
  s.deliver(delivery('short', 1, 1), 0, true);
  s.deliver(delivery('long', 1, 100), 0, true);
  const link = new RecordingLink(10);
  s.attach(link, 5000);
  assert.deepEqual(link.sent.map((x) => x.payload), ['long']);
});

test('outbound packet ids skip ids still in flight and wrap at 65535', () => {
  const t = new OutboundTable();
  const d = delivery('x', 1);
  const seen = new Set<number>();
  for (let i = 0; i < 65535; i++) {
    const id = t.allocateId();
    assert.ok(id >= 1 && id <= 65535);
    assert.ok(!seen.has(id));
    seen.add(id);
    t.add(id, d);
  }
  t.puback(300);
  assert.equal(t.allocateId(), 300);
});

test('acks for unknown ids (Unknown) or of the wrong type (WrongType, as Mosquitto 2.0.11) are reported, not applied; a failing PUBREC ends the flow [MQTT-4.3.3-4]', () => {
  const t = new OutboundTable();
  t.add(7, delivery('x', 1));
  t.add(8, delivery('y', 2));
  assert.equal(t.pubcomp(7), AckResult.WrongType, 'PUBCOMP for QoS 1');
  assert.equal(t.pubrec(7, 0), AckResult.WrongType, 'PUBREC for QoS 1');
  assert.equal(t.puback(8), AckResult.WrongType, 'PUBACK for QoS 2');
  assert.equal(t.pubcomp(8), AckResult.WrongType, 'PUBCOMP before PUBREC');
  assert.equal(t.puback(9), AckResult.Unknown);
  assert.equal(t.pubcomp(9), AckResult.Unknown);
  assert.equal(t.pubrec(9, 0), AckResult.Unknown);
  assert.equal(t.size, 2);
  assert.equal(t.pubrec(8, 0x80), AckResult.Completed, 'a failing PUBREC ends the flow');
  assert.equal(t.size, 1);
});

test('max_queued_messages 0 means no limit (Mosquitto)', () => {
  const s = new Session('c', limits({ maxQueuedMessages: 0 }));
  for (let i = 0; i < 5000; i++) s.deliver(delivery(`m${i}`, 1), 0, true);
  assert.equal(s.queuedCount, 5000);
});

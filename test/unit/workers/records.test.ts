import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { messageView } from '../../helpers/messages.ts';
import { createMessage, encodedLayout, type Message, type MessageProperties, type MessageSource } from '../../../src/model/message.ts';
import { encodePublish } from '../../../src/protocol/packets/publish.ts';
import { userPropertiesFromPairs, userPropertyPairs, type UserProperties } from '../../../src/protocol/userProperties.ts';
import {
  Kind,
  PUBLISH_HEADER,
  PubFlag,
  publishParts,
  publishRecordLength,
  readPublishRecord,
  writePublishRecord,
  type PublishRecord,
} from '../../../src/workers/wire.ts';

const SENTINEL = 0xa5;
/** an odd offset, so that a record written or read relative to 0 instead of `off` shows */
const OFF = 13;
const NOW = 1_700_000_000_000;
const READER = 2;

/** Interleaved and repeated names: grouping by name would reorder them [MQTT-3.3.2-17/18]. */
const PAIRS: [string, string][] = [['z', '1'], ['a', '2'], ['z', '3'], ['ü', '€'], ['a', '4']];

const v5Properties = (): MessageProperties => ({
  payloadFormatIndicator: true,
  messageExpiryInterval: 300,
  contentType: 'application/json',
  responseTopic: 'reply/ß',
  correlationData: Buffer.from([0xff, 0, 0x80, 7]),
  userProperties: userPropertiesFromPairs(PAIRS),
});

interface Options {
  qos?: 0 | 1 | 2;
  retain?: boolean;
  properties?: MessageProperties;
  origin?: string;
  stamp?: number;
  expiresAt?: number;
  source?: MessageSource;
}

function message(topic: string, payload: Buffer, o: Options = {}): Message {
  const m = createMessage(topic, payload, o.qos ?? 0, o.retain ?? false, o.properties, o.origin ?? 'publisher', NOW, o.source);
  m.stamp = o.stamp ?? 0;
  if (o.expiresAt !== undefined) return { ...m, expiresAt: o.expiresAt };
  return m;
}

interface Written {
  readonly buf: Buffer;
  readonly length: number;
  readonly record: PublishRecord;
}

/**
 * Writes `m` as a PUBLISH record at OFF into a buffer filled with SENTINEL (with room to spare),
 * checks no byte outside [OFF, OFF + publishRecordLength) was touched, and reads it back.
 */
function roundTrip(m: Message, flags: number = PubFlag.Route, hops = 0, group = '', filter = ''): Written {
  const parts = publishParts(m);
  const length = publishRecordLength(parts, group, filter);
  const buf = Buffer.alloc(OFF + length + 64, SENTINEL);
  writePublishRecord(buf, OFF, parts, flags, hops, group, filter, 0);
  for (let i = 0; i < OFF; i++) assert.equal(buf[i], SENTINEL, `byte ${i} before the record was written`);
  for (let i = OFF + length; i < buf.length; i++) assert.equal(buf[i], SENTINEL, `byte ${i - OFF - length} after the record was written`);
  return { buf, length, record: readPublishRecord(buf, OFF, length, READER) };
}


const v4Qos0 = (m: Message): Buffer => encodePublish(m.topic, m.payload, 0, false, false, 0, 4).bytes;

describe('PUBLISH records: round trip', () => {
  const topics = ['a/b/c', 'ü/€/𝄞/日本語', '$SYS/x', '/', 'x'.repeat(1000)];
  for (const topic of topics) {
    test(`topic '${topic.length > 40 ? `${topic.slice(0, 10)}… (${topic.length} chars)` : topic}' round-trips`, () => {
      const m = message(topic, Buffer.from('p'));
      const { record } = roundTrip(m);
      assert.equal(record.message.topic, topic);
      assert.deepEqual(messageView(record.message), messageView(m));
    });
  }

  const payloads: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['small', Buffer.from([0, 1, 0x7f, 0x80, 0xff])],
    ['200 KB', Buffer.from(Array.from({ length: 200 * 1024 }, (_, i) => (i * 31 + (i >> 8)) & 0xff))],
  ];
  for (const [name, payload] of payloads) {
    test(`${name} payload round-trips byte for byte`, () => {
      const m = message('t/ü', payload, { properties: v5Properties() });
      const { record } = roundTrip(m);
      assert.ok(Buffer.isBuffer(record.message.payload));
      assert.equal(record.message.payload.length, payload.length);
      assert.ok(record.message.payload.equals(payload));
      assert.deepEqual(messageView(record.message), messageView(m));
    });
  }

  for (const qos of [0, 1, 2] as const) {
    for (const retain of [false, true]) {
      test(`qos ${qos} retain ${retain} round-trips in the flags byte next to the routing flags`, () => {
        const m = message('q', Buffer.from('x'), { qos, retain });
        const { record, buf } = roundTrip(m, PubFlag.Route | PubFlag.RetainUpdate);
        assert.equal(buf[OFF], Kind.Publish);
        assert.equal(record.message.qos, qos);
        assert.equal(record.message.retain, retain);
        assert.equal(record.flags, PubFlag.Route | PubFlag.RetainUpdate | qos | (retain ? PubFlag.Retain : 0));
        assert.equal(record.flags & PubFlag.Shared, 0);
      });
    }
  }

  test('origin (multi-byte and empty), expiresAt and stamp round-trip', () => {
    for (const [origin, expiresAt, stamp] of [['client-ß-€-𝄞', NOW + 86_400_000, 2 ** 40 + 3], ['', 0, 0], ['c', 8.64e15, Number.MAX_SAFE_INTEGER]] as const) {
      const m = message('t', Buffer.from('x'), { origin, expiresAt, stamp });
      const { record } = roundTrip(m);
      assert.equal(record.message.origin, origin);
      assert.equal(record.message.expiresAt, expiresAt);
      assert.equal(record.message.stamp, stamp);
    }
  });

  test('createMessage expiry: the absolute expiresAt is carried, not recomputed', () => {
    const m = message('t', Buffer.from('x'), { properties: { messageExpiryInterval: 5 } });
    assert.equal(m.expiresAt, NOW + 5000);
    assert.equal(roundTrip(m).record.message.expiresAt, NOW + 5000);
  });

  test('the reader gets originWorker from its argument', () => {
    const m = message('t', Buffer.from('x'));
    m.originWorker = 7;
    assert.equal(roundTrip(m).record.message.originWorker, READER);
  });

  test('v5 properties round-trip: every field, correlation data as a Buffer', () => {
    const m = message('t', Buffer.from('x'), { qos: 1, properties: v5Properties() });
    const { record } = roundTrip(m);
    const p = record.message.properties;
    assert.ok(p !== undefined);
    assert.deepEqual(messageView(record.message), messageView(m));
    assert.ok(Buffer.isBuffer(p.correlationData));
    assert.deepEqual(p.correlationData, Buffer.from([0xff, 0, 0x80, 7]));
    assert.equal(p.payloadFormatIndicator, true);
    assert.equal(p.messageExpiryInterval, 300);
    assert.equal(p.contentType, 'application/json');
    assert.equal(p.responseTopic, 'reply/ß');
  });

  test('[MQTT-3.3.2-17] [MQTT-3.3.2-18] user properties keep their wire order with interleaved and repeated names', () => {
    const m = message('t', Buffer.from('x'), { properties: { userProperties: userPropertiesFromPairs(PAIRS) } });
    const { record } = roundTrip(m);
    assert.deepEqual(userPropertyPairs(record.message.properties!.userProperties as UserProperties), PAIRS);
  });

  test('a message without properties comes back without properties', () => {
    const { record } = roundTrip(message('t', Buffer.from('x')));
    assert.equal(record.message.properties, undefined);
  });

  test('Shared records carry the group and filter (multi-byte too)', () => {
    const m = message('jobs/€/1', Buffer.from('work'), { qos: 1, properties: v5Properties() });
    const { record } = roundTrip(m, PubFlag.Shared, 0, 'wörkers', 'jobs/€/+');
    assert.equal(record.group, 'wörkers');
    assert.equal(record.filter, 'jobs/€/+');
    assert.equal(record.flags & PubFlag.Shared, PubFlag.Shared);
    assert.equal(record.flags & PubFlag.Route, 0);
    assert.deepEqual(messageView(record.message), messageView(m));
  });

  test('non-shared records have an empty group and filter', () => {
    const { record } = roundTrip(message('t', Buffer.from('x'), { properties: v5Properties() }));
    assert.equal(record.group, '');
    assert.equal(record.filter, '');
  });

  test('hops round-trip (0, 1, 255)', () => {
    for (const hops of [0, 1, 255]) assert.equal(roundTrip(message('t', Buffer.from('x')), PubFlag.Shared, hops, 'g', 't').record.hops, hops);
  });

  test('a decoded record can be written again (one more hop) and reads back the same message', () => {
    const m = message('ü/t', Buffer.from('relay'), { qos: 2, retain: true, properties: v5Properties(), origin: 'o', stamp: 9, expiresAt: NOW + 1 });
    const first = roundTrip(m, PubFlag.Shared, 0, 'g', 'ü/+').record;
    const second = roundTrip(first.message, PubFlag.Shared, first.hops + 1, first.group, first.filter).record;
    assert.deepEqual(messageView(second.message), messageView(m));
    assert.equal(second.hops, 1);
    assert.equal(second.group, 'g');
    assert.equal(second.filter, 'ü/+');
  });
});

describe('PUBLISH records: layout and ownership', () => {
  test('publishRecordLength equals the bytes written: the byte after the record is untouched', () => {
    const cases: [Message, string, string][] = [
      [message('t', Buffer.alloc(0)), '', ''],
      [message('ü/€', Buffer.alloc(300, 1), { properties: v5Properties(), origin: '𝄞' }), '', ''],
      [message('a', Buffer.alloc(200 * 1024, 2), { qos: 2, properties: v5Properties() }), 'grüppe', 'a/#'],
    ];
    for (const [m, group, filter] of cases) {
      const parts = publishParts(m);
      const length = publishRecordLength(parts, group, filter);
      const buf = Buffer.alloc(OFF + length + 1, SENTINEL);
      writePublishRecord(buf, OFF, parts, PubFlag.Shared, 0, group, filter, 0);
      assert.equal(buf[OFF + length], SENTINEL, `${m.topic}: byte after the record`);
      assert.notEqual(buf[OFF + length - 1], SENTINEL, `${m.topic}: the last byte of the record (the payload's or the packet's) is written`);
    }
  });

  test("a retained message's source (check_retain_source) crosses with it: username, listener, both, neither", () => {
    const sources: MessageSource[] = [
      { clientId: 'pub', username: 'ülrich', listenerIndex: 2 },
      { clientId: 'pub', username: undefined, listenerIndex: 0 },
      { clientId: 'pub', username: 'x'.repeat(300), listenerIndex: undefined },
      { clientId: 'pub', username: undefined, listenerIndex: undefined },
    ];
    for (const source of sources) {
      const m = message('s/t', Buffer.from('v'), { qos: 1, retain: true, origin: 'pub', stamp: 3, source });
      const { record } = roundTrip(m, PubFlag.RetainUpdate);
      assert.deepEqual(record.message.source, source);
      assert.deepEqual(messageView(record.message), messageView(m));
    }
    // only retained messages have one
    assert.equal(message('s/t', Buffer.from('v'), { source: sources[0] }).source, undefined);
  });

  test('publishRecordLength is the header plus every variable part', () => {
    const m = message('ü', Buffer.from('abc'), { origin: 'ß' });
    const parts = publishParts(m);
    // 3.1.1 QoS 0 PUBLISH: 1 + 1 (remaining length) + 2 + 2 (ü) + 3
    assert.equal(parts.packet.length, 9);
    assert.equal(publishRecordLength(parts, 'gé', 'f'), PUBLISH_HEADER + 2 + 3 + 1 + 9);
  });

  test('two records written back to back in one buffer read back independently', () => {
    const a = message('a/€', Buffer.from('first'), { qos: 1, properties: v5Properties(), origin: 'oa' });
    const b = message('b', Buffer.alloc(0), { retain: true, origin: '', stamp: 4 });
    const pa = publishParts(a);
    const pb = publishParts(b);
    const la = publishRecordLength(pa, 'g', 'a/+');
    const lb = publishRecordLength(pb, '', '');
    const buf = Buffer.alloc(la + lb, SENTINEL);
    writePublishRecord(buf, 0, pa, PubFlag.Shared | PubFlag.Durable, 3, 'g', 'a/+', 7, 65535);
    writePublishRecord(buf, la, pb, PubFlag.Route, 0, '', '', 0);
    const ra = readPublishRecord(buf, 0, la, 0);
    const rb = readPublishRecord(buf, la, lb, 0);
    assert.deepEqual(messageView(ra.message), messageView(a));
    // a Durable record carries the publisher's QoS 2 packet id (its client id is the origin)
    assert.deepEqual([ra.hops, ra.group, ra.filter, ra.ticket, ra.flags & PubFlag.Durable, ra.inboundId], [3, 'g', 'a/+', 7, PubFlag.Durable, 65535]);
    assert.deepEqual(messageView(rb.message), messageView(b));
    assert.deepEqual([rb.hops, rb.group, rb.filter, rb.inboundId], [0, '', '', 0]);
  });

  test('the decoded message does not share memory with the record: overwriting the source leaves it unchanged', () => {
    const m = message('own/ü', Buffer.from('owned payload'), { qos: 1, retain: true, properties: v5Properties(), origin: 'me', stamp: 5, expiresAt: NOW + 9 });
    const { record, buf } = roundTrip(m, PubFlag.Shared, 1, 'g', 'own/+');
    const before = messageView(record.message);
    const packet = Buffer.from(encodedLayout(record.message, 0)!);
    buf.fill(0);
    buf.fill(0xff, 0, buf.length >> 1);
    assert.deepEqual(messageView(record.message), before);
    assert.deepEqual(messageView(record.message), messageView(m));
    assert.deepEqual(encodedLayout(record.message, 0), packet);
    assert.equal(record.group, 'g');
    assert.notEqual(record.message.payload.buffer, buf.buffer);
    assert.notEqual(record.message.properties!.correlationData!.buffer, buf.buffer);
  });

  test('a 200 KB payload does not share memory with the record either', () => {
    const payload = Buffer.alloc(200 * 1024, 0x42);
    const { record, buf } = roundTrip(message('big', payload));
    buf.fill(0);
    assert.ok(record.message.payload.equals(payload));
  });

  test('the decoded encoded[0] equals encodePublish(topic, payload, 0, false, false, 0, 4)', () => {
    const cases = [
      message('t', Buffer.alloc(0)),
      message('ü/€/𝄞', Buffer.from('x'), { qos: 2, retain: true, properties: v5Properties() }),
      message('big', Buffer.alloc(200 * 1024, 3), { qos: 1 }),
    ];
    for (const m of cases) {
      const { record } = roundTrip(m);
      assert.deepEqual(encodedLayout(record.message, 0), v4Qos0(m), `${m.topic}: 3.1.1 QoS 0 non-retained layout, whatever the message's QoS and retain`);
      for (let slot = 1; slot < 12; slot++) assert.equal(encodedLayout(record.message, slot), undefined, `${m.topic}: slot ${slot} stays empty`);
    }
  });

  test('publishParts fills the sender message\'s 3.1.1 QoS 0 slot once and reuses it', () => {
    const m = message('t/ü', Buffer.from('x'), { qos: 1 });
    const parts = publishParts(m);
    assert.deepEqual(parts.packet, v4Qos0(m));
    assert.equal(encodedLayout(m, 0), parts.packet);
    assert.equal(publishParts(m).packet, parts.packet);
  });

  test('parts stay valid while other messages are packed (routing one message to several workers)', () => {
    const m = message('keep', Buffer.from('k'), { properties: v5Properties() });
    const parts = publishParts(m);
    for (let i = 0; i < 2000; i++) publishParts(message(`other/${i}`, Buffer.from('o'), { properties: { contentType: `c${i}`, userProperties: userPropertiesFromPairs([['n', String(i)]]) } }));
    const length = publishRecordLength(parts, '', '');
    const buf = Buffer.alloc(length);
    writePublishRecord(buf, 0, parts, PubFlag.Route, 0, '', '', 0);
    assert.deepEqual(messageView(readPublishRecord(buf, 0, length, 0).message), messageView(m));
  });
});

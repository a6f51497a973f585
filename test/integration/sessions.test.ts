/**
 * Sessions over real sockets: clean session / clean start, session present, v5 session expiry,
 * offline queueing, redelivery of inflight messages on reconnect, queue limits and drop policies.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, Inbox, publishMany, subscribe, uniqueId, versions, sleep } from '../helpers/clients.ts';
import { PacketType, pk, receivePublishes } from '../helpers/raw.ts';
import { culexOnly, type TestBroker } from '../helpers/broker.ts';
import type { Version } from '../helpers/packets.ts';

const h = new Harness();
let broker: TestBroker;

before(async () => { broker = await h.broker(); });
after(() => h.teardown());

/** Connect fields of a persistent session (3.1.1 clean session 0; 5.0 clean start 0 + expiry 300 s). */
function persistent(v: Version, clientId: string, clean = false): pk.ConnectFields {
  return {
    version: v, clientId, clean,
    properties: v === 5 ? [{ id: pk.Prop.SessionExpiryInterval, value: 300 }] : undefined,
  };
}

/** Connects a persistent raw session and returns it with its CONNACK. */
async function connectPersistent(b: TestBroker, v: Version, id: string, clean = false) {
  return h.rawConnected(b.port, persistent(v, id, clean));
}

/** Creates a persistent session subscribed to `filter`, then disconnects normally. */
async function offlineSubscriber(b: TestBroker, v: Version, filter: string, qos: 0 | 1 | 2): Promise<string> {
  const id = uniqueId('sess');
  const { client } = await connectPersistent(b, v, id);
  client.send(pk.subscribe(1, [{ filter, qos }], v));
  await client.expect(PacketType.SUBACK);
  await client.end();
  return id;
}

for (const v of versions) {
  const v5 = v === 5;
  describe(`sessions, MQTT ${v5 ? '5.0' : '3.1.1'}`, () => {
    test(`[MQTT-3.2.2-${v5 ? '3' : '2'}] a resumed session is reported with Session Present 1; a new one with 0 [MQTT-3.2.2-${v5 ? '3' : '3'}]`, async () => {
      const id = uniqueId('sp');
      const first = await connectPersistent(broker, v, id);
      assert.equal(first.connack.sessionPresent, false);
      await first.client.end();
      const second = await connectPersistent(broker, v, id);
      assert.equal(second.connack.sessionPresent, true);
      await second.client.end();
    });

    test(`[MQTT-3.2.2-${v5 ? '2' : '1'}] clean ${v5 ? 'start' : 'session'} 1 discards the session and reports Session Present 0 [MQTT-3.1.2-${v5 ? '4' : '6'}]`, async () => {
      const topic = `sess/${uniqueId()}`;
      const id = await offlineSubscriber(broker, v, topic, 1);
      const pub = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(topic, 'queued-then-discarded', { qos: 1 });
      const clean = await connectPersistent(broker, v, id, true);
      assert.equal(clean.connack.sessionPresent, false);
      await clean.client.expectNoPacket(250);
      await clean.client.end();
      // the subscription went with the old session (3.1.1: the clean session itself ended at disconnect)
      const again = await connectPersistent(broker, v, id);
      assert.equal(again.connack.sessionPresent, v5);
      await pub.publishAsync(topic, 'no-subscription', { qos: 1 });
      await again.client.expectNoPacket(250);
      await again.client.end();
    });

    test('[MQTT-3.1.2-5] subscriptions and QoS 1/2 messages published while offline are kept and delivered on reconnect, QoS 0 is not', async () => {
      const topic = `sess/${uniqueId()}`;
      const id = await offlineSubscriber(broker, v, topic, 2);
      const pub = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(topic, 'q1', { qos: 1 });
      await pub.publishAsync(topic, 'q0', { qos: 0 });
      await pub.publishAsync(topic, 'q2', { qos: 2 });
      const { client, connack } = await connectPersistent(broker, v, id);
      assert.equal(connack.sessionPresent, true);
      const got = await receivePublishes(client, 2);
      assert.deepEqual(got.map((m) => [m.payload!.toString(), m.qos]), [['q1', 1], ['q2', 2]]);
      client.send(pk.ack(PacketType.PUBCOMP, (await client.expect(PacketType.PUBREL)).packetId!));
      await client.expectNoPacket(250);
      // the subscription is still there
      await pub.publishAsync(topic, 'live', { qos: 1 });
      assert.equal((await receivePublishes(client, 1))[0]!.payload!.toString(), 'live');
      await client.end();
    });

    test('[MQTT-4.4.0-1] an unacknowledged QoS 1 message is re-sent on reconnect with DUP 1 and the same packet id', async () => {
      const topic = `sess/${uniqueId()}`;
      const id = uniqueId('dup');
      const { client: c1 } = await connectPersistent(broker, v, id);
      c1.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], v));
      await c1.expect(PacketType.SUBACK);
      const pub = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(topic, 'unacked', { qos: 1 });
      const first = await c1.expect(PacketType.PUBLISH);
      assert.equal(first.dup, false);
      c1.destroy();
      await c1.closed;
      const { client: c2 } = await connectPersistent(broker, v, id);
      const again = await c2.expect(PacketType.PUBLISH);
      assert.equal(again.payload!.toString(), 'unacked');
      assert.equal(again.dup, true, '[MQTT-3.3.1-1] DUP set on redelivery');
      assert.equal(again.packetId, first.packetId);
      c2.send(pk.ack(PacketType.PUBACK, again.packetId!));
      await c2.expectNoPacket(250);
      await c2.end();
    });

    test('[MQTT-4.4.0-1] a QoS 2 message already PUBREC\'d is resumed on reconnect with PUBREL, not re-sent', async () => {
      const topic = `sess/${uniqueId()}`;
      const id = uniqueId('rel');
      const { client: c1 } = await connectPersistent(broker, v, id);
      c1.send(pk.subscribe(1, [{ filter: topic, qos: 2 }], v));
      await c1.expect(PacketType.SUBACK);
      const pub = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(topic, 'half-done', { qos: 2 });
      const msg = await c1.expect(PacketType.PUBLISH);
      c1.send(pk.ack(PacketType.PUBREC, msg.packetId!));
      await c1.expect(PacketType.PUBREL);
      c1.destroy();
      await c1.closed;
      const { client: c2 } = await connectPersistent(broker, v, id);
      const pubrel = await c2.expect(PacketType.PUBREL);
      assert.equal(pubrel.packetId, msg.packetId);
      c2.send(pk.ack(PacketType.PUBCOMP, msg.packetId!));
      await c2.expectNoPacket(250);
      await c2.end();
    });

    test('[MQTT-4.3.3-9] inbound QoS 2 state survives a reconnect: PUBREL after reconnect completes the flow, delivered once', async () => {
      const topic = `sess/${uniqueId()}`;
      const sub = await h.connect(broker.url, { protocolVersion: v });
      const inbox = new Inbox(sub);
      await subscribe(sub, topic, { qos: 2 });
      const id = uniqueId('in2');
      const { client: p1 } = await connectPersistent(broker, v, id);
      p1.send(pk.publish({ version: v, topic, qos: 2, packetId: 10, payload: 'in-flight' }));
      await p1.expect(PacketType.PUBREC);
      p1.destroy();
      await p1.closed;
      const { client: p2 } = await connectPersistent(broker, v, id);
      p2.send(pk.publish({ version: v, topic, qos: 2, packetId: 10, payload: 'in-flight', dup: true }));
      assert.equal((await p2.expect(PacketType.PUBREC)).packetId, 10);
      p2.send(pk.ack(PacketType.PUBREL, 10));
      const pubcomp = await p2.expect(PacketType.PUBCOMP);
      assert.equal(pubcomp.packetId, 10);
      assert.equal(pubcomp.reasonCode, 0);
      await inbox.waitFor(1);
      await inbox.expectNone(250, 1);
      await p2.end();
    });
  });
}

describe('sessions, MQTT 5.0 session expiry', () => {
  test('session expiry absent (0): the session ends when the connection closes', async () => {
    const id = uniqueId('se0');
    const { client } = await h.rawConnected(broker.port, { version: 5, clientId: id, clean: false });
    await client.end();
    const again = await h.rawConnected(broker.port, { version: 5, clientId: id, clean: false });
    assert.equal(again.connack.sessionPresent, false);
    await again.client.end();
  });

  test('session expiry 1 s: the session is gone after it expired', async () => {
    const id = uniqueId('se1');
    const props = [{ id: pk.Prop.SessionExpiryInterval, value: 1 }];
    const { client } = await h.rawConnected(broker.port, { version: 5, clientId: id, clean: false, properties: props });
    await client.end();
    await sleep(2500);
    const again = await h.rawConnected(broker.port, { version: 5, clientId: id, clean: false, properties: props });
    assert.equal(again.connack.sessionPresent, false);
    await again.client.end();
  });

  test('[MQTT-3.14.2-2] [MQTT-4.13.2-1] DISCONNECT setting a session expiry when CONNECT had 0 is a protocol error (DISCONNECT 0x82, then closed)', async () => {
    const { client } = await h.rawConnected(broker.port, { version: 5, clientId: uniqueId('se2') });
    client.send(pk.disconnect(0, [{ id: pk.Prop.SessionExpiryInterval, value: 60 }]));
    const got = await client.expectClosed();
    assert.equal(got.length, 1);
    assert.equal(got[0]!.type, PacketType.DISCONNECT);
    assert.equal(got[0]!.reasonCode, 0x82);
  });

  test('DISCONNECT with session expiry 0 ends a session that had a non-zero expiry', async () => {
    const id = uniqueId('se3');
    const { client } = await connectPersistent(broker, 5, id);
    client.send(pk.disconnect(0, [{ id: pk.Prop.SessionExpiryInterval, value: 0 }]));
    await client.expectClosed();
    const again = await connectPersistent(broker, 5, id);
    assert.equal(again.connack.sessionPresent, false);
    await again.client.end();
  });

  test('DISCONNECT may extend a non-zero session expiry', async () => {
    const id = uniqueId('se4');
    const { client } = await h.rawConnected(broker.port, {
      version: 5, clientId: id, properties: [{ id: pk.Prop.SessionExpiryInterval, value: 1 }],
    });
    client.send(pk.disconnect(0, [{ id: pk.Prop.SessionExpiryInterval, value: 300 }]));
    await client.expectClosed();
    await sleep(2000);
    const again = await connectPersistent(broker, 5, id);
    assert.equal(again.connack.sessionPresent, true);
    await again.client.end();
  });
});

describe('offline queue', () => {
  let big: TestBroker;
  before(async () => { big = await h.broker({ maxQueuedMessages: 10000 }); });

  for (const v of versions) {
    test(`MQTT ${v === 5 ? '5.0' : '3.1.1'}: 5000 messages queued while offline all arrive on reconnect, in order`, async () => {
      const topic = `bulk/${uniqueId()}`;
      const id = uniqueId('bulk');
      const opts = { protocolVersion: v, clientId: id, clean: false, properties: v === 5 ? { sessionExpiryInterval: 300 } : undefined };
      const sub1 = await h.connect(big.url, opts);
      await subscribe(sub1, topic, { qos: 1 });
      await sub1.endAsync();
      const pub = await h.connect(big.url, { protocolVersion: v });
      await publishMany(pub, topic, 5000, 1);
      const sub2 = h.client(big.url, opts);
      const inbox = new Inbox(sub2);
      const got = await inbox.waitFor(5000, 60000);
      assert.deepEqual(got.map((m) => Number(m.payload.toString())), Array.from({ length: 5000 }, (_, i) => i));
      await inbox.expectNone(250);
    });
  }
});

/** Queues 30 QoS 1 messages (0..29) for an offline 3.1.1 session and returns what arrives on reconnect. */
async function overfill(b: TestBroker): Promise<number[]> {
  const topic = `full/${uniqueId()}`;
  const id = await offlineSubscriber(b, 4, topic, 1);
  const pub = await h.connect(b.url, { protocolVersion: 4 });
  await publishMany(pub, topic, 30, 1);
  // a PUBACK can come before another worker has queued the message: wait until all 30 reached the
  // queue (20 dropped), or the ones still on their way would meet the reconnected client instead
  if (b.running !== undefined) {
    const deadline = Date.now() + 10_000;
    while ((await b.stats()).messagesDroppedQueueFull < 20 && Date.now() < deadline) await sleep(20);
  }
  const { client } = await connectPersistent(b, 4, id);
  const got: number[] = [];
  for (;;) {
    try {
      const [m] = await receivePublishes(client, 1, true, 1000);
      got.push(Number(m!.payload!.toString()));
    } catch { break; }
  }
  await client.end();
  return got;
}

function assertContiguous(got: readonly number[]): void {
  for (let i = 1; i < got.length; i++) assert.equal(got[i], got[i - 1]! + 1, `contiguous: ${got.join(',')}`);
}

describe('max_queued_messages', () => {
  test('drop_newest (default): the first max_queued_messages messages are kept, later ones dropped', async () => {
    const b = await h.broker({ maxQueuedMessages: 10, queueDropPolicy: 'drop_newest' });
    const got = await overfill(b);
    assert.ok(got.length >= 10 && got.length < 30, `kept ${got.length}`);
    assert.equal(got[0], 0);
    assertContiguous(got);
  });

  test('drop_oldest: the newest max_queued_messages messages are kept', { skip: culexOnly }, async () => {
    const b = await h.broker({ maxQueuedMessages: 10, queueDropPolicy: 'drop_oldest' });
    const got = await overfill(b);
    assert.ok(got.length >= 10 && got.length < 30, `kept ${got.length}`);
    assert.equal(got.at(-1), 29);
    assertContiguous(got);
    const stats = await b.stats();
    assert.equal(stats.messagesDroppedQueueFull, 30 - got.length);
  });

  test('dropped messages are counted in stats()', { skip: culexOnly }, async () => {
    const b = await h.broker({ maxQueuedMessages: 10 });
    const got = await overfill(b);
    assert.equal((await b.stats()).messagesDroppedQueueFull, 30 - got.length);
  });

  test('max_queued_bytes bounds the queue by payload bytes', async () => {
    const b = await h.broker({ maxQueuedMessages: 1000, maxQueuedBytes: 1000 });
    const topic = `bytes/${uniqueId()}`;
    const id = await offlineSubscriber(b, 4, topic, 1);
    const pub = await h.connect(b.url, { protocolVersion: 4 });
    await publishMany(pub, topic, 30, 1, 10, (i) => `${String(i).padStart(2, '0')}${'x'.repeat(98)}`);
    const { client } = await connectPersistent(b, 4, id);
    const got: number[] = [];
    for (;;) {
      try {
        const [m] = await receivePublishes(client, 1, true, 1000);
        got.push(Number(m!.payload!.subarray(0, 2).toString()));
      } catch { break; }
    }
    assert.ok(got.length >= 10 && got.length < 30, `kept ${got.length} of 30 100-byte messages`);
    assert.equal(got[0], 0);
    assertContiguous(got);
    await client.end();
  });
});

describe('queue_qos0_messages', () => {
  test('with queue_qos0_messages true, QoS 0 messages are queued for an offline persistent session', async () => {
    const b = await h.broker({ queueQos0Messages: true });
    const topic = `q0/${uniqueId()}`;
    const id = await offlineSubscriber(b, 4, topic, 0);
    const pub = await h.connect(b.url, { protocolVersion: 4 });
    await pub.publishAsync(topic, 'zero', { qos: 0 });
    await pub.publishAsync(topic, 'one', { qos: 1 });
    const { client } = await connectPersistent(b, 4, id);
    const got = await receivePublishes(client, 2);
    assert.deepEqual(got.map((m) => [m.payload!.toString(), m.qos]), [['zero', 0], ['one', 0]]);
    await client.end();
  });
});


/**
 * PUBLISH / SUBSCRIBE over real sockets: QoS 0/1/2 flows in both directions, effective QoS,
 * packet identifiers, ordering, SUBACK / UNSUBACK.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, Inbox, publishMany, subscribe, uniqueId, versions } from '../helpers/clients.ts';
import { PacketType, pk, rawSubscriber, receivePublishes } from '../helpers/raw.ts';
import { tempDir, type TestBroker } from '../helpers/broker.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const h = new Harness();
let broker: TestBroker;

before(async () => { broker = await h.broker(); });
after(() => h.teardown());

const qosLevels = [0, 1, 2] as const;

for (const v of versions) {
  const vname = v === 5 ? '5.0' : '3.1.1';
  describe(`publish/subscribe, MQTT ${vname}`, () => {
    test(`[MQTT-${v === 5 ? '3.8.4-8' : '3.8.4-6'}] delivered QoS is min(published QoS, granted QoS) for all 9 pairs`, async () => {
      const base = `qos/${uniqueId()}`;
      const inboxes = new Map<number, Inbox>();
      for (const sq of qosLevels) {
        const sub = await h.connect(broker.url, { protocolVersion: v });
        inboxes.set(sq, new Inbox(sub));
        assert.deepEqual(await subscribe(sub, `${base}/sub${sq}/#`, { qos: sq }), [sq]);
      }
      const pub = await h.connect(broker.url, { protocolVersion: v });
      for (const sq of qosLevels) {
        for (const pq of qosLevels) await pub.publishAsync(`${base}/sub${sq}/pub${pq}`, `p${pq}`, { qos: pq });
      }
      for (const sq of qosLevels) {
        const got = await inboxes.get(sq)!.waitFor(3);
        for (const m of got) {
          const pq = Number(m.payload.toString().slice(1));
          assert.equal(m.packet.qos, Math.min(pq, sq), `pub ${pq} sub ${sq}`);
        }
        assert.deepEqual(got.map((m) => m.topic).sort(), [0, 1, 2].map((pq) => `${base}/sub${sq}/pub${pq}`));
      }
    });

    test('[MQTT-3.3.4-1] QoS 1 PUBLISH is answered with PUBACK carrying its packet id', async () => {
      const { client: r } = await h.rawConnected(broker.port, { version: v });
      r.send(pk.publish({ version: v, topic: `ack/${uniqueId()}`, qos: 1, packetId: 4242, payload: 'x' }));
      const puback = await r.expect(PacketType.PUBACK);
      assert.equal(puback.packetId, 4242);
      assert.equal(puback.reasonCode, v === 5 ? 0x10 : 0, v === 5 ? '0x10 No matching subscribers' : '');
      await r.end();
    });

    test('[MQTT-4.3.3-1] QoS 2 inbound flow: PUBLISH → PUBREC, PUBREL → PUBCOMP, same packet id', async () => {
      const topic = `q2in/${uniqueId()}`;
      const { client: sub } = await rawSubscriber(broker.port, [{ filter: topic, qos: 0 }], { version: v });
      const { client: r } = await h.rawConnected(broker.port, { version: v });
      r.send(pk.publish({ version: v, topic, qos: 2, packetId: 77, payload: 'exactly-once' }));
      const pubrec = await r.expect(PacketType.PUBREC);
      assert.equal(pubrec.packetId, 77);
      assert.equal(pubrec.reasonCode, 0);
      r.send(pk.ack(PacketType.PUBREL, 77));
      const pubcomp = await r.expect(PacketType.PUBCOMP);
      assert.equal(pubcomp.packetId, 77);
      assert.equal(pubcomp.reasonCode, 0);
      const msg = await sub.expect(PacketType.PUBLISH);
      assert.equal(msg.payload!.toString(), 'exactly-once');
      await r.end();
      sub.destroy();
    });

    test('[MQTT-4.3.3-2] a QoS 2 PUBLISH resent with DUP before PUBREL is delivered once', async () => {
      const topic = `q2dup/${uniqueId()}`;
      const { client: sub } = await rawSubscriber(broker.port, [{ filter: topic, qos: 1 }], { version: v });
      const { client: r } = await h.rawConnected(broker.port, { version: v });
      r.send(pk.publish({ version: v, topic, qos: 2, packetId: 9, payload: 'once' }));
      assert.equal((await r.expect(PacketType.PUBREC)).packetId, 9);
      r.send(pk.publish({ version: v, topic, qos: 2, packetId: 9, payload: 'once', dup: true }));
      assert.equal((await r.expect(PacketType.PUBREC)).packetId, 9);
      r.send(pk.ack(PacketType.PUBREL, 9));
      assert.equal((await r.expect(PacketType.PUBCOMP)).packetId, 9);
      // a new message after the flow completed is a new message, even with the same id
      r.send(pk.publish({ version: v, topic, qos: 2, packetId: 9, payload: 'second' }));
      assert.equal((await r.expect(PacketType.PUBREC)).packetId, 9);
      r.send(pk.ack(PacketType.PUBREL, 9));
      await r.expect(PacketType.PUBCOMP);
      const got = (await receivePublishes(sub, 2)).map((m) => m.payload!.toString());
      assert.deepEqual(got, ['once', 'second']);
      await sub.expectNoPacket(250);
      await r.end();
      sub.destroy();
    });

    test('[MQTT-4.3.3-3] [MQTT-4.3.3-4] QoS 2 outbound flow: subscriber PUBREC → broker PUBREL (flags 0010) → PUBCOMP', async () => {
      const topic = `q2out/${uniqueId()}`;
      const { client: sub } = await rawSubscriber(broker.port, [{ filter: topic, qos: 2 }], { version: v });
      const pub = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(topic, 'q2', { qos: 2 });
      const msg = await sub.expect(PacketType.PUBLISH);
      assert.equal(msg.qos, 2);
      assert.equal(msg.dup, false, '[MQTT-3.3.1-1] first delivery has DUP 0');
      assert.ok(msg.packetId! > 0, '[MQTT-2.3.1-1] non-zero packet id');
      sub.send(pk.ack(PacketType.PUBREC, msg.packetId!));
      const pubrel = await sub.expect(PacketType.PUBREL);
      assert.equal(pubrel.flags, 0x02, '[MQTT-3.6.1-1] PUBREL fixed header flags are 0010');
      assert.equal(pubrel.packetId, msg.packetId);
      sub.send(pk.ack(PacketType.PUBCOMP, msg.packetId!));
      await sub.expectNoPacket(200);
      sub.destroy();
    });

    test('[MQTT-2.3.1-2] unacknowledged QoS 1 deliveries use distinct non-zero packet ids', async () => {
      const topic = `ids/${uniqueId()}`;
      const { client: sub } = await rawSubscriber(broker.port, [{ filter: topic, qos: 1 }], { version: v });
      const pub = await h.connect(broker.url, { protocolVersion: v });
      for (let i = 0; i < 5; i++) await pub.publishAsync(topic, `m${i}`, { qos: 1 });
      const ids = new Set<number>();
      for (let i = 0; i < 5; i++) {
        const m = await sub.expect(PacketType.PUBLISH);
        assert.equal(m.payload!.toString(), `m${i}`);
        assert.ok(m.packetId! > 0);
        ids.add(m.packetId!);
      }
      assert.equal(ids.size, 5);
      sub.destroy();
    });

    for (const q of qosLevels) {
      test(`[MQTT-4.6.0-5] 1000 QoS ${q} messages from one publisher arrive in order`, async () => {
        const topic = `order/${uniqueId()}`;
        const sub = await h.connect(broker.url, { protocolVersion: v });
        const inbox = new Inbox(sub);
        await subscribe(sub, topic, { qos: q });
        const pub = await h.connect(broker.url, { protocolVersion: v });
        await publishMany(pub, topic, 1000, q);
        const got = await inbox.waitFor(1000, 60000);
        assert.deepEqual(got.map((m) => Number(m.payload.toString())), Array.from({ length: 1000 }, (_, i) => i));
        await inbox.expectNone(200);
      });
    }

    test('[MQTT-3.8.4-2] SUBACK carries the SUBSCRIBE packet id and [MQTT-3.9.3-1] one code per filter, in order', async () => {
      const { client: r } = await h.rawConnected(broker.port, { version: v });
      r.send(pk.subscribe(513, [
        { filter: 'a/b', qos: 2 }, { filter: 'a/+', qos: 0 }, { filter: 'a/#', qos: 1 },
      ], v));
      const suback = await r.expect(PacketType.SUBACK);
      assert.equal(suback.packetId, 513);
      assert.deepEqual(suback.reasonCodes, [2, 0, 1]);
      await r.end();
    });

    test('[MQTT-3.8.4-3] subscribing again to the same filter replaces the subscription (new QoS, one delivery)', async () => {
      const topic = `resub/${uniqueId()}`;
      const sub = await h.connect(broker.url, { protocolVersion: v });
      const inbox = new Inbox(sub);
      await subscribe(sub, topic, { qos: 0 });
      assert.deepEqual(await subscribe(sub, topic, { qos: 2 }), [2]);
      const pub = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(topic, 'x', { qos: 2 });
      const [m] = await inbox.waitFor(1);
      assert.equal(m!.packet.qos, 2);
      await inbox.expectNone(250);
    });

    test('[MQTT-3.10.4-4] UNSUBACK carries the packet id; messages stop after UNSUBSCRIBE [MQTT-3.10.4-1]', async () => {
      const topic = `unsub/${uniqueId()}`;
      const { client: r } = await rawSubscriber(broker.port, [{ filter: topic, qos: 1 }], { version: v });
      r.send(pk.unsubscribe(300, [topic], v));
      const unsuback = await r.expect(PacketType.UNSUBACK);
      assert.equal(unsuback.packetId, 300);
      if (v === 5) assert.deepEqual(unsuback.reasonCodes, [0x00]);
      const pub = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(topic, 'after-unsub', { qos: 1 });
      await r.expectNoPacket(250);
      await r.end();
    });

    test('a client receives its own publications when subscribed (no No Local)', async () => {
      const topic = `self/${uniqueId()}`;
      const c = await h.connect(broker.url, { protocolVersion: v });
      const inbox = new Inbox(c);
      await subscribe(c, topic, { qos: 1 });
      await c.publishAsync(topic, 'me', { qos: 1 });
      assert.equal((await inbox.waitFor(1))[0]!.payload.toString(), 'me');
    });

    test('a message reaches every subscriber of the topic (fan-out to 20 clients)', async () => {
      const topic = `fan/${uniqueId()}`;
      const inboxes: Inbox[] = [];
      for (let i = 0; i < 20; i++) {
        const c = await h.connect(broker.url, { protocolVersion: v });
        inboxes.push(new Inbox(c));
        await subscribe(c, topic, { qos: 1 });
      }
      const pub = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(topic, 'all', { qos: 1 });
      for (const inbox of inboxes) assert.equal((await inbox.waitFor(1))[0]!.payload.toString(), 'all');
    });

    test('binary payloads, an empty payload and a 1 MB payload pass unchanged', async () => {
      const topic = `bin/${uniqueId()}`;
      const sub = await h.connect(broker.url, { protocolVersion: v });
      const inbox = new Inbox(sub);
      await subscribe(sub, topic, { qos: 1 });
      const pub = await h.connect(broker.url, { protocolVersion: v });
      const payloads = [Buffer.from([0, 255, 1, 254, 0]), Buffer.alloc(0), Buffer.alloc(1024 * 1024, 0x5a)];
      for (const p of payloads) await pub.publishAsync(topic, p, { qos: 1 });
      const got = await inbox.waitFor(3);
      for (let i = 0; i < 3; i++) assert.ok(got[i]!.payload.equals(payloads[i]!), `payload ${i}`);
    });
  });
}

describe('overlapping subscriptions, MQTT 3.1.1', () => {
  test('[MQTT-3.3.5-1] overlapping subscriptions: one copy, at the highest QoS of the matching subscriptions', async () => {
    const base = `overlap/${uniqueId()}`;
    const { client: sub } = await rawSubscriber(broker.port, [
      { filter: `${base}/#`, qos: 1 }, { filter: `${base}/+`, qos: 2 }, { filter: `${base}/x`, qos: 0 },
    ], { version: 4 });
    const pub = await h.connect(broker.url, { protocolVersion: 4 });
    await pub.publishAsync(`${base}/x`, 'o', { qos: 2 });
    const [copy] = await receivePublishes(sub, 1);
    assert.equal(copy!.payload!.toString(), 'o');
    assert.equal(copy!.qos, 2);
    sub.send(pk.ack(PacketType.PUBCOMP, (await sub.expect(PacketType.PUBREL)).packetId!));
    await sub.expectNoPacket(300);
    sub.destroy();
  });
});

describe('v5 PUBACK 0x10 No Matching Subscribers: only when no subscription matches the topic, as Mosquitto (sub__messages_queue)', () => {
  const tmp = tempDir('culex-puback-');
  after(() => tmp.cleanup());
  let guarded: TestBroker;
  before(async () => {
    const acl = join(tmp.dir, 'puback.acl');
    // anonymous clients: write anywhere under acl/, read only acl/ok/ (acl/# is granted: it overlaps acl/ok/#)
    writeFileSync(acl, 'topic write acl/#\ntopic read acl/ok/#\ntopic readwrite nl/#\n');
    guarded = await h.broker({ aclFile: acl });
  });

  test('a subscription whose client may not read the topic still matches: PUBACK 0x00, nothing delivered', async () => {
    const { client: sub } = await rawSubscriber(guarded.port, [{ filter: 'acl/#', qos: 1 }], { version: 5, clientId: uniqueId('reader') });
    const { client: pub } = await h.rawConnected(guarded.port, { version: 5 });
    pub.send(pk.publish({ version: 5, topic: `acl/no/${uniqueId()}`, qos: 1, packetId: 1, payload: 'x' }));
    assert.equal((await pub.expect(PacketType.PUBACK)).reasonCode, 0);
    pub.send(pk.publish({ version: 5, topic: `acl/ok/${uniqueId()}`, qos: 1, packetId: 2, payload: 'y' }));
    assert.equal((await pub.expect(PacketType.PUBACK)).reasonCode, 0);
    const [got] = await receivePublishes(sub, 1);
    assert.equal(got!.payload!.toString(), 'y', 'only the readable message reaches the subscriber');
    await pub.end();
    await sub.end();
  });

  test('the publisher\'s own No Local subscription matches: PUBACK 0x00, nothing delivered back; a topic nobody subscribes to: 0x10', async () => {
    const topic = `nl/${uniqueId()}`;
    const { client: self } = await rawSubscriber(guarded.port, [{ filter: topic, qos: 1, noLocal: true }], { version: 5, clientId: uniqueId('self') });
    self.send(pk.publish({ version: 5, topic, qos: 1, packetId: 3, payload: 'x' }));
    assert.equal((await self.expect(PacketType.PUBACK)).reasonCode, 0);
    self.send(pk.publish({ version: 5, topic: `nl/${uniqueId()}`, qos: 1, packetId: 4, payload: 'x' }));
    const next = await self.expect(PacketType.PUBACK);
    assert.equal(next.packetId, 4, 'no PUBLISH came back before it');
    assert.equal(next.reasonCode, 0x10);
    await self.end();
  });
});

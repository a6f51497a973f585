/**
 * Mosquitto options whose effect is on deliveries, over real sockets: upgrade_outgoing_qos
 * (live, retained, queued and shared-subscription deliveries) and max_inflight_bytes.
 * test/unit/config/optionTable.test.ts points here for both.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, publish, uniqueId, versions } from '../helpers/clients.ts';
import { PacketType, pk, receivePublishes } from '../helpers/raw.ts';
import { culexOnly } from '../helpers/broker.ts';

const h = new Harness();
after(() => h.teardown());

const name = (v: 4 | 5) => (v === 5 ? '5.0' : '3.1.1');

describe('upgrade_outgoing_qos', () => {
  for (const v of versions) {
    test(`MQTT ${name(v)}: with upgrade_outgoing_qos true a live QoS 0 message reaches a QoS 2 subscription at QoS 2, and a QoS 1 subscription at QoS 1 (Mosquitto)`, async () => {
      const b = await h.broker({ upgradeOutgoingQos: true });
      const topic = `up/live/${uniqueId()}`;
      const { client: sub2 } = await h.rawConnected(b.port, { version: v });
      sub2.send(pk.subscribe(1, [{ filter: topic, qos: 2 }], v));
      await sub2.expect(PacketType.SUBACK);
      const { client: sub1 } = await h.rawConnected(b.port, { version: v });
      sub1.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], v));
      await sub1.expect(PacketType.SUBACK);
      const pub = await h.connect(b.url, { protocolVersion: v });
      await publish(pub, topic, 'zero', { qos: 0 });
      const [at2] = await receivePublishes(sub2, 1);
      const [at1] = await receivePublishes(sub1, 1);
      assert.equal(at2!.payload!.toString(), 'zero');
      assert.equal(at2!.qos, 2);
      assert.equal(at1!.qos, 1);
      await h.closeClients();
    });

    test(`MQTT ${name(v)}: with upgrade_outgoing_qos true a retained QoS 1 message reaches a QoS 2 subscription at QoS 2, and a retained QoS 0 one a QoS 1 subscription at QoS 1 (Mosquitto)`, async () => {
      const b = await h.broker({ upgradeOutgoingQos: true });
      const t1 = `up/ret/${uniqueId()}`;
      const t0 = `up/ret/${uniqueId()}`;
      const pub = await h.connect(b.url, { protocolVersion: v });
      await publish(pub, t1, 'r1', { qos: 1, retain: true });
      await publish(pub, t0, 'r0', { qos: 0, retain: true });
      await publish(pub, 'up/sync', 'x', { qos: 1 }); // the QoS 0 one has been routed by now
      const { client: sub } = await h.rawConnected(b.port, { version: v });
      sub.send(pk.subscribe(1, [{ filter: t1, qos: 2 }], v));
      await sub.expect(PacketType.SUBACK);
      const [m1] = await receivePublishes(sub, 1);
      assert.equal(m1!.payload!.toString(), 'r1');
      assert.equal(m1!.retain, true);
      assert.equal(m1!.qos, 2);
      sub.send(pk.ack(PacketType.PUBCOMP, (await sub.expect(PacketType.PUBREL)).packetId!));
      sub.send(pk.subscribe(2, [{ filter: t0, qos: 1 }], v));
      await sub.expect(PacketType.SUBACK);
      const [m0] = await receivePublishes(sub, 1);
      assert.equal(m0!.payload!.toString(), 'r0');
      assert.equal(m0!.qos, 1);
      await h.closeClients();
    });
  }

  test('[MQTT-3.8.4-8] without upgrade_outgoing_qos a retained QoS 1 message reaches a QoS 2 subscription at QoS 1, a live QoS 0 one at QoS 0', async () => {
    const b = await h.broker({ upgradeOutgoingQos: false });
    const topic = `noup/${uniqueId()}`;
    const pub = await h.connect(b.url, { protocolVersion: 4 });
    await publish(pub, topic, 'r1', { qos: 1, retain: true });
    const { client: sub } = await h.rawConnected(b.port, { version: 4 });
    sub.send(pk.subscribe(1, [{ filter: topic, qos: 2 }], 4));
    await sub.expect(PacketType.SUBACK);
    assert.equal((await receivePublishes(sub, 1))[0]!.qos, 1);
    await publish(pub, topic, 'live', { qos: 0 });
    assert.equal((await receivePublishes(sub, 1))[0]!.qos, 0);
    await h.closeClients();
  });

  test('with upgrade_outgoing_qos true a QoS 0 message queued for an offline persistent session arrives at the subscription QoS', async () => {
    const b = await h.broker({ upgradeOutgoingQos: true });
    const topic = `up/queued/${uniqueId()}`;
    const clientId = uniqueId();
    const { client: first } = await h.rawConnected(b.port, { version: 4, clientId, clean: false });
    first.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], 4));
    await first.expect(PacketType.SUBACK);
    await first.end();
    const pub = await h.connect(b.url, { protocolVersion: 4 });
    await publish(pub, topic, 'while-away', { qos: 0 });
    await publish(pub, 'up/sync', 'x', { qos: 1 });
    const { client: back } = await h.rawConnected(b.port, { version: 4, clientId, clean: false });
    const [m] = await receivePublishes(back, 1);
    assert.equal(m!.payload!.toString(), 'while-away');
    assert.equal(m!.qos, 1);
    await h.closeClients();
  });

  test('with upgrade_outgoing_qos true a shared subscription gets a QoS 0 message at its own QoS', async () => {
    const b = await h.broker({ upgradeOutgoingQos: true });
    const topic = `up/shared/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(b.port, { version: 5 });
    sub.send(pk.subscribe(1, [{ filter: `$share/g/${topic}`, qos: 2 }], 5));
    await sub.expect(PacketType.SUBACK);
    const pub = await h.connect(b.url, { protocolVersion: 5 });
    await publish(pub, topic, 'shared', { qos: 0 });
    assert.equal((await receivePublishes(sub, 1))[0]!.qos, 2);
    await h.closeClients();
  });
});

describe('max_inflight_bytes', () => {
  for (const v of versions) {
    // mosquitto.conf(5): "allowed in flight until this byte limit is reached". Mosquitto 2.0.11
    // itself sends five 60-byte messages under a limit of 100 (its count includes queued ones
    // differently): culex follows the manual, so this test is culex's only.
    test(`MQTT ${name(v)}: QoS 1 deliveries to one client wait while the payload bytes in flight reach max_inflight_bytes (mosquitto.conf(5))`, { skip: culexOnly }, async () => {
      const b = await h.broker({ maxInflightBytes: 100, maxInflightMessages: 0 });
      const topic = `ifb/${uniqueId()}`;
      const { client: sub } = await h.rawConnected(b.port, { version: v });
      sub.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], v));
      await sub.expect(PacketType.SUBACK);
      const pub = await h.connect(b.url, { protocolVersion: v });
      for (let i = 0; i < 4; i++) await publish(pub, topic, String(i).repeat(60), { qos: 1 });
      // 60 bytes in flight < 100: the second goes too; 120 >= 100: the rest wait
      const first = await receivePublishes(sub, 2, false);
      await sub.expectNoPacket(300);
      sub.send(pk.ack(PacketType.PUBACK, first[0]!.packetId!));
      sub.send(pk.ack(PacketType.PUBACK, first[1]!.packetId!));
      const rest = await receivePublishes(sub, 2, false);
      assert.deepEqual([...first, ...rest].map((m) => m.payload!.toString()[0]), ['0', '1', '2', '3']);
      await h.closeClients();
    });
  }

  test('a message larger than max_inflight_bytes is still delivered, alone (mosquitto.conf(5), Mosquitto)', async () => {
    const b = await h.broker({ maxInflightBytes: 100, maxInflightMessages: 0 });
    const topic = `ifb/big/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(b.port, { version: 4 });
    sub.send(pk.subscribe(1, [{ filter: topic, qos: 2 }], 4));
    await sub.expect(PacketType.SUBACK);
    const pub = await h.connect(b.url, { protocolVersion: 4 });
    await publish(pub, topic, Buffer.alloc(500, 0x61), { qos: 1 });
    await publish(pub, topic, 'small', { qos: 1 });
    const [big] = await receivePublishes(sub, 1, false);
    assert.equal(big!.payload!.length, 500);
    await sub.expectNoPacket(300);
    sub.send(pk.ack(PacketType.PUBACK, big!.packetId!));
    assert.equal((await receivePublishes(sub, 1))[0]!.payload!.toString(), 'small');
    await h.closeClients();
  });

  test('max_inflight_bytes 0: no byte limit, max_inflight_messages alone bounds the window', async () => {
    const b = await h.broker({ maxInflightBytes: 0, maxInflightMessages: 3 });
    const topic = `ifb/none/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(b.port, { version: 4 });
    sub.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], 4));
    await sub.expect(PacketType.SUBACK);
    const pub = await h.connect(b.url, { protocolVersion: 4 });
    for (let i = 0; i < 4; i++) await publish(pub, topic, Buffer.alloc(10_000, 0x61 + i), { qos: 1 });
    assert.equal((await receivePublishes(sub, 3, false)).length, 3);
    await sub.expectNoPacket(300);
    await h.closeClients();
  });
});

describe('memory_limit', { skip: culexOnly }, () => {
  test('MQTT 5.0: over memory_limit a QoS 1 PUBLISH is refused with PUBACK 0x97 (Quota exceeded) and not routed; QoS 0 is dropped', async () => {
    const b = await h.broker({ memoryLimit: 1 }); // any process is over one byte
    const topic = `mem/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(b.port, { version: 5 });
    sub.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], 5));
    await sub.expect(PacketType.SUBACK);
    const { client: r } = await h.rawConnected(b.port, { version: 5 });
    r.send(pk.publish({ version: 5, topic, qos: 1, packetId: 1, payload: 'refused' }));
    const ack = await r.expect(PacketType.PUBACK);
    assert.equal(ack.reasonCode, 0x97);
    r.send(pk.publish({ version: 5, topic, qos: 0, payload: 'dropped' }));
    await sub.expectNoPacket(300);
    assert.equal(r.isClosed, false);
    assert.ok((await b.stats()).messagesRejectedMemoryLimit! >= 2);
    await h.closeClients();
  });

  test('MQTT 3.1.1: over memory_limit a PUBLISH closes the connection without an acknowledgement (Mosquitto)', async () => {
    const b = await h.broker({ memoryLimit: 1 });
    const { client: r } = await h.rawConnected(b.port, { version: 4 });
    r.send(pk.publish({ version: 4, topic: `mem/${uniqueId()}`, qos: 1, packetId: 1, payload: 'refused' }));
    const packets = await r.expectClosed();
    assert.equal(packets.filter((p) => p.type === PacketType.PUBACK).length, 0);
    await h.closeClients();
  });

  test('under memory_limit messages flow as usual', async () => {
    const b = await h.broker({ memoryLimit: 2 ** 40 });
    const topic = `mem/ok/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(b.port, { version: 4 });
    sub.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], 4));
    await sub.expect(PacketType.SUBACK);
    const pub = await h.connect(b.url, { protocolVersion: 5 });
    await publish(pub, topic, 'fine', { qos: 1 });
    assert.equal((await receivePublishes(sub, 1))[0]!.payload!.toString(), 'fine');
    await h.closeClients();
  });
});

describe('persistent_client_expiration', () => {
  test('a 3.1.1 persistent session offline longer than persistent_client_expiration is gone; one back in time is kept (Mosquitto)', { skip: culexOnly }, async () => {
    const b = await h.broker({ persistentClientExpiration: 1 });
    const kept = uniqueId();
    const expired = uniqueId();
    for (const clientId of [kept, expired]) {
      const { client } = await h.rawConnected(b.port, { version: 4, clientId, clean: false });
      client.send(pk.subscribe(1, [{ filter: 'pce/t', qos: 1 }], 4));
      await client.expect(PacketType.SUBACK);
      await client.end();
    }
    const back = await h.rawConnected(b.port, { version: 4, clientId: kept, clean: false });
    assert.equal(back.connack.sessionPresent, true);
    await new Promise((r) => setTimeout(r, 3000)); // 1 s of expiry, swept once a second
    const late = await h.rawConnected(b.port, { version: 4, clientId: expired, clean: false });
    assert.equal(late.connack.sessionPresent, false);
    await h.closeClients();
  });
});

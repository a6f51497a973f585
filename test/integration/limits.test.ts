/**
 * Configured limits over real sockets: message_size_limit, max_inflight_messages, queue limits
 * for connected slow subscribers, max_qos, max_connections.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, Inbox, publishMany, subscribe, uniqueId, versions } from '../helpers/clients.ts';
import { PacketType, pk, receivePublishes } from '../helpers/raw.ts';
import { culexOnly } from '../helpers/broker.ts';

const h = new Harness();
after(() => h.teardown());

describe('message_size_limit', () => {
  for (const v of versions) {
    test(`MQTT ${v === 5 ? '5.0' : '3.1.1'}: a payload over the limit is acknowledged${v === 5 ? ' with 0x95' : ''} and dropped; the connection stays usable`, async () => {
      const b = await h.broker({ messageSizeLimit: 100 });
      const topic = `msl/${uniqueId()}`;
      const sub = await h.connect(b.url, { protocolVersion: v });
      const inbox = new Inbox(sub);
      await subscribe(sub, topic, { qos: 1 });
      const { client: r } = await h.rawConnected(b.port, { version: v });
      r.send(pk.publish({ version: v, topic, qos: 1, packetId: 1, payload: Buffer.alloc(101, 0x62) }));
      const ack = await r.expect(PacketType.PUBACK);
      assert.equal(ack.packetId, 1);
      if (v === 5) assert.equal(ack.reasonCode, 0x95);
      r.send(pk.publish({ version: v, topic, qos: 1, packetId: 2, payload: Buffer.alloc(100, 0x61) }));
      assert.equal((await r.expect(PacketType.PUBACK)).reasonCode, 0);
      const [m] = await inbox.waitFor(1);
      assert.equal(m!.payload.length, 100);
      await inbox.expectNone(250, 1);
      await r.end();
      await h.closeClients();
      await b.stop();
    });
  }
});

describe('max_inflight_messages', () => {
  for (const v of versions) {
    test(`MQTT ${v === 5 ? '5.0' : '3.1.1'}: at most max_inflight_messages unacknowledged QoS 1 deliveries to one client`, async () => {
      const b = await h.broker({ maxInflightMessages: 2 });
      const topic = `inf/${uniqueId()}`;
      const { client: sub } = await h.rawConnected(b.port, { version: v });
      sub.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], v));
      await sub.expect(PacketType.SUBACK);
      const pub = await h.connect(b.url, { protocolVersion: v });
      await publishMany(pub, topic, 6, 1, 1);
      const first = await receivePublishes(sub, 2, false);
      await sub.expectNoPacket(300);
      sub.send(pk.ack(PacketType.PUBACK, first[0]!.packetId!));
      const third = await receivePublishes(sub, 1, false);
      await sub.expectNoPacket(300);
      sub.send(pk.ack(PacketType.PUBACK, first[1]!.packetId!));
      sub.send(pk.ack(PacketType.PUBACK, third[0]!.packetId!));
      const rest = await receivePublishes(sub, 3);
      assert.deepEqual([...first, ...third, ...rest].map((m) => m.payload!.toString()), ['0', '1', '2', '3', '4', '5']);
      await sub.end();
      await h.closeClients();
      await b.stop();
    });
  }

  test('MQTT 5.0: CONNACK Receive Maximum equals max_inflight_messages', async () => {
    const b = await h.broker({ maxInflightMessages: 7 });
    const { client: r, connack } = await h.rawConnected(b.port, { version: 5 });
    assert.equal(pk.prop(connack, pk.Prop.ReceiveMaximum), 7);
    await r.end();
  });
});

describe('queue limits for a connected slow subscriber', () => {
  test('messages beyond inflight + max_queued_messages are dropped (newest), the rest arrive in order', async () => {
    const b = await h.broker({ maxInflightMessages: 2, maxQueuedMessages: 5 });
    const topic = `slow/${uniqueId()}`;
    const { client: sub } = await h.rawConnected(b.port, { version: 4 });
    sub.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], 4));
    await sub.expect(PacketType.SUBACK);
    const pub = await h.connect(b.url, { protocolVersion: 4 });
    await publishMany(pub, topic, 20, 1);
    const first = await receivePublishes(sub, 2, false);
    for (const m of first) sub.send(pk.ack(PacketType.PUBACK, m.packetId!));
    const got = first.map((m) => Number(m.payload!.toString()));
    for (;;) {
      try { got.push(Number((await receivePublishes(sub, 1, true, 1000))[0]!.payload!.toString())); } catch { break; }
    }
    assert.ok(got.length >= 7 && got.length < 20, `delivered ${got.length}`);
    assert.deepEqual(got, Array.from({ length: got.length }, (_, i) => i));
    await sub.end();
    await h.closeClients();
    await b.stop();
  });
});

describe('max_qos', () => {
  test('a subscription asking QoS 2 is granted max_qos (3.1.1 and 5.0) and deliveries are capped', async () => {
    const b = await h.broker({ maxQos: 1 });
    for (const v of versions) {
      const topic = `maxq/${uniqueId()}`;
      const sub = await h.connect(b.url, { protocolVersion: v });
      const inbox = new Inbox(sub);
      assert.deepEqual(await subscribe(sub, topic, { qos: 2 }), [1]);
      const pub = await h.connect(b.url, { protocolVersion: v });
      await pub.publishAsync(topic, 'x', { qos: 1 });
      assert.equal((await inbox.waitFor(1))[0]!.packet.qos, 1);
    }
    await h.closeClients();
    await b.stop();
  });

  test('[MQTT-3.2.2-11] [MQTT-4.13.2-1] MQTT 5.0: a PUBLISH above Maximum QoS gets DISCONNECT 0x9B and is closed', async () => {
    const b = await h.broker({ maxQos: 1 });
    const { client: r } = await h.rawConnected(b.port, { version: 5 });
    r.send(pk.publish({ version: 5, topic: 'maxq/x', qos: 2, packetId: 1, payload: 'too-high' }));
    const got = await r.expectClosed();
    assert.equal(got.at(-1)?.type, PacketType.DISCONNECT);
    assert.equal(got.at(-1)?.reasonCode, 0x9b);
    await b.stop();
  });
});

describe('max_connections', () => {
  test('a connection beyond the listener\'s max_connections is refused; the others keep working', async () => {
    const b = await h.broker({ listeners: [{ port: 0, host: '127.0.0.1', protocol: 'mqtt', maxConnections: 2 }] });
    const { client: a } = await h.rawConnected(b.port, { version: 4 });
    const { client: c } = await h.rawConnected(b.port, { version: 4 });
    const extra = await h.raw(b.port, 4);
    extra.send(pk.connect({ version: 4, clientId: uniqueId() }));
    const got = await extra.expectClosed();
    for (const p of got) {
      assert.equal(p.type, PacketType.CONNACK);
      assert.notEqual(p.reasonCode, 0);
    }
    a.send(pk.pingreq());
    await a.expect(PacketType.PINGRESP);
    await a.end();
    // a freed slot can be used again (once the broker has seen the close)
    let reconnected = false;
    for (let i = 0; i < 50 && !reconnected; i++) {
      try {
        await (await h.rawConnected(b.port, { version: 4 })).client.end();
        reconnected = true;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(reconnected);
    await c.end();
    await b.stop();
  });
});

describe('before CONNACK: max_connect_packet_size and max_connect_time (culex options)', { skip: culexOnly }, () => {
  test('a first packet declaring more than max_connect_packet_size is refused at its header, before its body is read', async () => {
    const b = await h.broker({ maxConnectPacketSize: 64 * 1024 });
    const r = await h.raw(b.port, 4);
    // CONNECT declaring 256 MB: the broker closes without waiting for (and buffering) the body
    r.send(Buffer.concat([Buffer.from([0x10]), pk.varint(256 * 1024 * 1024 - 1), Buffer.alloc(1024, 0x41)]));
    await r.expectClosed();
    // a CONNECT under the limit, with a 60 KB will, is accepted; after CONNACK max_packet_size applies again
    const { client, connack } = await h.rawConnected(b.port, { version: 5, clientId: uniqueId(), will: { topic: 'w', payload: Buffer.alloc(60 * 1024) } });
    assert.equal(connack.reasonCode, 0);
    client.send(pk.publish({ version: 5, topic: 'big', qos: 1, packetId: 1, payload: Buffer.alloc(200 * 1024) }));
    assert.equal((await client.expect(PacketType.PUBACK)).reasonCode, 0x10); // no subscribers: it was read and routed
  });

  test('a CONNECT trickled one byte at a time is closed at max_connect_time after the connection opened', async () => {
    const b = await h.broker({ maxConnectTime: 2 });
    const r = await h.raw(b.port, 4);
    const connect = pk.connect({ clientId: uniqueId() });
    const opened = Date.now();
    let sent = 0;
    // one byte every 200 ms: the whole CONNECT would take longer than the deadline
    while (!r.isClosed && sent < connect.length - 1 && Date.now() - opened < 15_000) {
      r.send(connect.subarray(sent, sent + 1));
      sent++;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(r.isClosed, true, `still open after ${sent} bytes`);
    assert.ok(Date.now() - opened >= 1900, 'not before max_connect_time');
  });
});

/**
 * Keep alive over real sockets: the broker closes silent clients after 1.5 × keep alive,
 * answers PINGREQ, and (v5) imposes max_keepalive as Server Keep Alive.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, uniqueId, versions, sleep } from '../helpers/clients.ts';
import { PacketType, pk } from '../helpers/raw.ts';
import { brokerUnderTest, type TestBroker } from '../helpers/broker.ts';

const h = new Harness();
let broker: TestBroker;

before(async () => { broker = await h.broker(); });
after(() => h.teardown());

for (const v of versions) {
  const v5 = v === 5;
  describe(`keep alive, MQTT ${v5 ? '5.0' : '3.1.1'}`, () => {
    test(`[MQTT-3.1.2-${v5 ? '22' : '24'}] a client silent for 1.5 × keep alive is disconnected`, async () => {
      const { client: r } = await h.rawConnected(broker.port, { version: v, keepalive: 1 });
      const connected = Date.now();
      const got = await r.expectClosed(10000);
      // sweeps are 250 ms apart: 1.5 s after the last packet at the earliest; well before the
      // 10 s CONNECT deadline, which the keep-alive replaced at CONNACK
      const after = Date.now() - connected;
      assert.ok(after >= 1250 && after < 8000, `closed ${after} ms after CONNACK`);
      for (const p of got) {
        assert.ok(v5, '3.1.1: closed without a packet');
        assert.equal(p.type, PacketType.DISCONNECT);
        assert.equal(p.reasonCode, 0x8d, 'Keep Alive timeout');
      }
    });

    test('[MQTT-3.12.4-1] PINGREQ is answered with PINGRESP', async () => {
      const { client: r } = await h.rawConnected(broker.port, { version: v });
      r.send(pk.pingreq());
      const p = await r.expect(PacketType.PINGRESP);
      assert.equal(p.body.length, 0);
      assert.equal(p.flags, 0);
      await r.end();
    });

    test('PINGREQs within the keep alive keep the connection open', async () => {
      const { client: r } = await h.rawConnected(broker.port, { version: v, keepalive: 1 });
      for (let i = 0; i < 6; i++) {
        await sleep(500);
        r.send(pk.pingreq());
        await r.expect(PacketType.PINGRESP);
      }
      assert.equal(r.isClosed, false);
      await r.end();
    });

    test('other control packets (PUBLISH) within the keep alive keep the connection open', async () => {
      const { client: r } = await h.rawConnected(broker.port, { version: v, keepalive: 1 });
      for (let i = 0; i < 6; i++) {
        await sleep(500);
        r.send(pk.publish({ version: v, topic: `ka/${uniqueId()}`, payload: 'beat', qos: 1, packetId: i + 1 }));
        await r.expect(PacketType.PUBACK);
      }
      assert.equal(r.isClosed, false);
      await r.end();
    });
  });
}

describe('max_keepalive', () => {
  // Mosquitto refuses max_keepalive below 10
  const max = brokerUnderTest === 'mosquitto' ? 10 : 2;
  let capped: TestBroker;
  before(async () => { capped = await h.broker({ maxKeepalive: max }); });

  test('[MQTT-3.2.2-21] MQTT 5.0: keep alive above max_keepalive → CONNACK Server Keep Alive = max_keepalive', async () => {
    const { client: r, connack } = await h.rawConnected(capped.port, { version: 5, keepalive: 60 });
    assert.equal(pk.prop(connack, pk.Prop.ServerKeepAlive), max);
    await r.end();
  });

  test('MQTT 5.0: keep alive 0 → CONNACK Server Keep Alive = max_keepalive', async () => {
    const { client: r, connack } = await h.rawConnected(capped.port, { version: 5, keepalive: 0 });
    assert.equal(pk.prop(connack, pk.Prop.ServerKeepAlive), max);
    await r.end();
  });

  test('MQTT 5.0: keep alive within max_keepalive → no Server Keep Alive property', async () => {
    const { client: r, connack } = await h.rawConnected(capped.port, { version: 5, keepalive: max });
    assert.equal(pk.prop(connack, pk.Prop.ServerKeepAlive), undefined);
    await r.end();
  });

  test('MQTT 5.0: the Server Keep Alive is enforced (silent client closed)', async () => {
    const { client: r } = await h.rawConnected(capped.port, { version: 5, keepalive: 60 });
    await r.expectClosed(max * 1500 + 8000);
  });

  test('MQTT 3.1.1: keep alive above max_keepalive is refused with CONNACK 0x02 (Mosquitto 2.x docs)', async () => {
    const r = await h.raw(capped.port, 4);
    r.send(pk.connect({ version: 4, clientId: uniqueId(), keepalive: 60 }));
    assert.equal((await r.expect(PacketType.CONNACK)).reasonCode, 0x02);
    await r.expectClosed();
  });
});

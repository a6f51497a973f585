/**
 * CONNECT / CONNACK over real sockets: first-packet rule, protocol name and level, flags,
 * client identifiers, takeover, MQTT 3.1.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, Inbox, subscribe, uniqueId, versions } from '../helpers/clients.ts';
import { PacketType, pk, type RawClient } from '../helpers/raw.ts';
import type { TestBroker } from '../helpers/broker.ts';

const h = new Harness();
let broker: TestBroker;

before(async () => { broker = await h.broker(); });
after(() => h.teardown());

/** After a misbehaving client was thrown out, a fresh client still publishes and receives. */
async function brokerStillWorks(): Promise<void> {
  const sub = await h.connect(broker.url);
  const inbox = new Inbox(sub);
  const topic = `alive/${uniqueId()}`;
  await subscribe(sub, topic, { qos: 1 });
  const pub = await h.connect(broker.url);
  await pub.publishAsync(topic, 'ping', { qos: 1 });
  const [m] = await inbox.waitFor(1);
  assert.equal(m!.payload.toString(), 'ping');
}

/** Asserts the connection closed and no successful CONNACK was sent first. */
async function expectRefusedOrClosed(r: RawClient): Promise<void> {
  const got = await r.expectClosed();
  for (const p of got) {
    if (p.type === PacketType.CONNACK) assert.notEqual(p.reasonCode, 0, 'CONNACK must not accept');
  }
}

for (const v of versions) {
  describe(`connect, MQTT ${v === 5 ? '5.0' : '3.1.1'}`, () => {
    test('[MQTT-3.2.0-1] a valid CONNECT is answered with CONNACK 0x00', async () => {
      const r = await h.raw(broker.port, v);
      r.send(pk.connect({ version: v, clientId: uniqueId() }));
      const connack = await r.expect(PacketType.CONNACK);
      assert.equal(connack.reasonCode, 0);
      assert.equal(connack.sessionPresent, false);
      await r.end();
    });

    for (const [name, first] of [
      ['PUBLISH', pk.publish({ version: v, topic: 'a/b', payload: 'x' })],
      ['SUBSCRIBE', pk.subscribe(1, [{ filter: 'a/#' }], v)],
      ['PINGREQ', pk.pingreq()],
    ] as const) {
      test(`[MQTT-3.1.0-1] a first packet ${name} (not CONNECT) closes the connection`, async () => {
        const r = await h.raw(broker.port, v);
        r.send(first);
        const got = await r.expectClosed();
        assert.ok(!got.some((p) => p.type === PacketType.CONNACK || p.type === PacketType.SUBACK
          || p.type === PacketType.PINGRESP), `no reply expected, got ${got.map((p) => p.type)}`);
        await brokerStillWorks();
      });
    }

    test('[MQTT-3.1.0-2] a second CONNECT is a protocol error and closes the connection', async () => {
      const { client: r } = await h.rawConnected(broker.port, { version: v, clientId: uniqueId() });
      r.send(pk.connect({ version: v, clientId: uniqueId() }));
      const got = await r.expectClosed();
      if (v === 5) {
        for (const p of got) {
          assert.equal(p.type, PacketType.DISCONNECT);
          assert.equal(p.reasonCode, 0x82, 'Protocol Error');
        }
      } else {
        assert.deepEqual(got, []);
      }
      await brokerStillWorks();
    });

    test('[MQTT-3.1.2-3] reserved connect flag set: connection closed, not accepted', async () => {
      const r = await h.raw(broker.port, v);
      r.send(pk.connect({ version: v, clientId: uniqueId(), reservedFlag: true }));
      await expectRefusedOrClosed(r);
    });

    test('[MQTT-3.1.2-1] wrong protocol name: connection closed, not accepted', async () => {
      const r = await h.raw(broker.port, v);
      r.send(pk.connect({ version: v, clientId: uniqueId(), protocolName: 'MQTX' }));
      const got = await r.expectClosed();
      for (const p of got) {
        assert.equal(p.type, PacketType.CONNACK);
        assert.ok(p.reasonCode === 0x01 || p.reasonCode === 0x84, `refusal code, got ${p.reasonCode}`);
      }
    });

    test('[MQTT-3.1.2-11] [MQTT-3.1.2-13] will flag 0 with will QoS 1: connection closed, not accepted', async () => {
      const r = await h.raw(broker.port, v);
      r.send(pk.connect({ version: v, clientId: uniqueId(), flagsByte: 0x02 | 0x08 }));
      await expectRefusedOrClosed(r);
    });

    test('[MQTT-3.1.2-14] will QoS 3: connection closed, not accepted', async () => {
      const r = await h.raw(broker.port, v);
      r.send(pk.connect({ version: v, clientId: uniqueId(), will: { topic: 'w', payload: 'x', qos: 3 } }));
      await expectRefusedOrClosed(r);
    });

    test('[MQTT-3.1.2-11] [MQTT-3.1.2-15] will retain set without will flag: connection closed, not accepted', async () => {
      const r = await h.raw(broker.port, v);
      r.send(pk.connect({ version: v, clientId: uniqueId(), flagsByte: 0x02 | 0x20 }));
      await expectRefusedOrClosed(r);
    });

    test('[MQTT-3.1.4-2] a CONNECT with the client id of a connected client closes the old connection', async () => {
      const id = uniqueId('takeover');
      const { client: old } = await h.rawConnected(broker.port, { version: v, clientId: id });
      const { client: fresh } = await h.rawConnected(broker.port, { version: v, clientId: id });
      const got = await old.expectClosed();
      if (v === 5) {
        // [MQTT-3.1.4-3] the old client is told why
        assert.equal(got.length, 1, 'one DISCONNECT before close');
        assert.equal(got[0]!.type, PacketType.DISCONNECT);
        assert.equal(got[0]!.reasonCode, 0x8e, 'Session taken over');
      }
      // the new connection is fully usable
      fresh.send(pk.subscribe(7, [{ filter: `${id}/t`, qos: 0 }], v));
      const suback = await fresh.expect(PacketType.SUBACK);
      assert.equal(suback.packetId, 7);
      fresh.send(pk.publish({ version: v, topic: `${id}/t`, payload: 'after-takeover' }));
      const msg = await fresh.expect(PacketType.PUBLISH);
      assert.equal(msg.payload!.toString(), 'after-takeover');
      await fresh.end();
    });

    test('a client id of 23 characters and one of 100 characters are accepted [MQTT-3.1.3-5]', async () => {
      for (const len of [23, 100]) {
        const id = (uniqueId('x') + 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(3)).slice(0, len);
        const r = await h.raw(broker.port, v);
        r.send(pk.connect({ version: v, clientId: id }));
        assert.equal((await r.expect(PacketType.CONNACK)).reasonCode, 0);
        await r.end();
      }
    });

    test('[MQTT-3.1.3-4] client id that is not valid UTF-8: connection closed, not accepted', async () => {
      const r = await h.raw(broker.port, v);
      r.send(pk.connect({ version: v, clientId: Buffer.from([0x61, 0xc0, 0xaf, 0x62]) }));
      await expectRefusedOrClosed(r);
    });

    test('an idle connection that never sends CONNECT does not disturb other clients', async () => {
      const idle = await h.raw(broker.port, v);
      const half = await h.raw(broker.port, v);
      half.send(pk.connect({ version: v, clientId: uniqueId() }).subarray(0, 7));
      await brokerStillWorks();
      assert.equal(idle.isClosed, false);
      idle.destroy();
      half.destroy();
    });
  });
}

describe('connect, MQTT 3.1.1 specifics', () => {
  test('[MQTT-3.1.3-6] zero-length client id with clean session is accepted', async () => {
    const r = await h.raw(broker.port, 4);
    r.send(pk.connect({ version: 4, clientId: '', clean: true }));
    assert.equal((await r.expect(PacketType.CONNACK)).reasonCode, 0);
    await r.end();
  });

  test('[MQTT-3.1.3-8] zero-length client id without clean session: CONNACK 0x02 and close [MQTT-3.2.2-5]', async () => {
    const r = await h.raw(broker.port, 4);
    r.send(pk.connect({ version: 4, clientId: '', clean: false }));
    const connack = await r.expect(PacketType.CONNACK);
    assert.equal(connack.reasonCode, 0x02);
    await r.expectClosed();
  });

  test('[MQTT-3.1.2-2] unsupported protocol level: CONNACK 0x01 and close [MQTT-3.2.2-5]', async () => {
    const r = await h.raw(broker.port, 4);
    r.send(pk.connect({ version: 4, level: 6, clientId: uniqueId() }));
    const got = await r.expectClosed();
    assert.equal(got.length, 1, 'one CONNACK');
    assert.equal(got[0]!.type, PacketType.CONNACK);
    // a 3.1.1-style CONNACK says 0x01; a 5.0-style one (with properties) says 0x84
    const code = got[0]!.body.length === 2 ? 0x01 : 0x84;
    assert.equal(got[0]!.reasonCode, code);
  });

  test('[MQTT-3.1.2-22] password flag without user name flag: connection closed, not accepted', async () => {
    const r = await h.raw(broker.port, 4);
    r.send(pk.connect({ version: 4, clientId: uniqueId(), password: 'pw' }));
    await expectRefusedOrClosed(r);
  });

  test('MQTT 3.1 (MQIsdp, level 3) CONNECT is accepted and the client can publish and subscribe', async () => {
    const r = await h.raw(broker.port, 3);
    r.send(pk.connect({ version: 3, clientId: uniqueId() }));
    const connack = await r.expect(PacketType.CONNACK);
    assert.equal(connack.reasonCode, 0);
    const topic = `v31/${uniqueId()}`;
    r.send(pk.subscribe(1, [{ filter: topic, qos: 1 }], 3));
    assert.deepEqual((await r.expect(PacketType.SUBACK)).reasonCodes, [1]);
    const pub = await h.connect(broker.url, { protocolVersion: 4 });
    await pub.publishAsync(topic, 'to-3.1', { qos: 1 });
    const msg = await r.expect(PacketType.PUBLISH);
    assert.equal(msg.payload!.toString(), 'to-3.1');
    assert.equal(msg.qos, 1);
    r.send(pk.ack(PacketType.PUBACK, msg.packetId!));
    await r.end();
  });

  test('MQTT.js at protocol level 3 interoperates with a 3.1.1 client', async () => {
    const old = await h.connect(broker.url, { protocolId: 'MQIsdp', protocolVersion: 3 });
    const inbox = new Inbox(old);
    const topic = `v31js/${uniqueId()}`;
    await subscribe(old, topic, { qos: 2 });
    const pub = await h.connect(broker.url, { protocolVersion: 4 });
    await pub.publishAsync(topic, 'hello', { qos: 2 });
    const [m] = await inbox.waitFor(1);
    assert.equal(m!.payload.toString(), 'hello');
    assert.equal(m!.packet.qos, 2);
  });
});

describe('connect, MQTT 5.0 specifics', () => {
  test('[MQTT-3.2.2-16] zero-length client id: CONNACK carries an Assigned Client Identifier', async () => {
    const r = await h.raw(broker.port, 5);
    r.send(pk.connect({ version: 5, clientId: '' }));
    const connack = await r.expect(PacketType.CONNACK);
    assert.equal(connack.reasonCode, 0);
    const assigned = pk.prop(connack, pk.Prop.AssignedClientIdentifier);
    assert.equal(typeof assigned, 'string');
    assert.ok((assigned as string).length > 0);
    assert.ok((assigned as string).startsWith(broker.config.autoIdPrefix), `prefix ${broker.config.autoIdPrefix}`);
    await r.end();
  });

  test('[MQTT-3.1.3-7] two zero-length client ids get different assigned identifiers', async () => {
    const ids: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await h.raw(broker.port, 5);
      r.send(pk.connect({ version: 5, clientId: '' }));
      ids.push(pk.prop(await r.expect(PacketType.CONNACK), pk.Prop.AssignedClientIdentifier));
    }
    assert.notEqual(ids[0], ids[1]);
  });

  test('[MQTT-3.1.2-2] protocol level 6: refused (CONNACK 0x84 in 5.0 form, or 0x01 in 3.1.1 form) and closed [MQTT-3.2.2-5]', async () => {
    const r = await h.raw(broker.port, 5);
    r.send(pk.connect({ version: 5, level: 6, clientId: uniqueId() }));
    const got = await r.expectClosed();
    assert.equal(got.length, 1, 'one CONNACK');
    assert.equal(got[0]!.type, PacketType.CONNACK);
    const code = got[0]!.body.length === 2 ? 0x01 : 0x84;
    assert.equal(got[0]!.reasonCode, code);
  });

  test('a password without a user name is allowed in 5.0 [MQTT-3.1.2-18]', async () => {
    const r = await h.raw(broker.port, 5);
    r.send(pk.connect({ version: 5, clientId: uniqueId(), password: 'pw' }));
    assert.equal((await r.expect(PacketType.CONNACK)).reasonCode, 0);
    await r.end();
  });
});

describe('allow_zero_length_clientid false', () => {
  let strict: TestBroker;
  before(async () => { strict = await h.broker({ allowZeroLengthClientId: false }); });

  test('[MQTT-3.1.3-9] 3.1.1: zero-length client id refused with CONNACK 0x02, then closed [MQTT-3.2.2-5]', async () => {
    const r = await h.raw(strict.port, 4);
    r.send(pk.connect({ version: 4, clientId: '', clean: true }));
    assert.equal((await r.expect(PacketType.CONNACK)).reasonCode, 0x02);
    await r.expectClosed();
  });

  test('[MQTT-3.1.3-9] 5.0: zero-length client id refused with CONNACK 0x85, then closed [MQTT-3.2.2-5]', async () => {
    const r = await h.raw(strict.port, 5);
    r.send(pk.connect({ version: 5, clientId: '' }));
    assert.equal((await r.expect(PacketType.CONNACK)).reasonCode, 0x85);
    await r.expectClosed();
  });
});

describe('use_username_as_clientid true (Mosquitto: the username replaces the client id)', () => {
  let named: TestBroker;
  before(async () => { named = await h.broker({ listeners: [{ port: 0, host: '127.0.0.1', protocol: 'mqtt', maxConnections: -1, useUsernameAsClientid: true }] }); });

  for (const v of versions) {
    test(`v${v}: two clients with one username and different client ids are one client: the second takes over the first`, async () => {
      const user = uniqueId('user');
      const { client: first } = await h.rawConnected(named.port, { version: v, clientId: uniqueId('a'), username: user });
      const { client: second } = await h.rawConnected(named.port, { version: v, clientId: uniqueId('b'), username: user });
      await first.expectClosed();
      second.send(pk.pingreq());
      await second.expect(PacketType.PINGRESP);
      await second.end();
      // another username is another client: both stay
      const { client: third } = await h.rawConnected(named.port, { version: v, clientId: uniqueId('c'), username: uniqueId('other') });
      third.send(pk.pingreq());
      await third.expect(PacketType.PINGRESP);
      await third.end();
    });

    test(`v${v}: a client without a username is not authorised (CONNACK ${v === 5 ? '0x87' : '5'}) and closed`, async () => {
      const r = await h.raw(named.port, v);
      r.send(pk.connect({ version: v, clientId: uniqueId() }));
      const got = await r.expectClosed();
      assert.equal(got.length, 1, 'one CONNACK');
      assert.equal(got[0]!.type, PacketType.CONNACK);
      assert.equal(got[0]!.reasonCode, v === 5 ? 0x87 : 5);
    });
  }

  test('v5: a zero-length client id gets the username as its Assigned Client Identifier', async () => {
    const user = uniqueId('user');
    const r = await h.raw(named.port, 5);
    r.send(pk.connect({ version: 5, clientId: '', username: user }));
    const connack = await r.expect(PacketType.CONNACK);
    assert.equal(connack.reasonCode, 0);
    assert.equal(pk.prop(connack, pk.Prop.AssignedClientIdentifier), user);
    await r.end();
  });
});

describe('clientid_prefixes (deprecated in Mosquitto, still checked)', () => {
  let prefixed: TestBroker;
  before(async () => { prefixed = await h.broker({ clientidPrefixes: 'secure-' }); });

  for (const v of versions) {
    test(`v${v}: a client id starting with the prefix connects; any other is not authorised (CONNACK ${v === 5 ? '0x87' : '5'}) and closed`, async () => {
      const { client: ok } = await h.rawConnected(prefixed.port, { version: v, clientId: uniqueId('secure-') });
      ok.send(pk.pingreq());
      await ok.expect(PacketType.PINGRESP);
      await ok.end();
      for (const clientId of [uniqueId('mqtt'), ...(v === 5 ? [''] : [])]) {
        // a zero-length id gets an assigned one (auto-…), which does not start with the prefix either
        const r = await h.raw(prefixed.port, v);
        r.send(pk.connect({ version: v, clientId }));
        const got = await r.expectClosed();
        assert.equal(got.length, 1, 'one CONNACK');
        assert.equal(got[0]!.type, PacketType.CONNACK);
        assert.equal(got[0]!.reasonCode, v === 5 ? 0x87 : 5, `client id '${clientId}'`);
      }
    });
  }
});

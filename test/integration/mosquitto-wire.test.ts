/**
 * Wire behaviour where the specification leaves a choice, or where Mosquitto 2.0.11 is the reference
 * (issue 14): v5 packets that end before their Property Length, acknowledgements of the wrong type,
 * the topic depth limit, CONNACK bytes, a will over message_size_limit, refused passwords, undecodable
 * CONNECTs, wills at takeover, packet id 0 in SUBSCRIBE, reason strings. Raw bytes where the shape matters.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Harness, Inbox, subscribe, uniqueId, versions } from '../helpers/clients.ts';
import { PacketType, pk, type RawClient } from '../helpers/raw.ts';
import { tempDir, writePasswordFile, type TestBroker } from '../helpers/broker.ts';

const h = new Harness();
const tmp = tempDir();
let broker: TestBroker;

before(async () => { broker = await h.broker(); });
after(async () => {
  await h.teardown();
  tmp.cleanup();
});

/** A subscriber (MQTT.js, 3.1.1) listening on `topic`. */
async function listen(topic: string, b = broker): Promise<Inbox> {
  const c = await h.connect(b.url, { protocolVersion: 4 });
  const inbox = new Inbox(c);
  await subscribe(c, topic, { qos: 2 });
  return inbox;
}

/** A raw subscriber to `topic` at `qos`, with optional CONNECT properties. */
async function rawSubscriber(version: pk.Version, topic: string, qos: number, properties: pk.Property[] = []): Promise<RawClient> {
  const { client } = await h.rawConnected(broker.port, { version, properties: version === 5 ? properties : undefined });
  client.send(pk.subscribe(1, [{ filter: topic, qos }], version));
  await client.expect(PacketType.SUBACK);
  return client;
}

/** Publishes `payloads` on `topic` at `qos` from a fresh MQTT.js client. */
async function publishAll(topic: string, payloads: string[], qos: 0 | 1 | 2): Promise<void> {
  const pub = await h.connect(broker.url, { protocolVersion: 4 });
  for (const p of payloads) await pub.publishAsync(topic, p, { qos });
}

/** The connection is closed by the broker; on v5 a DISCONNECT with `reason` comes first. */
async function expectViolation(client: RawClient, version: pk.Version, reason: number): Promise<void> {
  const got = await client.expectClosed();
  if (version === 5) {
    const d = got.find((p) => p.type === PacketType.DISCONNECT);
    assert.ok(d, `a DISCONNECT before the close; got ${got.map((p) => p.type).join(',')}`);
    assert.equal(d.reasonCode, reason, `DISCONNECT reason 0x${d.reasonCode?.toString(16)}`);
  } else {
    assert.equal(got.filter((p) => p.type === PacketType.DISCONNECT).length, 0);
  }
}

const hex = (b: Buffer): string => b.toString('hex');

describe('[MQTT-3.14.2-1] [MQTT-3.4.2-1] v5 packets that end before their Property Length', () => {
  test('DISCONNECT e0 01 04 (reason 0x04, no Property Length) publishes the will', async () => {
    const topic = `short/${uniqueId()}`;
    const inbox = await listen(topic);
    const { client } = await h.rawConnected(broker.port, { version: 5, will: { topic, payload: 'with-will', qos: 1 } });
    client.send('e0 01 04');
    await client.expectClosed();
    assert.equal((await inbox.next()).payload.toString(), 'with-will');
  });

  test('DISCONNECT e0 01 04 from a client that keeps its socket open: the will is published at once, as Mosquitto does', async () => {
    // Mosquitto's own test (07-will-disconnect-with-will.py) sends the DISCONNECT and waits for the will
    // before it closes the socket: the will must not wait for the peer's side of the close
    const topic = `short/${uniqueId()}`;
    const inbox = await listen(topic);
    const socket = net.connect({ port: broker.port, host: '127.0.0.1', allowHalfOpen: true });
    socket.on('error', () => {});
    let closed = false;
    socket.on('close', () => { closed = true; });
    const connack = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write(pk.connect({ version: 5, clientId: uniqueId(), will: { topic, payload: 'lingering', qos: 2 } }));
    await connack;
    socket.write(Buffer.from('e00104', 'hex'));
    assert.equal((await inbox.next()).payload.toString(), 'lingering');
    assert.equal(closed, false, 'published before the broker gave up on the socket');
    socket.destroy();
  });

  test('a client that keeps its side open after DISCONNECT is let go by the broker: FIN first, then the socket is closed (after 2 s)', async () => {
    const socket = net.connect({ port: broker.port, host: '127.0.0.1', allowHalfOpen: true });
    let probe: NodeJS.Timeout | undefined;
    let giveUp: NodeJS.Timeout | undefined;
    const gone = new Promise<string | undefined>((resolve) => {
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
      giveUp = setTimeout(() => resolve('still open after 20 s'), 20_000);
    });
    // the broker's FIN ends this side's reading; writing on shows when the broker's socket is closed (a reset answers)
    socket.on('end', () => { probe = setInterval(() => socket.write(Buffer.from([0])), 250); });
    const connack = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write(pk.connect({ version: 5, clientId: uniqueId() }));
    await connack;
    socket.write(Buffer.from('e000', 'hex'));
    try {
      const how = await gone;
      assert.ok(how === 'EPIPE' || how === 'ECONNRESET', `the broker closed its socket (${how})`);
      assert.notEqual(probe, undefined, 'the FIN came first');
    } finally {
      clearInterval(probe);
      clearTimeout(giveUp);
      socket.destroy();
    }
  });

  test('DISCONNECT e0 01 00 (reason 0, no Property Length) discards the will [MQTT-3.14.4-3]', async () => {
    const topic = `short/${uniqueId()}`;
    const inbox = await listen(topic);
    const { client } = await h.rawConnected(broker.port, { version: 5, will: { topic, payload: 'never', qos: 1 } });
    client.send('e0 01 00');
    await client.expectClosed();
    await inbox.expectNone(300, 0);
  });

  for (const length of [2, 3]) {
    const form = length === 2 ? 'remaining length 2 (no reason code: Success)' : 'remaining length 3 (reason code, no Property Length)';
    test(`PUBACK with ${form} completes a QoS 1 delivery`, async () => {
      const topic = `short/${uniqueId()}`;
      // Receive Maximum 1: the second message is sent only once the first is acknowledged
      const sub = await rawSubscriber(5, topic, 1, [{ id: pk.Prop.ReceiveMaximum, value: 1 }]);
      await publishAll(topic, ['one', 'two'], 1);
      const first = await sub.expect(PacketType.PUBLISH);
      await sub.expectNoPacket(200);
      sub.send(length === 2 ? pk.ack(PacketType.PUBACK, first.packetId!) : pk.ack(PacketType.PUBACK, first.packetId!, 0));
      assert.equal((await sub.expect(PacketType.PUBLISH)).payload!.toString(), 'two');
    });

    test(`PUBREC and PUBCOMP with ${form} complete a QoS 2 delivery`, async () => {
      const topic = `short/${uniqueId()}`;
      const sub = await rawSubscriber(5, topic, 2, [{ id: pk.Prop.ReceiveMaximum, value: 1 }]);
      await publishAll(topic, ['one', 'two'], 2);
      const first = await sub.expect(PacketType.PUBLISH);
      const id = first.packetId!;
      sub.send(length === 2 ? pk.ack(PacketType.PUBREC, id) : pk.ack(PacketType.PUBREC, id, 0));
      const pubrel = await sub.expect(PacketType.PUBREL);
      assert.equal(hex(pubrel.body), id.toString(16).padStart(4, '0'), 'PUBREL in the short form');
      sub.send(length === 2 ? pk.ack(PacketType.PUBCOMP, id) : pk.ack(PacketType.PUBCOMP, id, 0));
      assert.equal((await sub.expect(PacketType.PUBLISH)).payload!.toString(), 'two');
    });

    test(`PUBREL with ${form} releases a QoS 2 PUBLISH: PUBCOMP 70 02`, async () => {
      const topic = `short/${uniqueId()}`;
      const inbox = await listen(topic);
      const { client } = await h.rawConnected(broker.port, { version: 5 });
      client.send(pk.publish({ version: 5, topic, qos: 2, packetId: 9, payload: 'q2' }));
      assert.equal(hex((await client.expect(PacketType.PUBREC)).body), '0009');
      client.send(length === 2 ? pk.ack(PacketType.PUBREL, 9) : pk.ack(PacketType.PUBREL, 9, 0));
      const pubcomp = await client.expect(PacketType.PUBCOMP);
      assert.equal(hex(Buffer.concat([Buffer.from([0x70, pubcomp.body.length]), pubcomp.body])), '70020009');
      assert.equal((await inbox.next()).payload.toString(), 'q2');
    });
  }

  for (const bytes of ['f0 00', 'f0 01 00']) {
    test(`AUTH ${bytes} is decoded (then refused as a Protocol Error, no authentication method: 0x82, not 0x81)`, async () => {
      const { client } = await h.rawConnected(broker.port, { version: 5 });
      client.send(bytes);
      await expectViolation(client, 5, 0x82);
    });
  }
});

describe('an acknowledgement of the wrong type is a Protocol Error, as in Mosquitto 2.0.11 (db__message_delete_outgoing)', () => {
  const cases: Array<{ name: string; qos: 1 | 2; answer: (id: number) => Buffer }> = [
    { name: 'QoS 1 PUBLISH answered with PUBCOMP', qos: 1, answer: (id) => pk.ack(PacketType.PUBCOMP, id) },
    { name: 'QoS 1 PUBLISH answered with PUBREC', qos: 1, answer: (id) => pk.ack(PacketType.PUBREC, id) },
    { name: 'QoS 2 PUBLISH answered with PUBACK', qos: 2, answer: (id) => pk.ack(PacketType.PUBACK, id) },
    { name: 'QoS 2 PUBLISH answered with PUBCOMP before PUBREC', qos: 2, answer: (id) => pk.ack(PacketType.PUBCOMP, id) },
  ];
  for (const v of versions) {
    for (const c of cases) {
      test(`MQTT ${v === 5 ? '5.0' : '3.1.1'}: ${c.name}: ${v === 5 ? 'DISCONNECT 0x82, then ' : ''}closed`, async () => {
        const topic = `ack/${uniqueId()}`;
        const sub = await rawSubscriber(v, topic, c.qos);
        await publishAll(topic, ['m'], c.qos);
        const m = await sub.expect(PacketType.PUBLISH);
        sub.send(c.answer(m.packetId!));
        sub.send(pk.pingreq());
        await expectViolation(sub, v, 0x82);
      });
    }

    test(`MQTT ${v === 5 ? '5.0' : '3.1.1'}: PUBACK and PUBCOMP for an id not in flight are ignored, as in Mosquitto`, async () => {
      const { client } = await h.rawConnected(broker.port, { version: v });
      client.send(Buffer.concat([pk.ack(PacketType.PUBACK, 77), pk.ack(PacketType.PUBCOMP, 78), pk.pingreq()]));
      await client.expect(PacketType.PINGRESP);
    });
  }
});

describe('topic depth: at most 200 separators (201 levels), Mosquitto\'s TOPIC_HIERARCHY_LIMIT', () => {
  const deepest = 'd/'.repeat(200) + 'x';
  const tooDeep = 'd/'.repeat(201) + 'x';
  for (const v of versions) {
    const name = v === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1';
    test(`${name}: a PUBLISH topic of 201 levels is delivered; one of 202 levels is a Protocol Error${v === 5 ? ' (DISCONNECT 0x82)' : ''}`, async () => {
      const sub = await rawSubscriber(v, 'd/#', 0);
      const { client } = await h.rawConnected(broker.port, { version: v });
      client.send(pk.publish({ version: v, topic: deepest, payload: 'deep' }));
      const m = await sub.expect(PacketType.PUBLISH);
      assert.equal(m.topic, deepest);
      client.send(pk.publish({ version: v, topic: tooDeep, payload: 'too-deep' }));
      await expectViolation(client, v, 0x82);
      await sub.expectNoPacket(200);
      sub.destroy();
    });

    test(`${name}: a SUBSCRIBE filter of 201 levels is granted; 202 levels is a Malformed Packet${v === 5 ? ' (DISCONNECT 0x81)' : ''}`, async () => {
      const { client } = await h.rawConnected(broker.port, { version: v });
      client.send(pk.subscribe(1, [{ filter: '+/'.repeat(200) + '#', qos: 1 }], v));
      assert.deepEqual((await client.expect(PacketType.SUBACK)).reasonCodes, [1]);
      client.send(pk.subscribe(2, [{ filter: '+/'.repeat(201) + '#', qos: 1 }], v));
      await expectViolation(client, v, 0x81);
    });

    test(`${name}: an UNSUBSCRIBE filter of 202 levels is a Malformed Packet`, async () => {
      const { client } = await h.rawConnected(broker.port, { version: v });
      client.send(pk.unsubscribe(1, [tooDeep], v));
      await expectViolation(client, v, 0x81);
    });

    test(`${name}: a will topic of 202 levels: the CONNECT is closed without CONNACK, as Mosquitto does`, async () => {
      const client = await h.raw(broker.port, v);
      client.send(pk.connect({ version: v, clientId: uniqueId(), will: { topic: tooDeep, payload: 'w' } }));
      assert.deepEqual(await client.expectClosed(), []);
    });
  }
});

describe('CONNACK bytes', () => {
  test('MQTT 3.1 CONNACK is 20 02 00 00 even when a session is present (3.1 has no Session Present flag)', async () => {
    const clientId = uniqueId('v31');
    const { client: first } = await h.rawConnected(broker.port, { version: 3, clientId, clean: false });
    first.destroy();
    await first.closed;
    const { connack } = await h.rawConnected(broker.port, { version: 3, clientId, clean: false });
    assert.equal(hex(connack.body), '0000');
  });

  test('[MQTT-3.2.2-2] MQTT 3.1.1 CONNACK is 20 02 01 00 when a session is present', async () => {
    const clientId = uniqueId('v311');
    const { client: first } = await h.rawConnected(broker.port, { version: 4, clientId, clean: false });
    first.destroy();
    await first.closed;
    const { connack } = await h.rawConnected(broker.port, { version: 4, clientId, clean: false });
    assert.equal(hex(connack.body), '0100');
  });

  test('v5 CONNACK leaves out properties at their default value, as Mosquitto: 20 09 00 00 06 22 00 0a 21 00 14', async () => {
    const { connack } = await h.rawConnected(broker.port, { version: 5 });
    // Topic Alias Maximum 10, Receive Maximum 20: max_topic_alias and max_inflight_messages defaults
    assert.equal(hex(connack.body), '00000622000a210014');
  });

  test('v5 CONNACK says what differs from the defaults, in Mosquitto\'s order', async () => {
    const b = await h.broker({ retainAvailable: false, maxQos: 1, maxPacketSize: 1000, maxTopicAlias: 0, maxInflightMessages: 0 });
    const { connack } = await h.rawConnected(b.port, { version: 5 });
    // Retain Available 0, Maximum Packet Size 1000, Maximum QoS 1
    assert.equal(hex(connack.body), '0000' + '09' + '2500' + '27000003e8' + '2401');
  });

  test('v5 CONNACK for a zero-length client id: Assigned Client Identifier [MQTT-3.2.2-16]; Server Keep Alive after Topic Alias Maximum', async () => {
    const b = await h.broker({ maxKeepalive: 30 });
    const { connack } = await h.rawConnected(b.port, { version: 5, clientId: '', keepalive: 0 });
    const ids = connack.properties.map((p) => p.id);
    assert.deepEqual(ids, [pk.Prop.TopicAliasMaximum, pk.Prop.ServerKeepAlive, pk.Prop.AssignedClientIdentifier, pk.Prop.ReceiveMaximum]);
    assert.equal(pk.prop(connack, pk.Prop.ServerKeepAlive), 30);
  });
});

describe('a will larger than message_size_limit is refused, as Mosquitto 2.0.11 (handle_connect.c will__read)', () => {
  let small: TestBroker;
  before(async () => { small = await h.broker({ messageSizeLimit: 10 }); });

  test('MQTT 3.1.1: CONNACK 20 02 00 05 (not authorised), then close', async () => {
    const client = await h.raw(small.port, 4);
    client.send(pk.connect({ clientId: uniqueId(), will: { topic: 'w', payload: 'x'.repeat(11) } }));
    const got = await client.expectClosed();
    assert.equal(got.length, 1);
    assert.equal(hex(got[0]!.body), '0005');
  });

  test('MQTT 5.0: CONNACK 20 03 00 95 00 (Packet Too Large), then close', async () => {
    const client = await h.raw(small.port, 5);
    client.send(pk.connect({ version: 5, clientId: uniqueId(), will: { topic: 'w', payload: 'x'.repeat(11) } }));
    const [connack] = await client.expectClosed();
    assert.equal(hex(connack!.body), '009500');
  });

  test('a will of exactly message_size_limit bytes is accepted', async () => {
    await h.rawConnected(small.port, { version: 4, will: { topic: 'w', payload: 'x'.repeat(10) } });
  });
});

describe('a refused password is "not authorised", as Mosquitto 2.0.11 answers it', () => {
  let secured: TestBroker;
  before(async () => {
    secured = await h.broker({ allowAnonymous: false, passwordFile: writePasswordFile(tmp.dir, { alice: 's3cret' }) });
  });

  for (const [what, username, password] of [['a wrong password', 'alice', 'nope'], ['an unknown user', 'mallory', 'x']] as const) {
    test(`MQTT 3.1.1, ${what}: CONNACK 20 02 00 05`, async () => {
      const client = await h.raw(secured.port, 4);
      client.send(pk.connect({ clientId: uniqueId(), username, password }));
      const [connack] = await client.expectClosed();
      assert.equal(hex(connack!.body), '0005');
    });

    test(`MQTT 5.0, ${what}: CONNACK 0x87 without properties`, async () => {
      const client = await h.raw(secured.port, 5);
      client.send(pk.connect({ version: 5, clientId: uniqueId(), username, password }));
      const [connack] = await client.expectClosed();
      assert.equal(hex(connack!.body), '008700');
    });
  }
});

describe('a CONNECT that cannot be decoded is closed without CONNACK, as Mosquitto 2.0.11 does (spec 4.13.1 leaves the choice)', () => {
  const bad: Array<[string, pk.ConnectFields]> = [
    ['the reserved connect flag set [MQTT-3.1.2-3]', { version: 5, clientId: 'x', reservedFlag: true }],
    ['a property CONNECT may not carry', { version: 5, clientId: 'x', properties: [{ id: pk.Prop.TopicAlias, value: 1 }] }],
    ['a will topic with a wildcard', { version: 5, clientId: 'x', will: { topic: 'a/+', payload: 'w' } }],
  ];
  for (const [name, fields] of bad) {
    test(`MQTT 5.0 CONNECT with ${name}`, async () => {
      const client = await h.raw(broker.port, 5);
      client.send(pk.connect(fields));
      assert.deepEqual(await client.expectClosed(), []);
    });
  }

  test('[MQTT-3.1.2-2] an unsupported protocol level is still answered: CONNACK 20 02 00 01', async () => {
    const client = await h.raw(broker.port, 4);
    client.send(pk.connect({ clientId: 'x', level: 6 }));
    const [connack] = await client.expectClosed();
    assert.equal(hex(connack!.body), '0001');
  });
});

describe('the will of a connection taken over', () => {
  const cases: Array<[boolean, boolean, boolean]> = [
    // old clean, new clean, will published (Mosquitto handle_connect.c)
    [false, false, false],
    [true, false, true],
    [false, true, true],
  ];
  for (const [oldClean, newClean, published] of cases) {
    test(`MQTT 3.1.1, old ${oldClean ? 'clean' : 'persistent'}, new ${newClean ? 'clean' : 'persistent'}: the old will is ${published ? '' : 'not '}published, as in Mosquitto 2.0.11`, async () => {
      const topic = `takeover/${uniqueId()}`;
      const inbox = await listen(topic);
      const clientId = uniqueId('tk');
      const { client: old } = await h.rawConnected(broker.port, { version: 4, clientId, clean: oldClean, will: { topic, payload: 'old-gone', qos: 1 } });
      const { client: replacement } = await h.rawConnected(broker.port, { version: 4, clientId, clean: newClean });
      await old.expectClosed();
      if (published) assert.equal((await inbox.next()).payload.toString(), 'old-gone');
      else await inbox.expectNone(500, 0);
      // the new connection's own session goes on: nothing of the old will is held back for it
      replacement.destroy();
    });
  }

  test('[MQTT-3.1.4-3] MQTT 5.0, both with a session expiry and no Will Delay: the old will is published at takeover', async () => {
    const topic = `takeover/${uniqueId()}`;
    const inbox = await listen(topic);
    const clientId = uniqueId('tk5');
    const expiry = [{ id: pk.Prop.SessionExpiryInterval, value: 60 }];
    const { client: old } = await h.rawConnected(broker.port, { version: 5, clientId, clean: false, properties: expiry, will: { topic, payload: 'old5-gone', qos: 1 } });
    await h.rawConnected(broker.port, { version: 5, clientId, clean: false, properties: expiry });
    const got = await old.expectClosed();
    assert.equal(got.find((p) => p.type === PacketType.DISCONNECT)?.reasonCode, 0x8e);
    assert.equal((await inbox.next()).payload.toString(), 'old5-gone');
  });

  test('[MQTT-3.1.3-9] MQTT 5.0 with a Will Delay: a takeover resuming the session does not publish the will', async () => {
    const topic = `takeover/${uniqueId()}`;
    const inbox = await listen(topic);
    const clientId = uniqueId('tk5d');
    const expiry = [{ id: pk.Prop.SessionExpiryInterval, value: 60 }];
    const { client: old } = await h.rawConnected(broker.port, {
      version: 5, clientId, clean: false, properties: expiry,
      will: { topic, payload: 'delayed', qos: 1, properties: [{ id: pk.Prop.WillDelayInterval, value: 30 }] },
    });
    await h.rawConnected(broker.port, { version: 5, clientId, clean: false, properties: expiry });
    await old.expectClosed();
    await inbox.expectNone(500, 0);
  });
});

describe('MQTT 3.1 sets DUP on a re-sent PUBREL, SUBSCRIBE or UNSUBSCRIBE (Mosquitto 2.0.11 accepts it)', () => {
  test('PUBREL 6a 02 (DUP) completes the QoS 2 flow: PUBCOMP', async () => {
    const topic = `v31/${uniqueId()}`;
    const inbox = await listen(topic);
    const { client } = await h.rawConnected(broker.port, { version: 3 });
    client.send(pk.publish({ version: 3, topic, qos: 2, packetId: 5, payload: 'q2' }));
    await client.expect(PacketType.PUBREC);
    client.send('6a 02 00 05');
    assert.equal(hex((await client.expect(PacketType.PUBCOMP)).body), '0005');
    assert.equal((await inbox.next()).payload.toString(), 'q2');
  });

  test('SUBSCRIBE and UNSUBSCRIBE with DUP are answered', async () => {
    const { client } = await h.rawConnected(broker.port, { version: 3 });
    const subscribe = pk.subscribe(1, [{ filter: 'v31/a', qos: 1 }], 3);
    subscribe[0] = 0x8a;
    client.send(subscribe);
    assert.deepEqual((await client.expect(PacketType.SUBACK)).reasonCodes, [1]);
    const unsubscribe = pk.unsubscribe(2, ['v31/a'], 3);
    unsubscribe[0] = 0xaa;
    client.send(unsubscribe);
    await client.expect(PacketType.UNSUBACK);
  });

  test('[MQTT-2.2.2-2] 3.1.1 PUBREL with DUP is a Malformed Packet: closed', async () => {
    const { client } = await h.rawConnected(broker.port, { version: 4 });
    client.send('6a 02 00 05');
    await expectViolation(client, 4, 0x81);
  });
});

describe('SUBSCRIBE and UNSUBSCRIBE with packet id 0 [MQTT-2.3.1-1]: a Malformed Packet, as Mosquitto 2.0.11', () => {
  for (const v of versions) {
    test(`MQTT ${v === 5 ? '5.0: DISCONNECT 0x81, then' : '3.1.1:'} closed`, async () => {
      const { client } = await h.rawConnected(broker.port, { version: v });
      client.send(pk.subscribe(0, [{ filter: 'a', qos: 0 }], v));
      await expectViolation(client, v, 0x81);
      const { client: other } = await h.rawConnected(broker.port, { version: v });
      other.send(pk.unsubscribe(0, ['a'], v));
      await expectViolation(other, v, 0x81);
    });
  }
});

describe('reason strings: only on a CONNACK or DISCONNECT whose code says nothing (0x80, 0x83); acks never', () => {
  test('PUBACK for a PUBLISH nobody subscribes to is 40 03 00 01 10: a reason code, no properties', async () => {
    const { client } = await h.rawConnected(broker.port, { version: 5 });
    client.send(pk.publish({ version: 5, topic: `nobody/${uniqueId()}`, qos: 1, packetId: 1, payload: 'x' }));
    const puback = await client.expect(PacketType.PUBACK);
    assert.equal(hex(puback.body), '000110');
  });

  test('PUBREC for a QoS 2 PUBLISH nobody subscribes to is 50 02 00 01: no 0x10, as Mosquitto 2.0.11 (handle_publish.c)', async () => {
    const { client } = await h.rawConnected(broker.port, { version: 5 });
    client.send(pk.publish({ version: 5, topic: `nobody/${uniqueId()}`, qos: 2, packetId: 1, payload: 'x' }));
    const pubrec = await client.expect(PacketType.PUBREC);
    assert.equal(hex(pubrec.body), '0001');
  });

  test('a DISCONNECT for a protocol error is e0 01 RC: the code names the cause, as in Mosquitto 2.0.11', async () => {
    const { client } = await h.rawConnected(broker.port, { version: 5 });
    client.send(pk.subscribe(1, [{ filter: 'a', optionsByte: 0x30 }], 5)); // retain handling 3
    const [d] = await client.expectClosed();
    assert.equal(hex(d!.body), '82');
  });

  test('a DISCONNECT for a Malformed Packet is e0 01 81', async () => {
    const { client } = await h.rawConnected(broker.port, { version: 5 });
    client.send(pk.unsubscribe(1, [Buffer.from('c328', 'hex')], 5)); // not UTF-8 [MQTT-1.5.4-1]
    const [d] = await client.expectClosed();
    assert.equal(hex(d!.body), '81');
  });

  test('DISCONNECT 0x8E at takeover is the reason code alone (the code says it all)', async () => {
    const clientId = uniqueId('rs');
    const { client: old } = await h.rawConnected(broker.port, { version: 5, clientId });
    await h.rawConnected(broker.port, { version: 5, clientId });
    const [d] = await old.expectClosed();
    assert.equal(hex(d!.body), '8e');
  });
});

describe('kept where culex departs from Mosquitto 2.0.11 (README: differences from Mosquitto)', () => {
  test('[MQTT-3.1.3-9] a will with a Will Delay and Session Expiry 0 is published when the connection closes (the session ends then)', async () => {
    const topic = `kept/${uniqueId()}`;
    const inbox = await listen(topic);
    const { client } = await h.rawConnected(broker.port, {
      version: 5, will: { topic, payload: 'session-over', qos: 1, properties: [{ id: pk.Prop.WillDelayInterval, value: 3600 }] },
    });
    client.destroy();
    assert.equal((await inbox.next(5000)).payload.toString(), 'session-over');
  });

  test('[MQTT-3.1.2-25] Maximum Packet Size counts the whole packet: a 21-byte PUBLISH is not sent to a client whose maximum is 20', async () => {
    const topic = `m/${uniqueId().slice(-8).padStart(8, '0')}`; // 10 bytes: PUBLISH = 5 + 10 + payload
    const sub = await rawSubscriber(5, topic, 0, [{ id: pk.Prop.MaximumPacketSize, value: 20 }]);
    await publishAll(topic, ['123456', '12345'], 0);
    const m = await sub.expect(PacketType.PUBLISH);
    assert.equal(m.payload!.toString(), '12345', 'the 20-byte PUBLISH arrives, the 21-byte one before it does not');
    await sub.expectNoPacket(200);
  });
});

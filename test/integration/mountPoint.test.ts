/**
 * mount_point over real sockets: one plain listener and two tenant listeners (`tenant1/`,
 * `tenant2/`). What a tenant client names is prefixed on the way in and unprefixed on the way
 * out (mosquitto.conf(5); src/link/mountPoint.ts says where culex follows Mosquitto 2.0.12+
 * rather than 2.0.11's bugs). Checked by hand against mosquitto 2.0.11: a plain-listener `#`
 * subscriber sees `tenant1/a/b`, tenant2 sees nothing, a tenant client's `$SYS/...` publish is
 * routed as `tenant1/$SYS/...`.
 * culex-only: TestBroker starts Mosquitto with one listener.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, Inbox, publish, sleep, subscribe, uniqueId, type MqttClient } from '../helpers/clients.ts';
import { PacketType, pk, receivePublishes } from '../helpers/raw.ts';
import { culexOnly, tempDir, type TestBroker } from '../helpers/broker.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const h = new Harness();
const tmp = tempDir();
let broker: TestBroker;
/** ports of the tenant listeners */
let t1: number;
let t2: number;
const url = (port: number) => `mqtt://127.0.0.1:${port}`;

const listener = (mountPoint?: string) => ({
  port: 0, host: '127.0.0.1', protocol: 'mqtt' as const, maxConnections: -1, ...(mountPoint === undefined ? {} : { mountPoint }),
});

before(async () => {
  if (culexOnly !== false) return;
  broker = await h.broker({ listeners: [listener(), listener('tenant1/'), listener('tenant2/')] });
  t1 = broker.running!.ports[1]!;
  t2 = broker.running!.ports[2]!;
});
after(async () => {
  await h.teardown();
  tmp.cleanup();
});

/** A connected MQTT.js client subscribed to `filter`, with its inbox. */
async function subscriber(port: number | string, filter: string, opts: { version?: 4 | 5; qos?: 0 | 1 | 2 } = {}): Promise<{ client: MqttClient; inbox: Inbox }> {
  const client = await h.connect(typeof port === 'string' ? port : url(port), { protocolVersion: opts.version ?? 4 });
  const inbox = new Inbox(client);
  await subscribe(client, filter, { qos: opts.qos ?? 0 });
  return { client, inbox };
}

describe('mount_point', { skip: culexOnly }, () => {
  for (const version of [4, 5] as const) {
    test(`MQTT ${version === 5 ? '5.0' : '3.1.1'}: a tenant1 client's publish to a/b reaches a plain '#' subscriber as tenant1/a/b, a tenant1 '#' subscriber as a/b, and no tenant2 client`, async () => {
      const run = uniqueId('r');
      const plain = await subscriber(broker.url, `tenant1/${run}/#`, { version, qos: 1 });
      const plainAll = await subscriber(broker.url, '#', { version });
      const tenant1 = await subscriber(t1, '#', { version, qos: 1 });
      const tenant2 = await subscriber(t2, '#', { version, qos: 1 });
      const pub = await h.connect(url(t1), { protocolVersion: version });
      await publish(pub, `${run}/a/b`, 'q1', { qos: 1 });
      await publish(pub, `${run}/a/b`, 'q0', { qos: 0 });
      const got = await plain.inbox.waitFor(2);
      assert.deepEqual(got.map((m) => [m.topic, m.payload.toString()]), [[`tenant1/${run}/a/b`, 'q1'], [`tenant1/${run}/a/b`, 'q0']]);
      const mine = (await tenant1.inbox.waitFor(2)).map((m) => [m.topic, m.payload.toString(), m.packet.qos]);
      assert.deepEqual(mine, [[`${run}/a/b`, 'q1', 1], [`${run}/a/b`, 'q0', 0]]);
      await plainAll.inbox.waitFor(2);
      assert.ok(plainAll.inbox.messages.some((m) => m.topic === `tenant1/${run}/a/b`));
      await tenant2.inbox.expectNone(300, 0);
    });
  }

  test('a plain client publishing under tenant1/ reaches tenant1 clients without the prefix; anything else does not', async () => {
    const run = uniqueId('r');
    const tenant1 = await subscriber(t1, '#', { qos: 1 });
    const pub = await h.connect(broker.url);
    await publish(pub, `elsewhere/${run}`, 'no', { qos: 1 });
    await publish(pub, `tenant1/${run}/x`, 'yes', { qos: 1 });
    const got = await tenant1.inbox.waitFor(1);
    assert.deepEqual(got.map((m) => [m.topic, m.payload.toString()]), [[`${run}/x`, 'yes']]);
    await tenant1.inbox.expectNone(200, 1);
  });

  test("wildcard filters are mounted: a tenant1 '+/x' subscriber gets tenant1/<any>/x, not tenant2's", async () => {
    const run = uniqueId('r');
    const tenant1 = await subscriber(t1, `${run}/+/x`);
    const p2 = await h.connect(url(t2));
    const p1 = await h.connect(url(t1));
    await publish(p2, `${run}/a/x`, 'from-2', { qos: 1 });
    await publish(p1, `${run}/b/x`, 'from-1', { qos: 1 });
    const got = await tenant1.inbox.waitFor(1);
    assert.deepEqual(got.map((m) => [m.topic, m.payload.toString()]), [[`${run}/b/x`, 'from-1']]);
    await tenant1.inbox.expectNone(200, 1);
  });

  test('retained messages: stored under the prefix, sent to tenant1 subscribers without it, to plain ones with it, never to tenant2', async () => {
    const run = uniqueId('r');
    const pub = await h.connect(url(t1));
    await publish(pub, `${run}/r`, 'kept', { qos: 1, retain: true });
    const tenant1 = await subscriber(t1, `${run}/#`);
    const got = await tenant1.inbox.waitFor(1);
    assert.deepEqual([got[0]!.topic, got[0]!.payload.toString(), got[0]!.packet.retain], [`${run}/r`, 'kept', true]);
    const plain = await subscriber(broker.url, `tenant1/${run}/#`);
    assert.equal((await plain.inbox.waitFor(1))[0]!.topic, `tenant1/${run}/r`);
    const tenant2 = await subscriber(t2, '#');
    await tenant2.inbox.expectNone(300, 0);
    // a plain client clears it under the prefix
    await publish(await h.connect(broker.url), `tenant1/${run}/r`, '', { qos: 1, retain: true });
    const again = await subscriber(t1, `${run}/#`);
    await again.inbox.expectNone(300, 0);
  });

  test('the will topic is mounted: it reaches tenant1 subscribers as named and plain ones with the prefix, not tenant2', async () => {
    const run = uniqueId('r');
    const plain = await subscriber(broker.url, `tenant1/${run}/#`);
    const tenant1 = await subscriber(t1, `${run}/#`);
    const tenant2 = await subscriber(t2, '#');
    const dying = await h.connect(url(t1), { will: { topic: `${run}/gone`, payload: Buffer.from('bye'), qos: 1, retain: false } });
    dying.stream.destroy();
    assert.equal((await plain.inbox.waitFor(1))[0]!.topic, `tenant1/${run}/gone`);
    assert.equal((await tenant1.inbox.waitFor(1))[0]!.topic, `${run}/gone`);
    await tenant2.inbox.expectNone(200, 0);
  });

  test('UNSUBSCRIBE filters are mounted: the subscription ends (MQTT 5.0 UNSUBACK 0x00, not 0x11)', async () => {
    const run = uniqueId('r');
    const { client: r } = await h.rawConnected(t1, { version: 5 });
    r.send(pk.subscribe(1, [{ filter: `${run}/#`, qos: 0 }], 5));
    await r.expect(PacketType.SUBACK);
    r.send(pk.unsubscribe(2, [`${run}/#`], 5));
    assert.deepEqual((await r.expect(PacketType.UNSUBACK)).reasonCodes, [0x00]);
    await publish(await h.connect(url(t1)), `${run}/x`, 'after', { qos: 1 });
    await r.expectNoPacket(300);
  });

  test("shared subscriptions share within the tenant: '$share/g/s/#' on tenant1 is $share/g/tenant1/s/# ", async () => {
    const run = uniqueId('g');
    const tenant1 = await subscriber(t1, `$share/${run}/s/#`, { qos: 1 });
    const plainMember = await subscriber(broker.url, `$share/${run}/tenant1/s/#`, { qos: 1 });
    const tenant2 = await subscriber(t2, `$share/${run}/s/#`, { qos: 1 });
    const p1 = await h.connect(url(t1));
    for (let i = 0; i < 6; i++) await publish(p1, 's/x', String(i), { qos: 1 });
    const total = () => tenant1.inbox.messages.length + plainMember.inbox.messages.length;
    for (const deadline = Date.now() + 10_000; total() < 6 && Date.now() < deadline;) await sleep(20);
    await tenant2.inbox.expectNone(200, 0);
    assert.equal(total(), 6, 'each message to one member of the group');
    for (const m of tenant1.inbox.messages) assert.equal(m.topic, 's/x');
    for (const m of plainMember.inbox.messages) assert.equal(m.topic, 'tenant1/s/x');
  });

  test("$SYS: a tenant client's '$SYS/#' is tenant1/$SYS/#, so it never sees the broker's $SYS topics", async () => {
    const sys = await h.broker({ listeners: [listener(), listener('tenant1/')], sysInterval: 60 });
    const plain = await subscriber(sys.url, '$SYS/broker/version');
    const tenant1 = await subscriber(url(sys.running!.ports[1]!), '$SYS/#');
    assert.equal((await plain.inbox.waitFor(1))[0]!.topic, '$SYS/broker/version');
    await tenant1.inbox.expectNone(300, 0);
    // and its own publish to $SYS/… is tenant1/$SYS/… (allowed: it does not start with $), as Mosquitto 2.0.11
    const p = await h.connect(url(sys.running!.ports[1]!));
    await publish(p, '$SYS/mine', 'x', { qos: 1 });
    assert.equal((await tenant1.inbox.waitFor(1))[0]!.topic, '$SYS/mine');
  });

  test('MQTT 5.0 topic aliases on a mount_point listener map the topics the client sees, both directions', async () => {
    const run = uniqueId('r');
    const plain = await subscriber(broker.url, `tenant1/${run}/#`, { qos: 1 });
    const { client: sub } = await h.rawConnected(t1, { version: 5, properties: [{ id: pk.Prop.TopicAliasMaximum, value: 5 }] });
    sub.send(pk.subscribe(1, [{ filter: `${run}/#`, qos: 1 }], 5));
    await sub.expect(PacketType.SUBACK);
    const { client: pub } = await h.rawConnected(t1, { version: 5 });
    const alias = [{ id: pk.Prop.TopicAlias, value: 1 }];
    pub.send(pk.publish({ version: 5, topic: `${run}/al`, qos: 1, packetId: 1, payload: 'set', properties: alias }));
    pub.send(pk.publish({ version: 5, topic: '', qos: 1, packetId: 2, payload: 'use', properties: alias }));
    assert.equal((await pub.expect(PacketType.PUBACK)).reasonCode, 0);
    assert.equal((await pub.expect(PacketType.PUBACK)).reasonCode, 0);
    // inbound: both routed under the prefix
    assert.deepEqual((await plain.inbox.waitFor(2)).map((m) => [m.topic, m.payload.toString()]), [[`tenant1/${run}/al`, 'set'], [`tenant1/${run}/al`, 'use']]);
    // outbound: the alias is set with the unprefixed topic, then used with an empty one
    const got = await receivePublishes(sub, 2);
    assert.deepEqual(got.map((p) => [p.topic, pk.prop(p, pk.Prop.TopicAlias), p.payload!.toString()]), [[`${run}/al`, 1, 'set'], ['', 1, 'use']]);
  });

  test('an acl_file judges the mounted topic (Mosquitto checks after mounting)', async () => {
    const acl = join(tmp.dir, 'mount.acl');
    writeFileSync(acl, 'topic readwrite tenant1/ok/#\n');
    const b = await h.broker({ listeners: [listener(), listener('tenant1/')], aclFile: acl });
    const tenantUrl = url(b.running!.ports[1]!);
    const tenant1 = await subscriber(tenantUrl, '#', { qos: 1 });
    const { client: r } = await h.rawConnected(b.running!.ports[1]!, { version: 5 });
    r.send(pk.publish({ version: 5, topic: 'no/1', qos: 1, packetId: 1, payload: 'x' }));
    assert.equal((await r.expect(PacketType.PUBACK)).reasonCode, 0x87);
    r.send(pk.publish({ version: 5, topic: 'ok/1', qos: 1, packetId: 2, payload: 'y' }));
    assert.ok([0x00, 0x10].includes((await r.expect(PacketType.PUBACK)).reasonCode!));
    assert.deepEqual((await tenant1.inbox.waitFor(1)).map((m) => m.topic), ['ok/1']);
    await tenant1.inbox.expectNone(200, 1);
  });
});

/**
 * per_listener_settings true over real sockets, from a mosquitto.conf text: listener A has a
 * password file and refuses anonymous clients; listener B lets anonymous clients in and has
 * its own acl_file; each has its own client-id rules. Checked by hand against mosquitto 2.0.11
 * with the same configuration (see the report of the commit that added this file): logins and
 * ACL verdicts per listener as asserted here.
 * culex-only: TestBroker starts Mosquitto with one listener.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, Inbox, publish, sleep, subscribe, uniqueId } from '../helpers/clients.ts';
import { PacketType, pk, receivePublishes } from '../helpers/raw.ts';
import { culexOnly, spreadWorkers, tempDir, writePasswordFile, type TestBroker } from '../helpers/broker.ts';
import { parseConfig } from '../../src/config/load.ts';

const h = new Harness();
const tmp = tempDir();
let broker: TestBroker;
let portA: number;
let portB: number;

before(async () => {
  if (culexOnly !== false) return;
  const passwd = writePasswordFile(tmp.dir, { alice: 's3cret' });
  const acl = join(tmp.dir, 'b.acl');
  writeFileSync(acl, ['topic readwrite b/#', 'user alice', 'topic readwrite alice/#', ''].join('\n'));
  const { config } = parseConfig([
    'per_listener_settings true',
    'listener 0 127.0.0.1',
    `password_file ${passwd}`,
    'allow_anonymous false',
    'auto_id_prefix a-',
    'listener 0 127.0.0.1',
    'allow_anonymous true',
    `acl_file ${acl}`,
    'allow_zero_length_clientid false',
  ].join('\n'), 'per-listener.conf');
  broker = await h.broker({ listeners: config.listeners, perListenerSettings: config.perListenerSettings, allowAnonymous: config.allowAnonymous });
  portA = broker.running!.ports[0]!;
  portB = broker.running!.ports[1]!;
});
after(async () => {
  await h.teardown();
  tmp.cleanup();
});

const url = (port: number) => `mqtt://127.0.0.1:${port}`;

/** Sends CONNECT and returns the CONNACK code (and the assigned client id, v5). */
async function connack(port: number, f: pk.ConnectFields): Promise<{ code: number; assigned?: string }> {
  const r = await h.raw(port, f.version ?? 4);
  r.send(pk.connect({ clientId: uniqueId(), ...f }));
  const p = await r.expect(PacketType.CONNACK);
  if (p.reasonCode !== 0) await r.expectClosed();
  else await r.end();
  const assigned = pk.prop(p, pk.Prop.AssignedClientIdentifier);
  return { code: p.reasonCode!, ...(typeof assigned === 'string' ? { assigned } : {}) };
}

describe('per_listener_settings true: authentication per listener', { skip: culexOnly }, () => {
  test('listener A (password_file, allow_anonymous false): anonymous refused, right password in, wrong password refused', async () => {
    assert.equal((await connack(portA, { version: 4 })).code, 0x05);
    assert.equal((await connack(portA, { version: 5 })).code, 0x87);
    assert.equal((await connack(portA, { version: 4, username: 'alice', password: 's3cret' })).code, 0x00);
    assert.equal((await connack(portA, { version: 5, username: 'alice', password: 'nope' })).code, 0x87);
  });

  test('listener B (allow_anonymous true, no password_file): anonymous clients and any user name are let in', async () => {
    assert.equal((await connack(portB, { version: 4 })).code, 0x00);
    assert.equal((await connack(portB, { version: 5, username: 'alice', password: 'anything' })).code, 0x00);
  });

  test("client ids: A's auto_id_prefix a-; B's allow_zero_length_clientid false refuses an empty id", async () => {
    const a = await connack(portA, { version: 5, clientId: '', username: 'alice', password: 's3cret' });
    assert.equal(a.code, 0);
    assert.match(a.assigned ?? '', /^a-/);
    assert.equal((await connack(portB, { version: 4, clientId: '' })).code, 0x02);
    // Mosquitto 2.0.11 answers 0x80 (unspecified), culex 0x85 (client identifier not valid)
    assert.ok([0x80, 0x85].includes((await connack(portB, { version: 5, clientId: '' })).code));
  });
});

describe("per_listener_settings true: each listener's ACL", { skip: culexOnly }, () => {
  test("B's acl_file judges B's clients' publishes; A has no acl_file and allows them", async () => {
    const { client: b } = await h.rawConnected(portB, { version: 5 });
    b.send(pk.publish({ version: 5, topic: 'x/1', qos: 1, packetId: 1, payload: 'x' }));
    assert.equal((await b.expect(PacketType.PUBACK)).reasonCode, 0x87);
    b.send(pk.publish({ version: 5, topic: 'b/1', qos: 1, packetId: 2, payload: 'x' }));
    assert.ok([0x00, 0x10].includes((await b.expect(PacketType.PUBACK)).reasonCode!));
    const { client: a } = await h.rawConnected(portA, { version: 5, username: 'alice', password: 's3cret' });
    a.send(pk.publish({ version: 5, topic: 'x/1', qos: 1, packetId: 1, payload: 'x' }));
    assert.ok([0x00, 0x10].includes((await a.expect(PacketType.PUBACK)).reasonCode!));
  });

  test('a user name on B is judged by its `user` rules in B\'s acl_file', async () => {
    const { client: b } = await h.rawConnected(portB, { version: 5, username: 'alice' });
    b.send(pk.publish({ version: 5, topic: 'alice/1', qos: 1, packetId: 1, payload: 'x' }));
    assert.ok([0x00, 0x10].includes((await b.expect(PacketType.PUBACK)).reasonCode!));
    b.send(pk.publish({ version: 5, topic: 'b/1', qos: 1, packetId: 2, payload: 'x' }));
    assert.equal((await b.expect(PacketType.PUBACK)).reasonCode, 0x87);
  });

  test("deliveries: a '#' subscriber on B gets only what B's ACL lets it read; one on A gets everything", async () => {
    const run = uniqueId('r');
    const onB = await h.connect(url(portB));
    const inboxB = new Inbox(onB);
    await subscribe(onB, '#', { qos: 1 });
    const onA = await h.connect(url(portA), { username: 'alice', password: 's3cret' });
    const inboxA = new Inbox(onA);
    await subscribe(onA, `+/${run}`, { qos: 1 });
    await publish(onA, `x/${run}`, 'hidden', { qos: 1 });
    await publish(onA, `b/${run}`, 'shown', { qos: 1 });
    assert.deepEqual((await inboxA.waitFor(2)).map((m) => m.topic).sort(), [`b/${run}`, `x/${run}`]);
    await inboxB.waitFor(1);
    await inboxB.expectNone(200);
    assert.deepEqual(inboxB.messages.filter((m) => m.topic.endsWith(run)).map((m) => m.topic), [`b/${run}`]);
  });

  test("an offline persistent session is judged by the ACL of the listener it last came in through (mosquitto.conf(5))", async () => {
    const run = uniqueId('r');
    const clientId = uniqueId('durable');
    const first = await h.rawConnected(portB, { version: 4, clientId, clean: false });
    first.client.send(pk.subscribe(1, [{ filter: `+/${run}`, qos: 1 }], 4));
    await first.client.expect(PacketType.SUBACK);
    first.client.send(pk.disconnect());
    await first.client.closed;
    const a = await h.connect(url(portA), { username: 'alice', password: 's3cret' });
    await publish(a, `x/${run}`, 'hidden', { qos: 1 });
    await publish(a, `b/${run}`, 'queued', { qos: 1 });
    await sleep(spreadWorkers > 1 ? 100 : 20);
    const again = await h.rawConnected(portB, { version: 4, clientId, clean: false });
    assert.equal(again.connack.sessionPresent, true);
    const got = await receivePublishes(again.client, 1);
    assert.deepEqual(got.map((p) => [p.topic, p.payload!.toString()]), [[`b/${run}`, 'queued']]);
    await again.client.expectNoPacket(200);
  });
});

/**
 * Authentication over real sockets: Mosquitto password files and allow_anonymous false. Every refusal
 * is "not authorised" (3.1.1 0x05, 5.0 0x87), as Mosquitto 2.0.11 answers a bad password too.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket } from 'mqtt';
import { Harness, Inbox, once, subscribe, uniqueId } from '../helpers/clients.ts';
import { PacketType, pk } from '../helpers/raw.ts';
import { tempDir, writePasswordFile, type TestBroker } from '../helpers/broker.ts';

const h = new Harness();
const tmp = tempDir();
let secured: TestBroker;

before(async () => {
  const passwordFile = writePasswordFile(tmp.dir, { alice: 's3cret', bob: 'hunter2', blank: '' });
  secured = await h.broker({ allowAnonymous: false, passwordFile });
});
after(async () => {
  await h.teardown();
  tmp.cleanup();
});

/** Sends CONNECT and returns the CONNACK reason code; the connection must close when refused. */
async function connackCode(port: number, f: pk.ConnectFields): Promise<number> {
  const r = await h.raw(port, f.version ?? 4);
  r.send(pk.connect({ clientId: uniqueId(), ...f }));
  const connack = await r.expect(PacketType.CONNACK);
  if (connack.reasonCode !== 0) await r.expectClosed();
  else await r.end();
  return connack.reasonCode!;
}

describe('password_file with allow_anonymous false', () => {
  test('MQTT 3.1.1: right user name and password → CONNACK 0x00', async () => {
    assert.equal(await connackCode(secured.port, { version: 4, username: 'alice', password: 's3cret' }), 0x00);
  });

  test('MQTT 5.0: right user name and password → CONNACK 0x00', async () => {
    assert.equal(await connackCode(secured.port, { version: 5, username: 'bob', password: 'hunter2' }), 0x00);
  });

  test('[MQTT-3.2.2-5] [MQTT-3.2.2-6] MQTT 3.1.1: wrong password → CONNACK 0x05 (not authorised, as Mosquitto 2.0.11) and close', async () => {
    assert.equal(await connackCode(secured.port, { version: 4, username: 'alice', password: 'wrong' }), 0x05);
  });

  test('[MQTT-3.2.2-5] MQTT 3.1.1: unknown user → CONNACK 0x05 (as Mosquitto 2.0.11) and close', async () => {
    assert.equal(await connackCode(secured.port, { version: 4, username: 'mallory', password: 's3cret' }), 0x05);
  });

  test('a zero-length password is no password, as Mosquitto reads it: refused even where the file holds the hash of an empty one (its 09-pwfile-parse-invalid.py)', async () => {
    assert.equal(await connackCode(secured.port, { version: 4, username: 'blank', password: '' }), 0x05);
    assert.equal(await connackCode(secured.port, { version: 5, username: 'blank', password: '' }), 0x87);
    assert.equal(await connackCode(secured.port, { version: 4, username: 'blank' }), 0x05);
  });

  test('[MQTT-3.2.2-5] MQTT 3.1.1: no credentials → CONNACK 0x05 (not authorized) and close', async () => {
    assert.equal(await connackCode(secured.port, { version: 4 }), 0x05);
  });

  test('[MQTT-3.2.2-5] MQTT 5.0: wrong password → CONNACK 0x87 (not authorized, as Mosquitto 2.0.11) and close', async () => {
    assert.equal(await connackCode(secured.port, { version: 5, username: 'alice', password: 'nope' }), 0x87);
  });

  test('[MQTT-3.2.2-5] MQTT 5.0: no credentials → CONNACK 0x87 (not authorized) and close', async () => {
    assert.equal(await connackCode(secured.port, { version: 5 }), 0x87);
  });

  test('MQTT 3.1: wrong password → CONNACK 0x04 or 0x05', async () => {
    const code = await connackCode(secured.port, { version: 3, username: 'alice', password: 'x' });
    assert.ok(code === 0x04 || code === 0x05, `got 0x${code.toString(16)}`);
  });

  test('a refused client leaves no trace: its will is not published', async () => {
    const topic = `auth/${uniqueId()}`;
    const sub = await h.connect(secured.url, { protocolVersion: 4, username: 'alice', password: 's3cret' });
    const inbox = new Inbox(sub);
    await subscribe(sub, topic, { qos: 1 });
    const r = await h.raw(secured.port, 4);
    r.send(pk.connect({ clientId: uniqueId(), username: 'bob', password: 'bad', will: { topic, payload: 'should-not-appear' } }));
    await r.expect(PacketType.CONNACK);
    await r.expectClosed();
    await inbox.expectNone(300, 0);
  });

  test('authenticated MQTT.js clients publish and subscribe', async () => {
    const topic = `auth/${uniqueId()}`;
    const a = await h.connect(secured.url, { protocolVersion: 5, username: 'alice', password: 's3cret' });
    const inbox = new Inbox(a);
    await subscribe(a, topic, { qos: 1 });
    const b = await h.connect(secured.url, { protocolVersion: 4, username: 'bob', password: 'hunter2' });
    await b.publishAsync(topic, 'authed', { qos: 1 });
    assert.equal((await inbox.waitFor(1))[0]!.payload.toString(), 'authed');
  });

  test('MQTT.js reports a refused CONNECT as an error with the CONNACK code', async () => {
    await assert.rejects(h.connect(secured.url, { protocolVersion: 5, username: 'alice', password: 'bad' }),
      (e: Error & { code?: number }) => e.code === 0x87);
  });
});

describe('a client id belongs to its user (Mosquitto 2.0: a session is not handed to another user)', () => {
  for (const version of [4, 5] as const) {
    test(`v${version}: bob connecting with alice's client id gets no session and none of her queued messages`, async () => {
      const id = uniqueId('shared-id');
      const topic = `alice/${uniqueId()}`;
      const persistent = version === 5 ? { clean: false, properties: { sessionExpiryInterval: 300 } } : { clean: false };
      const alice = await h.connect(secured.url, { protocolVersion: version, clientId: id, username: 'alice', password: 's3cret', ...persistent });
      await subscribe(alice, 'alice/#', { qos: 1 });
      await new Promise<void>((resolve) => alice.end(false, {}, () => resolve()));
      const pub = await h.connect(secured.url, { protocolVersion: 4, username: 'alice', password: 's3cret' });
      await pub.publishAsync(topic, 'for alice only', { qos: 1 });

      const bob = h.client(secured.url, { protocolVersion: version, clientId: id, username: 'bob', password: 'hunter2', ...persistent });
      const inbox = new Inbox(bob);
      const connack = await once<IConnackPacket>(bob, 'connect');
      assert.equal(connack.sessionPresent, false, "bob must not resume alice's session");
      await inbox.expectNone(500, 0);
      // and alice's subscription went with her session: bob's new session has none
      await pub.publishAsync(topic, 'after the takeover', { qos: 1 });
      await inbox.expectNone(300, 0);
    });
  }

  test('the same user resuming the session still gets the queued message', async () => {
    const id = uniqueId('own-id');
    const topic = `alice/${uniqueId()}`;
    const alice = await h.connect(secured.url, { protocolVersion: 4, clientId: id, username: 'alice', password: 's3cret', clean: false });
    await subscribe(alice, 'alice/#', { qos: 1 });
    await new Promise<void>((resolve) => alice.end(false, {}, () => resolve()));
    const pub = await h.connect(secured.url, { protocolVersion: 4, username: 'bob', password: 'hunter2' });
    await pub.publishAsync(topic, 'queued', { qos: 1 });
    // the inbox listens before CONNACK: the queued message may come in the same read
    const again = h.client(secured.url, { protocolVersion: 4, clientId: id, username: 'alice', password: 's3cret', clean: false });
    const inbox = new Inbox(again);
    const connack = await once<IConnackPacket>(again, 'connect');
    assert.equal(connack.sessionPresent, true);
    assert.equal((await inbox.waitFor(1))[0]!.payload.toString(), 'queued');
  });
});

describe('allow_anonymous false without a password file', () => {
  test('every client is refused (3.1.1 0x05, 5.0 0x87)', async () => {
    const b = await h.broker({ allowAnonymous: false });
    assert.equal(await connackCode(b.port, { version: 4 }), 0x05);
    assert.equal(await connackCode(b.port, { version: 5 }), 0x87);
  });
});

describe('password_file with allow_anonymous true', () => {
  test('anonymous clients are accepted; named clients must still give the right password', async () => {
    const b = await h.broker({ allowAnonymous: true, passwordFile: writePasswordFile(tmp.dir, { carol: 'pw' }, 'passwd-carol') });
    assert.equal(await connackCode(b.port, { version: 4 }), 0);
    assert.equal(await connackCode(b.port, { version: 4, username: 'carol', password: 'pw' }), 0);
    assert.equal(await connackCode(b.port, { version: 5, username: 'carol', password: 'bad' }), 0x87);
  });

  test('a zero-length username is an anonymous client, as Mosquitto reads it: let in here, refused where allow_anonymous is false', async () => {
    const b = await h.broker({ allowAnonymous: true, passwordFile: writePasswordFile(tmp.dir, { carol: 'pw' }, 'passwd-carol-2') });
    assert.equal(await connackCode(b.port, { version: 4, username: '' }), 0);
    assert.equal(await connackCode(b.port, { version: 5, username: '', password: 'anything' }), 0);
    assert.equal(await connackCode(secured.port, { version: 4, username: '' }), 0x05);
  });
});

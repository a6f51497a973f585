/**
 * Dynamic security over real sockets, driven by JSON requests on `$CONTROL/dynamic-security/v1`
 * (test/system/dynsec.test.ts drives it with mosquitto_ctrl): UNSUBSCRIBE refusals, the
 * anonymous group with allow_anonymous, a client bound to a client id, `%c` ACLs, who receives
 * the responses, and `$CONTROL` publishes never being routed (also without the plugin), as in
 * Mosquitto 2.0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Harness, Inbox, once, pubackCode, uniqueId, type MqttClient } from '../helpers/clients.ts';
import { culexOnly, tempDir, type TestBroker } from '../helpers/broker.ts';

const INIT = fileURLToPath(new URL('../fixtures/dynsec/init.json', import.meta.url));
const REQUEST = '$CONTROL/dynamic-security/v1';
const RESPONSE = '$CONTROL/dynamic-security/v1/response';

describe('dynamic security', { skip: culexOnly }, () => {
  const h = new Harness();
  const tmp = tempDir('culex-dynsec-int-');
  let broker: TestBroker;
  let admin: MqttClient;
  let responses: Inbox;

  /** Sends one request as the admin and returns its responses. */
  async function request(...commands: Record<string, unknown>[]): Promise<{ command: string; error?: string }[]> {
    const seen = responses.messages.length;
    await admin.publishAsync(REQUEST, JSON.stringify({ commands }), { qos: 1 });
    const all = await responses.waitFor(seen + 1);
    return (JSON.parse(all[seen]!.payload.toString()) as { responses: { command: string; error?: string }[] }).responses;
  }

  before(async () => {
    const file = join(tmp.dir, 'dynsec.json');
    copyFileSync(INIT, file);
    broker = await h.broker({ allowAnonymous: true, dynamicSecurity: { configFile: file } });
    admin = await h.connect(broker.url, { protocolVersion: 5, username: 'admin', password: 'secret' });
    responses = new Inbox(admin);
    await admin.subscribeAsync(RESPONSE, { qos: 1 });
    const answers = await request(
      { command: 'createRole', rolename: 'dev', acls: [
        { acltype: 'publishClientSend', topic: 'devices/%c/#', allow: true },
        { acltype: 'subscribePattern', topic: 'devices/#', allow: true },
        { acltype: 'unsubscribeLiteral', topic: 'devices/pinned', allow: false },
      ] },
      { command: 'createClient', username: 'dev', password: 'pw', clientid: 'dev-1', roles: [{ rolename: 'dev' }] },
      { command: 'createRole', rolename: 'public', acls: [
        { acltype: 'publishClientSend', topic: 'public/#', allow: true },
        { acltype: 'publishClientSend', topic: 'devices/+', allow: true },
      ] },
      { command: 'createRole', rolename: 'snooper', acls: [{ acltype: 'subscribePattern', topic: '$CONTROL/#', allow: true }] },
      { command: 'createClient', username: 'snoop', password: 'pw', roles: [{ rolename: 'snooper' }] },
      { command: 'createGroup', groupname: 'anonymous', roles: [{ rolename: 'public' }] },
      { command: 'setAnonymousGroup', groupname: 'anonymous' },
    );
    assert.deepEqual(answers.map((a) => a.error), Array(7).fill(undefined));
  });
  after(async () => {
    await h.teardown();
    tmp.cleanup();
  });

  test('messages queued for an offline client pass its ACL again when it comes back: a receive right taken away meanwhile drops them', async () => {
    const answers = await request(
      { command: 'createRole', rolename: 'feed-reader', acls: [
        { acltype: 'subscribePattern', topic: 'feed/#', allow: true },
        { acltype: 'publishClientReceive', topic: 'feed/#', allow: true },
      ] },
      { command: 'createClient', username: 'reader', password: 'pw', roles: [{ rolename: 'feed-reader' }] },
      { command: 'createRole', rolename: 'feed-writer', acls: [{ acltype: 'publishClientSend', topic: 'feed/#', allow: true }] },
      { command: 'createClient', username: 'writer', password: 'pw', roles: [{ rolename: 'feed-writer' }] },
    );
    assert.deepEqual(answers.map((a) => a.error), Array(4).fill(undefined));
    const id = uniqueId('reader');
    const session = { protocolVersion: 5 as const, username: 'reader', password: 'pw', clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } };
    const reader = await h.connect(broker.url, session);
    await reader.subscribeAsync('feed/#', { qos: 1 });
    await reader.endAsync();
    const writer = await h.connect(broker.url, { protocolVersion: 5, username: 'writer', password: 'pw' });
    assert.equal(await pubackCode(writer, 'feed/a'), 0);
    // the right to receive goes while the message waits
    const changed = await request(
      { command: 'removeRoleACL', rolename: 'feed-reader', acltype: 'publishClientReceive', topic: 'feed/#' },
      { command: 'addRoleACL', rolename: 'feed-reader', acltype: 'publishClientReceive', topic: 'feed/#', allow: false },
    );
    assert.deepEqual(changed.map((a) => a.error), [undefined, undefined]);
    const back = h.client(broker.url, session);
    const inbox = new Inbox(back);
    await once(back, 'connect');
    await inbox.expectNone(500, 0);
  });

  test('a client bound to a client id logs in only with it (CONNACK 0x87 otherwise)', async () => {
    const ok = await h.connect(broker.url, { protocolVersion: 5, username: 'dev', password: 'pw', clientId: 'dev-1' });
    ok.end(true);
    await assert.rejects(h.connect(broker.url, { protocolVersion: 5, username: 'dev', password: 'pw', clientId: 'dev-2' }), (e: { code?: number }) => e.code === 0x87);
  });

  test('%c in a publish ACL: a client may publish under its own client id only', async () => {
    const c = await h.connect(broker.url, { protocolVersion: 5, username: 'dev', password: 'pw', clientId: 'dev-1' });
    assert.equal(await pubackCode(c, 'devices/dev-1/temp'), 0);
    assert.equal(await pubackCode(c, 'devices/dev-2/temp'), 0x87);
    c.end(true);
  });

  test('UNSUBSCRIBE refused by unsubscribeLiteral: v5 UNSUBACK 0x87 and the subscription stays', async () => {
    const c = await h.connect(broker.url, { protocolVersion: 5, username: 'dev', password: 'pw', clientId: 'dev-1' });
    const inbox = new Inbox(c);
    await c.subscribeAsync(['devices/pinned', 'devices/loose'], { qos: 1 });
    const pinned = await c.unsubscribeAsync('devices/pinned');
    assert.deepEqual((pinned as { granted?: number[] } | undefined)?.granted, [0x87]);
    const loose = await c.unsubscribeAsync('devices/loose');
    assert.deepEqual((loose as { granted?: number[] } | undefined)?.granted, [0x00]);
    const anon = await h.connect(broker.url, { protocolVersion: 5 });
    await anon.publishAsync('devices/loose', 'gone', { qos: 1 });
    await anon.publishAsync('devices/pinned', 'kept', { qos: 1 });
    const [m] = await inbox.waitFor(1);
    assert.equal(m!.topic, 'devices/pinned');
    await inbox.expectNone(200);
    anon.end(true);
    c.end(true);
  });

  test('a shared subscription is judged by its whole filter, $share/group/ included (as Mosquitto passes it)', async () => {
    const c = await h.connect(broker.url, { protocolVersion: 5, username: 'dev', password: 'pw', clientId: 'dev-1' });
    const inbox = new Inbox(c);
    // devices/# does not cover $share/g/devices/x: only delivery tells, whatever the SUBACK says
    await new Promise<void>((resolve) => c.subscribe('$share/g/devices/shared', { qos: 1 }, () => resolve()));
    const anon = await h.connect(broker.url, { protocolVersion: 5 });
    await anon.publishAsync('devices/shared', 'x', { qos: 1 });
    await inbox.expectNone(300, 0);
    anon.end(true);
    c.end(true);
  });

  test('anonymous clients get the anonymous group\'s roles (allow_anonymous true)', async () => {
    const c = await h.connect(broker.url, { protocolVersion: 5, clientId: uniqueId('anon') });
    assert.equal(await pubackCode(c, 'public/x'), 0);
    assert.equal(await pubackCode(c, 'private/x'), 0x87);
    c.end(true);
  });

  test('an unknown user name is refused even with allow_anonymous true (the plugin is loaded): 0x87, as Mosquitto 2.0.11', async () => {
    await assert.rejects(h.connect(broker.url, { protocolVersion: 5, username: 'nobody', password: 'x' }), (e: { code?: number }) => e.code === 0x87);
  });

  test('responses reach only subscribers allowed to read them; a request publish is never routed', async () => {
    // allowed to subscribe to $CONTROL/#, not to read it: the default access never opens $CONTROL
    const snoop = await h.connect(broker.url, { protocolVersion: 5, username: 'snoop', password: 'pw' });
    const seen = new Inbox(snoop);
    assert.deepEqual((await snoop.subscribeAsync('$CONTROL/#', { qos: 0 })).map((g) => g.qos), [0]);
    const adminSnoop = await h.connect(broker.url, { protocolVersion: 5, username: 'admin', password: 'secret' });
    const adminSeen = new Inbox(adminSnoop);
    await adminSnoop.subscribeAsync('$CONTROL/dynamic-security/#', { qos: 0 });
    await request({ command: 'listRoles' });
    const got = await adminSeen.waitFor(1);
    assert.deepEqual(got.map((m) => m.topic), [RESPONSE], 'the admin sees the response, not the request');
    await adminSeen.expectNone(200);
    await seen.expectNone(0);
    snoop.end(true);
    adminSnoop.end(true);
  });
});

describe('$CONTROL without the plugin', { skip: culexOnly }, () => {
  const h = new Harness();
  after(() => h.teardown());

  test('a PUBLISH to $CONTROL/… is acknowledged but never routed (Mosquitto handles $CONTROL itself)', async () => {
    const broker = await h.broker();
    const sub = await h.connect(broker.url, { protocolVersion: 5 });
    const inbox = new Inbox(sub);
    await sub.subscribeAsync('$CONTROL/#', { qos: 1 });
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    await pub.publishAsync('$CONTROL/dynamic-security/v1', '{"commands":[]}', { qos: 1 });
    await pub.publishAsync('$CONTROL/other/v1', 'x', { qos: 2, retain: true });
    await inbox.expectNone(300);
    const late = await h.connect(broker.url, { protocolVersion: 5 });
    const lateInbox = new Inbox(late);
    await late.subscribeAsync('$CONTROL/#', { qos: 1 });
    await lateInbox.expectNone(200, 0);
  });
});

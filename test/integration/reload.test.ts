/**
 * RunningBroker.reload() (what SIGHUP runs) with clients placed on every worker: Mosquitto's
 * mosquitto_security_apply re-checks every connected client, and each worker of culex holds
 * its own share of them; the reloaded ACL decides deliveries made by the receiving worker.
 * test/system/reload.test.ts covers the same through the culex process and SIGHUP.
 * culex-only: reload() is culex's API.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IDisconnectPacket } from 'mqtt';
import { Harness, Inbox, once, pubackCode, uniqueId, type MqttClient } from '../helpers/clients.ts';
import { culexOnly, spreadWorkers, tempDir, testConfig, writePasswordFile, type TestBroker } from '../helpers/broker.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { BrokerConfig } from '../../src/config/types.ts';

const workers = Math.max(2, spreadWorkers);

describe(`RunningBroker.reload with clients on each of ${workers} workers`, { skip: culexOnly }, () => {
  const h = new Harness();
  const tmp = tempDir('culex-reload-');
  const acl = join(tmp.dir, 'acl');
  let passwd: string;
  let broker: TestBroker;
  /** what the next reload reads */
  let next: () => { config: BrokerConfig } = () => ({ config: base() });
  const base = (overrides: Partial<BrokerConfig> = {}): BrokerConfig =>
    testConfig({ workers, allowAnonymous: false, passwordFile: passwd, aclFile: acl, ...overrides });
  const workerUrl = (i: number) => `mqtt://127.0.0.1:${broker.running!.workerPorts[i % workers]!}`;
  const connectOn = (i: number, username: string, password: string): Promise<MqttClient> =>
    h.connect(workerUrl(i), { protocolVersion: 5, clientId: uniqueId(username), username, password });
  const closed = (c: MqttClient): Promise<number> => {
    let reason = -1;
    c.on('disconnect', (p: IDisconnectPacket) => (reason = p.reasonCode ?? 0));
    return once(c, 'close').then(() => reason);
  };

  before(async () => {
    passwd = writePasswordFile(tmp.dir, { alice: 'a', bob: 'b' });
    writeFileSync(acl, 'user alice\ntopic readwrite #\nuser bob\ntopic readwrite #\n');
    broker = await h.broker(base(), { placement: true, loadConfig: () => next() });
  });
  after(async () => {
    await h.teardown();
    tmp.cleanup();
  });

  test('a user removed from the password file: its clients on every worker are closed (0x87), the others stay', async () => {
    const alices = await Promise.all(Array.from({ length: workers }, (_, i) => connectOn(i, 'alice', 'a')));
    const bobs = await Promise.all(Array.from({ length: workers }, (_, i) => connectOn(i, 'bob', 'b')));
    const reasons = Promise.all(alices.map(closed));
    writePasswordFile(tmp.dir, { bob: 'b' });
    const result = await broker.running!.reload();
    assert.deepEqual(result, { ok: true, applied: [], restartNeeded: [], disconnected: workers });
    assert.deepEqual(await reasons, alices.map(() => 0x87));
    assert.ok(bobs.every((b) => b.connected));
  });

  test('the reloaded ACL governs delivery on the receiving worker: a subscription made under the old ACL stops receiving a denied topic', async () => {
    const sub = await connectOn(0, 'bob', 'b');
    const inbox = new Inbox(sub);
    await sub.subscribeAsync('t/#', { qos: 1 });
    writePasswordFile(tmp.dir, { bob: 'b', carol: 'c' });
    writeFileSync(acl, 'user bob\ntopic read t/open\nuser carol\ntopic write t/#\n');
    assert.equal((await broker.running!.reload()).disconnected, 0);
    const pub = await connectOn(1, 'carol', 'c');
    assert.equal(await pubackCode(pub, 't/secret', 'no'), 0);
    assert.equal(await pubackCode(pub, 't/open', 'yes'), 0);
    assert.equal((await inbox.next()).topic, 't/open');
    await inbox.expectNone(300, 1);
    assert.equal(await pubackCode(sub, 't/open'), 0x87, 'bob may no longer write');
  });

  test('a configuration that fails to load changes nothing and says where (file:line)', async () => {
    next = () => parseConfig('allow_anonymous true\nmax_queued_messages lots\n', 'bad.conf');
    const result = await broker.running!.reload();
    assert.equal(result.ok, false);
    assert.match(result.error!, /^bad\.conf:2: /);
    assert.equal(broker.running!.config.allowAnonymous, false);
    next = () => ({ config: base({ aclFile: join(tmp.dir, 'missing.acl') }) });
    assert.match((await broker.running!.reload()).error!, /missing\.acl:0: cannot read acl file/);
    assert.equal(broker.running!.config.aclFile, acl);
  });

  test('reloadable and restart-only options are reported apart; the running configuration takes only the first', async () => {
    next = () => ({ config: base({ maxQueuedMessages: 7, workers: workers + 1 }) });
    const result = await broker.running!.reload();
    assert.deepEqual({ applied: result.applied, restartNeeded: result.restartNeeded }, { applied: ['max_queued_messages'], restartNeeded: ['workers'] });
    assert.equal(broker.running!.config.maxQueuedMessages, 7);
    assert.equal(broker.running!.config.workers, workers);
  });
});

describe('RunningBroker.reload on a broker started without a password file', { skip: culexOnly }, () => {
  const h = new Harness();
  const tmp = tempDir('culex-reload-');
  after(async () => {
    await h.teardown();
    tmp.cleanup();
  });

  test('password_file and allow_anonymous false added by a reload: the check starts on every worker, anonymous clients are closed', async () => {
    let next: BrokerConfig = testConfig({ workers });
    const broker = await h.broker(next, { placement: true, loadConfig: () => ({ config: next }) });
    const url = (i: number) => `mqtt://127.0.0.1:${broker.running!.workerPorts[i % workers]!}`;
    const anons = await Promise.all(Array.from({ length: workers }, (_, i) => h.connect(url(i), { protocolVersion: 5 })));
    const reasons = Promise.all(anons.map((c) => {
      let reason = -1;
      c.on('disconnect', (p: IDisconnectPacket) => (reason = p.reasonCode ?? 0));
      return once(c, 'close').then(() => reason);
    }));
    const passwordFile = writePasswordFile(tmp.dir, { alice: 'a' });
    next = testConfig({ workers, passwordFile, allowAnonymous: false });
    const result = await broker.running!.reload();
    assert.deepEqual(result, { ok: true, applied: ['allow_anonymous', 'password_file'], restartNeeded: [], disconnected: workers });
    assert.deepEqual(await reasons, anons.map(() => 0x87));
    for (let i = 0; i < workers; i++) {
      const alice = await h.connect(url(i), { protocolVersion: 5, username: 'alice', password: 'a' });
      alice.end(true);
      await assert.rejects(h.connect(url(i), { protocolVersion: 5, username: 'alice', password: 'b' }), { code: 0x87 });
      await assert.rejects(h.connect(url(i), { protocolVersion: 5 }), { code: 0x87 });
    }
  });
});

describe('RunningBroker.reload with per_listener_settings', { skip: culexOnly }, () => {
  const h = new Harness();
  const tmp = tempDir('culex-reload-');
  after(async () => {
    await h.teardown();
    tmp.cleanup();
  });

  test("each listener takes its own reloaded settings: A's allow_anonymous, B's acl_file; the other listener's clients are untouched", async () => {
    const aclOld = join(tmp.dir, 'old.acl');
    const aclNew = join(tmp.dir, 'new.acl');
    writeFileSync(aclOld, 'topic readwrite #\n');
    writeFileSync(aclNew, 'topic read #\n');
    const text = (anonymousA: boolean, acl: string) => [
      'per_listener_settings true',
      'listener 0 127.0.0.1', `allow_anonymous ${anonymousA}`,
      'listener 0 127.0.0.1', 'allow_anonymous true', `acl_file ${acl}`,
    ].join('\n');
    const at = (t: string) => {
      const { config } = parseConfig(t, 'pl.conf');
      return testConfig({ workers, listeners: config.listeners, perListenerSettings: true, allowAnonymous: config.allowAnonymous });
    };
    let next = at(text(true, aclOld));
    const broker = await h.broker(next, { loadConfig: () => ({ config: next }) });
    const [portA, portB] = broker.running!.ports as [number, number];
    const onA = await h.connect(`mqtt://127.0.0.1:${portA}`, { protocolVersion: 5 });
    const onB = await h.connect(`mqtt://127.0.0.1:${portB}`, { protocolVersion: 5 });
    assert.equal(await pubackCode(onB, 'b/x'), 0);
    const aClosed = once(onA, 'close');
    next = at(text(false, aclNew));
    const result = await broker.running!.reload();
    assert.equal(result.ok, true, result.error);
    assert.deepEqual([...result.applied].sort(), ['acl_file', 'allow_anonymous']);
    await aClosed;
    assert.ok(onB.connected, "listener B still lets anonymous clients in");
    assert.equal(await pubackCode(onB, 'b/x'), 0x87, "B's new acl_file: read only");
    await assert.rejects(h.connect(`mqtt://127.0.0.1:${portA}`, { protocolVersion: 5 }), { code: 0x87 });
  });
});

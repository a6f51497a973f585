/**
 * Migrating from Mosquitto: the real Mosquitto 2.0.11 (`persistence true`) is given retained
 * messages (QoS 0 with v5 properties, QoS 1), two persistent sessions (v5 with a session expiry
 * and a subscription identifier; v3.1.1 clean session false, holding one QoS 1 message it never
 * acknowledged), queued QoS 1 messages for both, and an incoming QoS 2 message whose PUBREL never
 * came; SIGTERM makes it write `mosquitto.db`. `culex import-mosquitto` (runImportMosquitto) brings
 * that file into culex's store in the same persistence_location, and a culex started there serves
 * it all: retained messages to a new subscriber, each session present with its messages in order
 * (the unacknowledged one first, with DUP and its packet id). Also: a file of an unknown version or
 * without Mosquitto's magic is refused with a clear message, the start-up notice names the file,
 * and a store in use by a running culex is refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Harness, Inbox, once, subscribe } from '../helpers/clients.ts';
import { culexOnly, freePort, tempDir, waitForPort, type TestBroker } from '../helpers/broker.ts';
import { RawClient, receivePublishes } from '../helpers/raw.ts';
import * as pk from '../helpers/packets.ts';
import { PacketType } from '../helpers/packets.ts';
import { runImportMosquitto } from '../../src/cli/importMosquitto.ts';
import { createLogger, type Logger } from '../../src/log.ts';

const mosquittoMissing = spawnSync('/usr/sbin/mosquitto', ['-h']).error === undefined ? false : 'mosquitto not installed';
const skip = culexOnly || mosquittoMissing;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** runImportMosquitto with its output kept. */
async function runImport(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runImportMosquitto(args, { out: (l) => { out += `${l}\n`; }, err: (l) => { err += `${l}\n`; } });
  return { code, out, err };
}

/** Runs Mosquitto 2.0.11 with persistence in `dir`; resolves once it listens. */
async function startMosquitto(dir: string, port: number): Promise<{ proc: ChildProcess; stop(): Promise<void> }> {
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true', `persistence_location ${dir}`,
    'user root', 'log_dest none'].join('\n') + '\n');
  const proc = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await Promise.race([waitForPort(port), exited.then(() => { throw new Error('mosquitto exited at start'); })]);
  // SIGTERM: Mosquitto saves its in-memory database to persistence_location/mosquitto.db, then exits
  return { proc, stop: async () => { proc.kill('SIGTERM'); await exited; } };
}

describe('culex import-mosquitto: a Mosquitto 2.0.11 persistence file brought into culex', { skip }, () => {
  const h = new Harness();
  const tmp = tempDir('culex-import-');
  const dir = tmp.dir;
  const dbFile = path.join(dir, 'mosquitto.db');
  const culexConf = path.join(dir, 'culex.conf');
  /** packet id Mosquitto gave the QoS 1 message the v3.1.1 session never acknowledged */
  let unackedId = 0;
  let imported = { code: -1, out: '', err: '' };
  let broker: TestBroker;
  const notices: string[] = [];
  const log: Logger = {
    ...createLogger({ types: [], dest: [], connectionMessages: false }),
    notice: (m) => { notices.push(m); },
  };

  before(async () => {
    const port = await freePort();
    const mosquitto = await startMosquitto(dir, port);
    try {
      const url = `mqtt://127.0.0.1:${port}`;
      const pub = await h.connect(url, { clientId: 'imp-publisher', protocolVersion: 5 });
      await pub.publishAsync('ret/zero', 'r0', { qos: 0, retain: true, properties: { contentType: 'text/plain', userProperties: { a: '1' } } });
      await pub.publishAsync('ret/one', 'r1', { qos: 1, retain: true });

      // a v5 persistent session: session expiry, subscription identifier, then offline
      const v5 = await h.connect(url, { clientId: 'imp-v5', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } });
      await subscribe(v5, 'queue/#', { qos: 1, properties: { subscriptionIdentifier: 5 } });
      await v5.endAsync();

      // a v3.1.1 persistent session that receives queue/1 and goes away without its PUBACK
      const { client: v4 } = await RawClient.connected(port, { clientId: 'imp-v4', clean: false });
      v4.send(pk.subscribe(1, [{ filter: 'queue/#', qos: 1 }]));
      await v4.expect(PacketType.SUBACK);
      await pub.publishAsync('queue/1', 'm1', { qos: 1 });
      const [first] = await receivePublishes(v4, 1, false);
      unackedId = first!.packetId!;
      v4.destroy();

      for (let i = 2; i <= 5; i++) await pub.publishAsync(`queue/${i}`, `m${i}`, { qos: 1 });
      // a QoS 2 publish whose PUBREL never comes: Mosquitto delivers it only on the PUBREL
      const { client: q2 } = await RawClient.connected(port, { clientId: 'imp-q2', clean: false });
      q2.send(pk.publish({ topic: 'queue/6', payload: 'm6', qos: 2, packetId: 42 }));
      await q2.expect(PacketType.PUBREC);
      q2.destroy();
      await pub.endAsync();
    } finally {
      await mosquitto.stop();
    }
    writeFileSync(culexConf, ['listener 0 127.0.0.1', 'persistence true', `persistence_location ${dir}`].join('\n') + '\n');
    imported = await runImport(['-c', culexConf]); // the file: mosquitto.db in persistence_location
    broker = await h.broker({ persistence: true, persistenceLocation: dir }, { log });
  });

  after(async () => {
    await h.teardown();
    tmp.cleanup();
  });

  test('the import reports what it brought in', () => {
    assert.equal(imported.code, 0, imported.err);
    assert.match(imported.out, /Mosquitto database version 6/);
    assert.match(imported.out, /2 retained messages, 3 persistent sessions with 2 subscriptions and 12 queued messages \(1 in flight\), 1 incoming QoS 2 messages delivered/);
  });

  test('retained messages (QoS 0 with v5 properties, QoS 1) reach a new subscriber', async () => {
    const c = await h.connect(broker.url, { protocolVersion: 5 });
    const inbox = new Inbox(c);
    await subscribe(c, 'ret/#', { qos: 1 });
    const got = (await inbox.waitFor(2)).slice().sort((a, b) => a.topic.localeCompare(b.topic));
    assert.deepEqual(got.map((m) => [m.topic, m.payload.toString(), m.packet.retain, m.packet.qos]), [['ret/one', 'r1', true, 1], ['ret/zero', 'r0', true, 0]]);
    assert.equal(got[1]!.packet.properties?.contentType, 'text/plain');
    assert.deepEqual({ ...got[1]!.packet.properties?.userProperties }, { a: '1' });
  });

  test('[MQTT-3.2.2-2] the v5 session is present and gets its queued messages in order, with its subscription identifier', async () => {
    const c = h.client(broker.url, { clientId: 'imp-v5', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } });
    const inbox = new Inbox(c);
    const connack = await once<{ sessionPresent: boolean }>(c, 'connect');
    assert.equal(connack.sessionPresent, true);
    const got = await inbox.waitFor(6);
    assert.deepEqual(got.map((m) => `${m.topic}:${m.payload.toString()}`), ['queue/1:m1', 'queue/2:m2', 'queue/3:m3', 'queue/4:m4', 'queue/5:m5', 'queue/6:m6']);
    for (const m of got) assert.equal(m.packet.properties?.subscriptionIdentifier, 5);
    // the subscription itself came over: a new publish reaches the session, with its identifier
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    await pub.publishAsync('queue/7', 'm7', { qos: 1 });
    const seventh = (await inbox.waitFor(7))[6]!;
    assert.equal(`${seventh.topic}:${seventh.payload.toString()}`, 'queue/7:m7');
    assert.equal(seventh.packet.properties?.subscriptionIdentifier, 5);
  });

  test('[MQTT-4.4.0-1] the v3.1.1 session gets the unacknowledged message again first, with DUP and its packet id, then the rest', async () => {
    const { client, connack } = await RawClient.connected(broker.port, { clientId: 'imp-v4', clean: false });
    assert.equal(connack.sessionPresent, true);
    const got = await receivePublishes(client, 6);
    assert.equal(got[0]!.dup, true);
    assert.equal(got[0]!.packetId, unackedId);
    assert.deepEqual(got.map((p) => `${p.topic}:${p.payload!.toString()}`), ['queue/1:m1', 'queue/2:m2', 'queue/3:m3', 'queue/4:m4', 'queue/5:m5', 'queue/6:m6']);
    assert.deepEqual(got.slice(1).map((p) => p.dup), [false, false, false, false, false]);
    client.destroy();
  });

  test('[MQTT-4.3.3-13] the publisher whose PUBREL Mosquitto still awaited gets its PUBCOMP', async () => {
    const { client, connack } = await RawClient.connected(broker.port, { clientId: 'imp-q2', clean: false });
    assert.equal(connack.sessionPresent, true);
    client.send(pk.ack(PacketType.PUBREL, 42));
    const pubcomp = await client.expect(PacketType.PUBCOMP);
    assert.equal(pubcomp.packetId, 42);
    client.destroy();
  });

  test('start-up notice: culex names the Mosquitto file it did not read and the command that imports it', () => {
    assert.ok(
      notices.some((n) => n.includes(`found Mosquitto persistence file ${dbFile}: not read; import it with \`culex import-mosquitto -c CONFIG ${dbFile}\``)),
      notices.join('\n'),
    );
  });

  test('a store a running culex holds is refused', async () => {
    const r = await runImport(['-c', culexConf, dbFile]);
    assert.equal(r.code, 1);
    assert.match(r.err, /is in use by another culex/);
  });

  test('a file of an unknown version, or without the magic, is refused with a clear message', async () => {
    const bytes = readFileSync(dbFile);
    const other = tempDir('culex-import-bad-');
    try {
      writeFileSync(path.join(other.dir, 'culex.conf'), `persistence true\npersistence_location ${path.join(other.dir, 'data')}\n`);
      const patched = Buffer.from(bytes);
      patched.writeUInt32BE(99, 19); // the version follows the 15-byte magic and the 4-byte CRC
      writeFileSync(path.join(other.dir, 'v99.db'), patched);
      // through the command itself: `culex import-mosquitto …`
      const r = spawnSync(process.execPath, [path.join(repoRoot, 'src/cli/main.ts'), 'import-mosquitto', '-c', path.join(other.dir, 'culex.conf'), path.join(other.dir, 'v99.db')], { encoding: 'utf8' });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /v99\.db is a Mosquitto persistence file of version 99; culex reads versions 2, 3, 4, 5, 6/);

      const wrong = Buffer.from(bytes);
      wrong[3] = 0x4e; // 'N' instead of 'm'
      writeFileSync(path.join(other.dir, 'bad.db'), wrong);
      const b = await runImport(['-c', path.join(other.dir, 'culex.conf'), path.join(other.dir, 'bad.db')]);
      assert.equal(b.code, 1);
      assert.match(b.err, /bad\.db is not a Mosquitto persistence file/);
    } finally {
      other.cleanup();
    }
  });
});

/**
 * Delivery to another node's persistent sessions through JetStream (issue 17; src/nats/
 * durableInterest.ts, durableStream.ts): a nats-server with JetStream and a store directory,
 * three culex nodes of two workers each, all processes started here on loopback. A persistent
 * QoS 1/2 subscription on node 3 gets what node 1 acknowledged while node 3 was killed with
 * kill -9, once it is back, in order; a non-persistent subscriber beside it still gets one copy
 * of each message; QoS 2 to a persistent session; mosquitto_sub -c with mosquitto_pub on
 * another node.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Harness, Inbox, publishMany, sleep, subscribe, uniqueId, type MqttClient, type Received } from '../helpers/clients.ts';
import { freePort, waitForPort } from '../helpers/broker.ts';
import { startBrokerProcess } from '../helpers/brokerProcess.ts';
import { killNats, natsMissing, startNats, startNode, stopCluster, type Nats, type Node } from '../helpers/natsCluster.ts';

const hasMosquittoClients = spawnSync('mosquitto_pub', ['--help']).error === undefined;
const seq = (n: number) => Array.from({ length: n }, (_, i) => String(i));

/** `list` without repeats, each kept where it first came. */
function firstOccurrences(list: readonly string[]): string[] {
  return [...new Set(list)];
}

/** The count of copies JetStream stored for other nodes' persistent sessions, from the node serving /metrics on `port`. */
async function durableCopies(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^culex_cluster_durable_messages_total\{direction="out"\} (\S+)$/m.exec(text);
  return m === null ? 0 : Number(m[1]);
}

/**
 * Publishes QoS 1 probes on `topic` from `pub` (a client of the node serving /metrics on
 * `port`) until that node sends one through JetStream to `targets` (node, worker) pairs: from
 * then on it knows the durable interest that `topic` matches. Returns how many it sent.
 */
async function untilSentDurably(port: number, pub: MqttClient, topic: string, targets = 1): Promise<number> {
  const deadline = Date.now() + 15000;
  for (let i = 0; Date.now() < deadline; i++) {
    const before = await durableCopies(port);
    await pub.publishAsync(topic, `probe${i}`, { qos: 1 });
    if (await durableCopies(port) >= before + targets) return i + 1;
    await sleep(100);
  }
  throw new Error('the publishing node never learnt the durable interest');
}

/**
 * The messages of `inbox` on `topic` once there are `n` (or after `timeoutMs`): a probe whose
 * PUBACK the killed node had not committed comes again after its restart (QoS 1 [MQTT-4.4.0-1]),
 * so the data topic is looked at alone.
 */
async function dataOf(inbox: Inbox, topic: string, n: number, timeoutMs = 20000): Promise<Received[]> {
  const data = () => inbox.messages.filter((m) => m.topic === topic);
  const deadline = Date.now() + timeoutMs;
  while (data().length < n && Date.now() < deadline) await sleep(50);
  return data();
}

/** Kills node `n` with SIGKILL and waits for its exit. */
async function kill9(n: Node): Promise<void> {
  n.proc.proc.kill('SIGKILL');
  await n.proc.exit;
}

/** Starts node `n` again on its directory, port and name. */
async function restart(n: Node): Promise<void> {
  n.proc = await startBrokerProcess(n.conf, n.dir, n.port);
}

describe('JetStream delivery to persistent sessions of other nodes', { skip: natsMissing }, () => {
  const h = new Harness();
  let nats: Nats;
  let n1: Node;
  let n2: Node;
  let n3: Node;
  let metricsPort: number;

  before(async () => {
    nats = await startNats();
    metricsPort = await freePort();
    [n1, n2, n3] = await Promise.all([
      startNode(nats, 'd1', [`metrics_listener 127.0.0.1:${metricsPort}`]),
      startNode(nats, 'd2'),
      startNode(nats, 'd3'),
    ]);
    // /metrics opens after the MQTT listeners
    await waitForPort(metricsPort);
  });
  after(async () => {
    await h.teardown();
    stopCluster();
  });

  const untilDurable = (pub: MqttClient, topic: string) => untilSentDurably(metricsPort, pub, topic);
  const durableOut = () => durableCopies(metricsPort);

  test('an offline persistent QoS 1 session on node 3 gets, after node 3 was killed with kill -9 and restarted, every message node 1 acknowledged meanwhile, in order', async () => {
    const base = uniqueId('off');
    const clientId = uniqueId('p');
    const sub = await h.connect(n3.url, { clientId, clean: false });
    const probes = new Inbox(sub);
    await subscribe(sub, `${base}/#`, { qos: 1 });
    const pub = await h.connect(n1.url);
    const sent = await untilDurable(pub, `${base}/probe`);
    await probes.waitFor(sent);
    sub.end();
    await sleep(100);
    await kill9(n3);
    await publishMany(pub, `${base}/m`, 200, 1);
    await restart(n3);
    // the Inbox listens before the CONNACK: the queued messages follow it at once
    const inbox = new Inbox(h.client(n3.url, { clientId, clean: false }));
    assert.deepEqual((await dataOf(inbox, `${base}/m`, 200)).map((m) => m.payload.toString()), seq(200));
    await sleep(500);
    assert.equal((await dataOf(inbox, `${base}/m`, 200)).length, 200);
  });

  test('[MQTT-3.3.2-5] the time a copy waited in JetStream counts against its message expiry: one that expired meanwhile is not sent, one with time left comes with what is left', async () => {
    const base = uniqueId('exp');
    const clientId = uniqueId('p');
    const v5 = { protocolVersion: 5 as const, clientId, clean: false, properties: { sessionExpiryInterval: 3600 } };
    const sub = await h.connect(n3.url, v5);
    const probes = new Inbox(sub);
    await subscribe(sub, `${base}/#`, { qos: 1 });
    const pub = await h.connect(n1.url, { protocolVersion: 5 });
    await probes.waitFor(await untilDurable(pub, `${base}/probe`));
    sub.end();
    await sleep(100);
    await kill9(n3);
    await pub.publishAsync(`${base}/m`, 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.publishAsync(`${base}/m`, 'long', { qos: 1, properties: { messageExpiryInterval: 3600 } });
    await pub.publishAsync(`${base}/m`, 'none', { qos: 1 });
    const waited = Date.now();
    await sleep(1500);
    await restart(n3);
    const inbox = new Inbox(h.client(n3.url, v5));
    const got = await dataOf(inbox, `${base}/m`, 2);
    assert.deepEqual(got.map((m) => m.payload.toString()), ['long', 'none']);
    const left = got[0]!.packet.properties!.messageExpiryInterval!;
    assert.ok(left <= 3600 - Math.floor((Date.now() - waited) / 1000) + 1 && left > 3000, `expiry left: ${left}`);
    assert.equal(got[1]!.packet.properties?.messageExpiryInterval, undefined);
    await sleep(300);
    assert.equal((await dataOf(inbox, `${base}/m`, 2)).length, 2);
  });

  test('node 3 killed while node 1 publishes: every message node 1 acknowledged reaches the persistent session once node 3 is back, in order (repeats only of those sent or committed just before the crash)', async () => {
    const base = uniqueId('live');
    const clientId = uniqueId('p');
    const first = await h.connect(n3.url, { clientId, clean: false });
    const before = new Inbox(first);
    await subscribe(first, `${base}/#`, { qos: 1 });
    const pub = await h.connect(n1.url);
    const sent = await untilDurable(pub, `${base}/probe`);
    await before.waitFor(sent);
    before.messages.length = 0;
    let published = 0;
    const killed = (async () => {
      while (published < 100) await sleep(5);
      await kill9(n3);
    })();
    await publishMany(pub, `${base}/m`, 400, 1, 10, (i) => {
      published = i;
      return String(i);
    });
    await killed;
    await restart(n3);
    const after = new Inbox(h.client(n3.url, { clientId, clean: false }));
    const deadline = Date.now() + 30000;
    const data = (i: Inbox) => i.messages.filter((m) => m.topic === `${base}/m`).map((m) => m.payload.toString());
    const all = () => firstOccurrences([...data(before), ...data(after)]);
    while (all().length < 400 && Date.now() < deadline) await sleep(100);
    assert.deepEqual(all(), seq(400));
    // what came twice: only messages at the moment of the crash (resent unacknowledged, or given again by JetStream)
    const repeats = data(before).length + data(after).length - 400;
    assert.ok(repeats >= 0 && repeats < 400, `repeats: ${repeats}`);
  });

  test('non-persistent subscribers beside persistent ones on node 3 get each message exactly once (core NATS for them, JetStream for the persistent ones)', async () => {
    const base = uniqueId('mix');
    const plain: Inbox[] = [];
    const durable: Inbox[] = [];
    // several of each, so that both kinds share a worker of node 3
    for (let i = 0; i < 3; i++) {
      const c = await h.connect(n3.url, { clean: true });
      plain.push(new Inbox(c));
      await subscribe(c, `${base}/#`, { qos: 1 });
      const p = await h.connect(n3.url, { clientId: uniqueId('p'), clean: false });
      durable.push(new Inbox(p));
      await subscribe(p, `${base}/#`, { qos: 1 });
    }
    // a persistent session whose subscription is QoS 0 is not durable: core NATS, once
    const q0 = await h.connect(n3.url, { clientId: uniqueId('p'), clean: false });
    const zero = new Inbox(q0);
    await subscribe(q0, `${base}/#`, { qos: 0 });
    const pub = await h.connect(n1.url);
    const sent = await untilDurable(pub, `${base}/probe`);
    const out = await durableOut();
    await publishMany(pub, `${base}/m`, 100, 1);
    for (const inbox of [...plain, ...durable, zero]) {
      const got = await inbox.waitFor(sent + 100, 20000);
      assert.deepEqual(got.slice(sent).map((m) => m.payload.toString()), seq(100));
    }
    await sleep(500);
    for (const inbox of [...plain, ...durable, zero]) assert.equal(inbox.messages.length, sent + 100, inbox.payloads().join(','));
    // the persistent sessions' copies went through JetStream (one per worker of node 3 that has one)
    assert.ok(await durableOut() >= out + 100);
  });

  test('[MQTT-4.3.3-1] QoS 2 from node 1 to a persistent session on node 3: 100 messages, each once, in order', async () => {
    const base = uniqueId('q2');
    const sub = await h.connect(n3.url, { clientId: uniqueId('p'), clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
    const inbox = new Inbox(sub);
    await subscribe(sub, `${base}/#`, { qos: 2 });
    const pub = await h.connect(n1.url, { protocolVersion: 5 });
    const sent = await untilDurable(pub, `${base}/probe`);
    await publishMany(pub, `${base}/m`, 100, 2);
    const got = await inbox.waitFor(sent + 100, 20000);
    assert.deepEqual(got.slice(sent).map((m) => m.payload.toString()), seq(100));
    assert.ok(got.slice(sent).every((m) => m.packet.qos === 2));
    await inbox.expectNone(500);
  });

  test('a node restarted with fewer workers: the messages that waited for a worker index it no longer has reach their sessions, in order', async () => {
    const n4 = await startNode(nats, 'd4');
    const base = uniqueId('wk');
    // several sessions, so that both workers of node 4 hold some
    const ids = Array.from({ length: 4 }, () => uniqueId('p'));
    const pub = await h.connect(n1.url);
    for (const clientId of ids) {
      const c = await h.connect(n4.url, { clientId, clean: false });
      const probes = new Inbox(c);
      await subscribe(c, `${base}/${clientId}/#`, { qos: 1 });
      await probes.waitFor(await untilDurable(pub, `${base}/${clientId}/probe`));
      c.end();
    }
    await sleep(100);
    await kill9(n4);
    for (const clientId of ids) await publishMany(pub, `${base}/${clientId}/m`, 50, 1);
    writeFileSync(n4.conf, readFileSync(n4.conf, 'utf8').replace(/^workers 2$/m, 'workers 1'));
    await restart(n4);
    for (const clientId of ids) {
      const inbox = new Inbox(h.client(n4.url, { clientId, clean: false }));
      const got = await dataOf(inbox, `${base}/${clientId}/m`, 50);
      assert.deepEqual(got.map((m) => m.payload.toString()), seq(50), n4.proc.output());
    }
    assert.match(n4.proc.output(), /JetStream messages for former worker 1 of d4 delivered/);
  });

  test('mosquitto_sub -c on node 2 gets what mosquitto_pub sent to node 1 while it was away', { skip: hasMosquittoClients ? false : 'mosquitto clients not installed' }, async () => {
    const base = uniqueId('mosq');
    const id = uniqueId('ms');
    const subArgs = ['-h', '127.0.0.1', '-p', String(n2.port), '-c', '-i', id, '-q', '1', '-t', `${base}/#`, '-v', '-W', '20'];
    // a first run makes the persistent session and its subscription; it ends with the first message
    const first = spawn('mosquitto_sub', [...subArgs, '-C', '1']);
    const ended = new Promise<number | null>((resolve) => first.once('close', resolve));
    const pub = await h.connect(n1.url);
    let probes = 0;
    for (let done = false; !done; probes++) {
      await pub.publishAsync(`${base}/probe`, `probe${probes}`, { qos: 1 });
      done = await Promise.race([ended.then(() => true), sleep(200).then(() => false)]);
    }
    assert.equal(await ended, 0);
    // node 1 knows the durable interest: the probes go through JetStream from here on
    await untilDurable(pub, `${base}/probe2`);
    for (let i = 0; i < 5; i++) {
      const r = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(n1.port), '-t', `${base}/m`, '-q', '1', '-m', `m${i}`]);
      assert.equal(r.status, 0, r.stderr.toString());
    }
    const again = spawnSync('mosquitto_sub', [...subArgs, '-C', '100', '-W', '3'], { timeout: 20000 });
    const lines = again.stdout.toString().trim().split('\n').filter((l) => l.startsWith(`${base}/m `));
    assert.deepEqual(lines, Array.from({ length: 5 }, (_, i) => `${base}/m m${i}`));
  });
});

describe('JetStream copies across a NATS restart', { skip: natsMissing }, () => {
  const h = new Harness();
  after(async () => {
    await h.teardown();
    stopCluster();
  });

  test('copies for a killed node survive a NATS kill -9 and restart (-sd); copies made after it join them; all reach the session in order; a connected node\'s consumer resumes', async () => {
    let nats = await startNats();
    const metricsPort = await freePort();
    const [a, b, c] = await Promise.all([startNode(nats, 'ja', [`metrics_listener 127.0.0.1:${metricsPort}`]), startNode(nats, 'jb'), startNode(nats, 'jc')]);
    await waitForPort(metricsPort);
    const base = uniqueId('nr');
    const clientId = uniqueId('p');
    // a persistent session on node c stays connected throughout: its worker's consumer resumes after the restart
    const stays = await h.connect(c.url, { clientId: uniqueId('p'), clean: false });
    const staysInbox = new Inbox(stays);
    await subscribe(stays, `${base}/#`, { qos: 1 });
    const sub = await h.connect(b.url, { clientId, clean: false });
    const probes = new Inbox(sub);
    await subscribe(sub, `${base}/#`, { qos: 1 });
    const pub = await h.connect(a.url);
    // nodes b and c: two copies per message
    await probes.waitFor(await untilSentDurably(metricsPort, pub, `${base}/probe`, 2));
    sub.end();
    await sleep(100);
    await kill9(b);
    await publishMany(pub, `${base}/m`, 50, 1, 10, (i) => String(i));
    await killNats(nats);
    nats = await startNats(nats);
    // node a is back on NATS once a probe goes through JetStream again
    await untilSentDurably(metricsPort, pub, `${base}/probe`, 2);
    await publishMany(pub, `${base}/m`, 50, 1, 10, (i) => String(50 + i));
    await restart(b);
    const inbox = new Inbox(h.client(b.url, { clientId, clean: false }));
    const deadline = Date.now() + 20000;
    const data = () => inbox.messages.filter((m) => m.topic === `${base}/m`).map((m) => m.payload.toString());
    while (data().length < 100 && Date.now() < deadline) await sleep(100);
    assert.deepEqual(data(), seq(100));
    const seen = () => staysInbox.messages.filter((m) => m.topic === `${base}/m`).map((m) => m.payload.toString());
    while (seen().length < 100 && Date.now() < deadline) await sleep(100);
    assert.deepEqual(seen(), seq(100));
  });
});

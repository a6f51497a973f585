/**
 * Queued messages survive kill -9: QoS 1 and QoS 2 publishers run against persistent
 * subscribers, online and offline, while the broker (2 workers, so messages cross between
 * workers) is killed with SIGKILL at random moments and restarted on the same directory. Every
 * PUBACKed message must arrive at least once, every PUBCOMPed message exactly once, in order.
 * One subscriber keeps reconnecting, so that its session moves between the workers while
 * messages flow and the broker is killed.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { culexOnly, type CliProcess } from '../helpers/broker.ts';
import { brokerDir, cleanupBrokerProcesses, connectTo, startBrokerProcess } from '../helpers/brokerProcess.ts';
import { PacketType, pk, RawClient, receivePublishes } from '../helpers/raw.ts';

after(cleanupBrokerProcesses);

const KILLS = 5;
/** publishes in flight per publisher: below max_inflight_messages (the broker's Receive Maximum) */
const WINDOW = 16;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A client that reconnects by itself and keeps its session (clean: false), as a device would. */
function durableClient(port: number, clientId: string, v: 4 | 5): MqttClient {
  const opts: IClientOptions = {
    clientId, clean: false, protocolVersion: v, reconnectPeriod: 150, connectTimeout: 5000, resubscribe: false, keepalive: 30,
    ...(v === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
  };
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, opts);
  c.on('error', () => {}); // refused while the broker restarts: it retries
  return c;
}

/** Publishes numbered messages with up to WINDOW in flight; `acked` holds those the broker completed (PUBACK / PUBCOMP). */
class NumberedPublisher {
  readonly acked = new Set<number>();
  private next = 0;
  private inflight = 0;
  private running = true;
  readonly client: MqttClient;
  private readonly topic: string;
  private readonly qos: 1 | 2;

  constructor(client: MqttClient, topic: string, qos: 1 | 2) {
    this.client = client;
    this.topic = topic;
    this.qos = qos;
    this.fill();
  }

  get sent(): number {
    return this.next;
  }

  get pending(): number {
    return this.inflight;
  }

  private fill(): void {
    while (this.running && this.inflight < WINDOW) {
      const n = this.next++;
      this.inflight++;
      this.client.publish(this.topic, String(n), { qos: this.qos }, (err) => {
        this.inflight--;
        if (!err) this.acked.add(n);
        setImmediate(() => this.fill());
      });
    }
  }

  stop(): void {
    this.running = false;
  }
}

/** Collects the numbers a subscriber receives, in arrival order. */
function collect(client: MqttClient, topicPrefix: string): number[] {
  const got: number[] = [];
  client.on('message', (topic, payload) => {
    if (topic.startsWith(topicPrefix)) got.push(Number(payload.toString()));
  });
  return got;
}

/** Waits until `done()` holds or the deadline passes. */
async function until(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await sleep(50);
}

function missing(acked: Set<number>, got: number[]): number[] {
  const seen = new Set(got);
  return [...acked].filter((n) => !seen.has(n)).sort((a, b) => a - b);
}

/** First arrivals in increasing order (redeliveries of earlier numbers are allowed for QoS 1). */
function firstArrivalsInOrder(got: number[]): boolean {
  const seen = new Set<number>();
  let last = -1;
  for (const n of got) {
    if (seen.has(n)) continue;
    seen.add(n);
    if (n < last) return false;
    last = n;
  }
  return true;
}

function duplicates(got: number[]): number[] {
  const seen = new Set<number>();
  const dup: number[] = [];
  for (const n of got) {
    if (seen.has(n)) dup.push(n);
    seen.add(n);
  }
  return dup;
}

/**
 * Kills the broker with SIGKILL `kills` times, each at a random moment once the publishers have
 * had 200 more messages acknowledged, restarting it on the same directory; then lets the
 * publishers finish `atLeast` acknowledged messages and waits for their last acknowledgements.
 * Returns the running broker.
 */
async function runUnderKills(broker: CliProcess, restart: () => Promise<CliProcess>, kills: number, pubs: NumberedPublisher[], atLeast: number): Promise<CliProcess> {
  const acked = (): number => pubs.reduce((n, p) => n + p.acked.size, 0);
  for (let k = 0; k < kills; k++) {
    const before = acked();
    await until(() => acked() > before + 200, 20000);
    await sleep(50 + Math.floor(Math.random() * 600));
    broker.proc.kill('SIGKILL');
    await broker.exit;
    broker = await restart();
  }
  await until(() => acked() > atLeast, 20000);
  for (const p of pubs) p.stop();
  await until(() => pubs.every((p) => p.pending === 0), 30000);
  return broker;
}

/**
 * Two durable publishers, once connected: QoS 1 numbers on `${prefix}/q1` and QoS 2 numbers on
 * `${prefix}/q2` (5.0 and 3.1.1). Their clients join `clients` (ended by the test).
 */
async function startPublishers(port: number, prefix: string, clients: MqttClient[]): Promise<[NumberedPublisher, NumberedPublisher]> {
  const pubs = [durableClient(port, `${prefix}-pub1-${process.pid}`, 5), durableClient(port, `${prefix}-pub2-${process.pid}`, 4)];
  clients.push(...pubs);
  await Promise.all(pubs.map((c) => new Promise((r) => c.once('connect', r))));
  return [new NumberedPublisher(pubs[0]!, `${prefix}/q1`, 1), new NumberedPublisher(pubs[1]!, `${prefix}/q2`, 2)];
}

/**
 * Drops the connection of one of `clients` (at random) every 80–230 ms, until stop(), which
 * resolves with how many it dropped. They reconnect by themselves through a worker the kernel
 * picks (reusePort): about half of the reconnects move the session to the other worker.
 */
function churn(clients: readonly MqttClient[]): { stop(): Promise<number> } {
  let running = true;
  const done = (async () => {
    let n = 0;
    while (running) {
      await sleep(80 + Math.floor(Math.random() * 150));
      const c = clients[Math.floor(Math.random() * clients.length)]!;
      if (c.connected) {
        c.stream.destroy();
        n++;
      }
    }
    return n;
  })();
  after(() => {
    running = false;
  });
  return {
    stop: () => {
      running = false;
      return done;
    },
  };
}

/** QoS 1 (`q1`, from p1) at least once, QoS 2 (`q2`, from p2) exactly once, first arrivals in order. */
function assertReceived(who: string, q1: number[], q2: number[], p1: NumberedPublisher, p2: NumberedPublisher): void {
  assert.deepEqual(missing(p1.acked, q1).slice(0, 10), [], `${who}: PUBACKed QoS 1 messages missing (of ${p1.acked.size})`);
  assert.ok(firstArrivalsInOrder(q1), `${who}: QoS 1 messages out of order`);
  assert.deepEqual(missing(p2.acked, q2).slice(0, 10), [], `${who}: PUBCOMPed QoS 2 messages missing (of ${p2.acked.size})`);
  assert.ok(firstArrivalsInOrder(q2), `${who}: QoS 2 messages out of order`);
  assertOnce(who, q2);
}

function assertOnce(who: string, q2: number[]): void {
  assert.deepEqual(duplicates(q2).slice(0, 10), [], `${who}: QoS 2 messages delivered twice`);
}

describe('queued messages survive kill -9', { skip: culexOnly }, () => {
  test(`QoS 1 at least once and QoS 2 exactly once, in order, to online and offline persistent subscribers across ${KILLS} kill -9`, { timeout: 200000 }, async (t) => {
    const { dir, port, conf } = await brokerDir(['max_queued_messages 0', 'max_inflight_messages 20']);
    const tag = `${process.pid}`;
    let broker = await startBrokerProcess(conf, dir, port);
    const clients: MqttClient[] = [];
    after(() => {
      for (const c of clients) c.end(true);
    });

    // offline subscribers: subscribe, leave, and come back only at the end
    for (const [id, v] of [[`off1-${tag}`, 4], [`off2-${tag}`, 5]] as const) {
      const { client } = await connectTo(port, { clientId: id, clean: false, protocolVersion: v, ...(v === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}) });
      await client.subscribeAsync({ 'crash/q1': { qos: 1 }, 'crash/q2': { qos: 2 } });
      await client.endAsync();
    }
    // online subscribers: two of each version, so that some sit on the other worker than the publishers
    const online: { id: string; client: MqttClient; q1: number[]; q2: number[] }[] = [];
    for (const [id, v] of [[`on1-${tag}`, 4], [`on2-${tag}`, 5], [`on3-${tag}`, 4], [`on4-${tag}`, 5]] as const) {
      const client = durableClient(port, id, v);
      clients.push(client);
      await new Promise((r) => client.once('connect', r));
      await client.subscribeAsync({ 'crash/q1': { qos: 1 }, 'crash/q2': { qos: 2 } });
      online.push({ id, client, q1: collect(client, 'crash/q1'), q2: collect(client, 'crash/q2') });
    }
    const [p1, p2] = await startPublishers(port, 'crash', clients);

    broker = await runUnderKills(broker, () => startBrokerProcess(conf, dir, port), KILLS, [p1, p2], 500);
    assert.equal(p1.pending + p2.pending, 0, `publishers got every acknowledgement after the last restart (waiting: ${p1.pending} QoS 1, ${p2.pending} QoS 2)`);

    const offline: { id: string; client: MqttClient; q1: number[]; q2: number[] }[] = [];
    for (const [id, v] of [[`off1-${tag}`, 4], [`off2-${tag}`, 5]] as const) {
      const client = durableClient(port, id, v);
      clients.push(client);
      offline.push({ id, client, q1: collect(client, 'crash/q1'), q2: collect(client, 'crash/q2') });
      const connack = await new Promise<{ sessionPresent: boolean }>((r) => client.once('connect', r));
      assert.equal(connack.sessionPresent, true, `${id}: session present after ${KILLS} kill -9`);
    }
    const everyone = [...online, ...offline];
    await until(() => everyone.every((s) => missing(p1.acked, s.q1).length === 0 && missing(p2.acked, s.q2).length === 0), 60000);

    t.diagnostic(`acknowledged: ${p1.acked.size} of ${p1.sent} QoS 1, ${p2.acked.size} of ${p2.sent} QoS 2`);
    for (const s of everyone) t.diagnostic(`${s.id}: ${s.q1.length} QoS 1 received (${duplicates(s.q1).length} again), ${s.q2.length} QoS 2`);
    for (const s of everyone) assertReceived(s.id, s.q1, s.q2, p1, p2);
    for (const c of clients) c.end(true);
    broker.proc.kill('SIGTERM');
    assert.equal((await broker.exit).code, 0);
  });

  test('a persistent subscriber that keeps moving between workers (session handovers) loses nothing acknowledged across 3 kill -9', { timeout: 120000 }, async (t) => {
    const { dir, port, conf } = await brokerDir(['max_queued_messages 0', 'max_inflight_messages 20']);
    let broker = await startBrokerProcess(conf, dir, port);
    const id = `mover-${process.pid}`;
    const mover = durableClient(port, id, 5);
    const clients = [mover];
    after(() => {
      for (const c of clients) c.end(true);
    });
    await new Promise((r) => mover.once('connect', r));
    await mover.subscribeAsync({ 'move/q1': { qos: 1 }, 'move/q2': { qos: 2 } });
    const q1 = collect(mover, 'move/q1');
    const q2 = collect(mover, 'move/q2');
    const moves = churn([mover]);
    const [p1, p2] = await startPublishers(port, 'move', clients);
    broker = await runUnderKills(broker, () => startBrokerProcess(conf, dir, port), 3, [p1, p2], 300);
    const disconnects = await moves.stop();
    await until(() => missing(p1.acked, q1).length === 0 && missing(p2.acked, q2).length === 0, 30000);
    t.diagnostic(`acknowledged: ${p1.acked.size} QoS 1, ${p2.acked.size} QoS 2; the subscriber was disconnected ${disconnects} times`);
    assertReceived(id, q1, q2, p1, p2);
    for (const c of clients) c.end(true);
    broker.proc.kill('SIGTERM');
    assert.equal((await broker.exit).code, 0);
  });
});

/** A raw persistent v5 session: it acknowledges only what the test tells receivePublishes() to. */
async function rawSession(port: number, clientId: string): Promise<{ client: RawClient; present: boolean }> {
  const { client, connack } = await RawClient.connected(port, { version: 5, clientId, clean: false, properties: [{ id: pk.Prop.SessionExpiryInterval, value: 3600 }] });
  return { client, present: connack.sessionPresent === true };
}

describe('queued and in-flight messages across a restart', { skip: culexOnly }, () => {
  for (const durability of ['sync', 'batch'] as const) {
    test(`graceful stop at persistence_durability ${durability} keeps queued and in-flight QoS 1/2 messages; in-flight ones come again with DUP and their packet ids`, { timeout: 90000 }, async () => {
      const { dir, port, conf } = await brokerDir([`persistence_durability ${durability}`, 'max_inflight_messages 5', 'max_queued_messages 0']);
      let broker = await startBrokerProcess(conf, dir, port);
      const id = `inflight-${durability}-${process.pid}`;
      const first = await rawSession(port, id);
      first.client.send(pk.subscribe(1, [{ filter: 'keep/q1', qos: 1 }, { filter: 'keep/q2', qos: 2 }], 5));
      await first.client.expect(PacketType.SUBACK);
      const pub = await connectTo(port, { protocolVersion: 5 });
      for (let n = 0; n < 20; n++) await pub.client.publishAsync(n % 2 === 0 ? 'keep/q1' : 'keep/q2', String(n), { qos: (n % 2 === 0 ? 1 : 2) as 1 | 2 });
      await pub.client.endAsync();
      // the first 5 are in flight (max_inflight_messages 5), the other 15 queued
      const inflight = await receivePublishes(first.client, 5, false);
      assert.deepEqual(inflight.map((p) => Number(p.payload!.toString())), [0, 1, 2, 3, 4]);
      first.client.socket.destroy();
      broker.proc.kill('SIGTERM');
      assert.equal((await broker.exit).code, 0);

      broker = await startBrokerProcess(conf, dir, port);
      const again = await rawSession(port, id);
      assert.equal(again.present, true);
      const resent = await receivePublishes(again.client, 5, false);
      // [MQTT-4.4.0-1] unacknowledged PUBLISHes are sent again, in order, with DUP and the same packet ids
      assert.deepEqual(resent.map((p) => [Number(p.payload!.toString()), p.qos, p.dup, p.packetId]), inflight.map((p) => [Number(p.payload!.toString()), p.qos, true, p.packetId]));
      again.client.socket.destroy();
      // a client that acknowledges gets all 20, in order: the 5 again, then the 15 that were queued
      const third = await rawSession(port, id);
      const all = await receivePublishes(third.client, 20, true);
      assert.deepEqual(all.map((p) => Number(p.payload!.toString())), Array.from({ length: 20 }, (_, n) => n));
      third.client.socket.destroy();
      broker.proc.kill('SIGTERM');
      assert.equal((await broker.exit).code, 0);
    });
  }

  test('[MQTT-3.1.3-9] a delayed will survives kill -9 and is published when its delay ends', { timeout: 60000 }, async () => {
    const { dir, port, conf } = await brokerDir();
    let broker = await startBrokerProcess(conf, dir, port);
    const id = `will-${process.pid}`;
    const dying = await connectTo(port, {
      clientId: id, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 },
      will: { topic: 'wills/dead', payload: Buffer.from('gone'), qos: 1, retain: true, properties: { willDelayInterval: 3 } },
    });
    // the connection breaks without DISCONNECT: the will waits 3 s
    dying.client.stream.destroy();
    await sleep(300);
    const killedAt = Date.now();
    broker.proc.kill('SIGKILL');
    await broker.exit;
    broker = await startBrokerProcess(conf, dir, port);
    const watcher = await connectTo(port, { protocolVersion: 5 });
    const wills: string[] = [];
    watcher.client.on('message', (t, p) => wills.push(`${t}=${p.toString()}`));
    await watcher.client.subscribeAsync('wills/#', { qos: 1 });
    await until(() => wills.length > 0, 15000);
    assert.deepEqual(wills, ['wills/dead=gone']);
    assert.ok(Date.now() - killedAt >= 2500, 'not before its delay');
    await watcher.client.endAsync();
    broker.proc.kill('SIGTERM');
    assert.equal((await broker.exit).code, 0);
  });
});

describe('a $share group of persistent consumers survives kill -9', { skip: culexOnly }, () => {
  test('every PUBACKed QoS 1 and PUBCOMPed QoS 2 message reaches the group (members on both workers, reconnecting)', { timeout: 120000 }, async (t) => {
    const { dir, port, conf } = await brokerDir(['max_queued_messages 0', 'max_inflight_messages 20']);
    let broker = await startBrokerProcess(conf, dir, port);
    const clients: MqttClient[] = [];
    after(() => {
      for (const c of clients) c.end(true);
    });
    const members: { id: string; client: MqttClient; q1: number[]; q2: number[] }[] = [];
    for (const [id, v] of [[`m1-${process.pid}`, 5], [`m2-${process.pid}`, 4], [`m3-${process.pid}`, 5]] as const) {
      const client = durableClient(port, id, v);
      clients.push(client);
      await new Promise((r) => client.once('connect', r));
      await client.subscribeAsync({ '$share/g/group/q1': { qos: 1 }, '$share/g/group/q2': { qos: 2 } });
      members.push({ id, client, q1: collect(client, 'group/q1'), q2: collect(client, 'group/q2') });
    }
    // members also drop their connections now and then: their sessions move between the workers
    const moves = churn(members.map((m) => m.client));
    const [p1, p2] = await startPublishers(port, 'group', clients);
    broker = await runUnderKills(broker, () => startBrokerProcess(conf, dir, port), 3, [p1, p2], 300);
    await moves.stop();
    const q1 = (): number[] => members.flatMap((m) => m.q1);
    const q2 = (): number[] => members.flatMap((m) => m.q2);
    await until(() => missing(p1.acked, q1()).length === 0 && missing(p2.acked, q2()).length === 0, 30000);
    t.diagnostic(`acknowledged: ${p1.acked.size} QoS 1, ${p2.acked.size} QoS 2; received by member: ${members.map((m) => `${m.q1.length}+${m.q2.length}`).join(', ')}`);
    assert.deepEqual(missing(p1.acked, q1()).slice(0, 10), [], `PUBACKed QoS 1 messages no member received (of ${p1.acked.size})`);
    assert.deepEqual(missing(p2.acked, q2()).slice(0, 10), [], `PUBCOMPed QoS 2 messages no member received (of ${p2.acked.size})`);
    assertOnce('the group', q2());
    for (const c of clients) c.end(true);
    broker.proc.kill('SIGTERM');
    assert.equal((await broker.exit).code, 0);
  });
});

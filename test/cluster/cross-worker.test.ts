/**
 * Paths that exist only between workers, with every client placed on a chosen worker through the
 * test placement ports (RunningBroker.workerPorts): long ordered streams through the rings, full
 * rings in both directions at once, session takeover from one worker to another (with messages
 * queued, in flight, and still flowing), and a worker that dies.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from 'mqtt';
import { Store as DiskStore } from '../../src/persistence/store.ts';
import { Harness, Inbox, publishMany, sleep, subscribe, uniqueId, type MqttClient } from '../helpers/clients.ts';
import { culexOnly, tempDir, type TestBroker } from '../helpers/broker.ts';
import { PacketType } from '../helpers/raw.ts';

const h = new Harness();
after(() => h.teardown());

/** mqtt://127.0.0.1:<private port of worker w> */
function on(b: TestBroker, w: number): string {
  return `mqtt://127.0.0.1:${b.running!.workerPorts[w]!}`;
}

/** Waits until `inbox` holds `n` messages, failing after `timeoutMs`. */
async function received(inbox: Inbox, n: number, timeoutMs = 60000): Promise<number[]> {
  const got = await inbox.waitFor(n, timeoutMs);
  return got.map((m) => Number(m.payload.toString()));
}

const sequence = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

describe('between workers', { skip: culexOnly }, () => {
  const count = 100_000;
  for (const qos of [0, 1, 2] as const) {
    test(`[MQTT-4.6.0-5] ${count.toLocaleString('en')} numbered QoS ${qos} messages through another worker arrive complete and in order`, { timeout: 240000 }, async () => {
      const b = await h.broker({ workers: 2, maxInflightMessages: 100, maxQueuedMessages: 0 }, { placement: true });
      const topic = `xw/order/${uniqueId()}`;
      const sub = await h.connect(on(b, 1), { protocolVersion: 5 });
      const inbox = new Inbox(sub);
      await subscribe(sub, topic, { qos });
      const pub = await h.connect(on(b, 0), { protocolVersion: 5 });
      if (qos === 0) {
        // QoS 0 may be dropped for a congested subscriber by design: publish in acknowledged-by-arrival batches
        for (let start = 0; start < count; start += 5000) {
          for (let i = start; i < start + 5000; i++) pub.publish(topic, String(i), { qos: 0 });
          await inbox.waitFor(start + 5000, 60000);
        }
      } else {
        await publishMany(pub, topic, count, qos, 50);
      }
      const got = await received(inbox, count);
      assert.equal(got.length, count);
      const firstWrong = got.findIndex((v, i) => v !== i);
      assert.equal(firstWrong, -1, `message ${firstWrong} out of order`);
      assert.equal((await b.stats()).messagesDroppedQueueFull ?? 0, 0);
      await h.closeClients();
      await b.stop();
    });
  }

  test('two workers filling each other\'s rings pause their publishers, lose nothing and do not deadlock', { timeout: 180000 }, async () => {
    // 64 KiB rings: 20 KB messages are larger than the biggest ring record, so they also travel in fragments
    const b = await h.broker({ workers: 2, maxInflightMessages: 50, maxQueuedMessages: 0 }, { placement: true, ringBytes: 1 << 16 });
    const n = 1500;
    const big = (i: number) => Buffer.concat([Buffer.from(`${i}:`), Buffer.alloc(20000, i % 251)]);
    const lanes = [0, 1].map(async (w) => {
      const topic = `xw/full/${w}/${uniqueId()}`;
      const sub = await h.connect(on(b, 1 - w), { protocolVersion: 4 });
      const inbox = new Inbox(sub);
      await subscribe(sub, topic, { qos: 1 });
      const pub = await h.connect(on(b, w), { protocolVersion: 4 });
      return { topic, inbox, pub };
    });
    const ready = await Promise.all(lanes);
    // both directions at once, as fast as the brokers accept
    await Promise.all(ready.map(({ pub, topic }) => publishMany(pub, topic, n, 1, 50, big)));
    for (const { inbox } of ready) {
      const got = await inbox.waitFor(n, 120000);
      got.forEach((m, i) => {
        assert.equal(m.payload.length, 20000 + `${i}:`.length);
        assert.equal(m.payload.toString('latin1', 0, `${i}:`.length), `${i}:`, `message ${i} in order`);
        assert.equal(m.payload[m.payload.length - 1], i % 251);
      });
    }
    const stats = await b.stats();
    assert.ok(stats.ringBacklogRecords! > 0, 'the rings were full at some point (the back-pressure path was taken)');
    await h.closeClients();
    await b.stop();
  });

  describe('a client id taken over on another worker', () => {
    let b: TestBroker;
    before(async () => {
      b = await h.broker({ workers: 3, maxInflightMessages: 20, maxQueuedMessages: 0 }, { placement: true });
    });

    test('[MQTT-3.1.4-3] the session moves with the client id: subscriptions and queued messages, in order', async () => {
      const id = uniqueId('xw-take');
      const topic = `xw/take/${uniqueId()}`;
      const first = await h.connect(on(b, 0), { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } });
      await subscribe(first, topic, { qos: 2 });
      first.end(true);
      await sleep(50);
      const pub = await h.connect(on(b, 2), { protocolVersion: 5 });
      await publishMany(pub, topic, 50, 2);
      const { client: second, connack } = await h.connectWithConnack(on(b, 1), { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } });
      assert.equal(connack.sessionPresent, true);
      const inbox = new Inbox(second);
      assert.deepEqual(await received(inbox, 50), sequence(50));
      // the subscription came along: new messages arrive on the new worker
      await publishMany(pub, topic, 10, 2);
      assert.deepEqual(await received(inbox, 60), [...sequence(50), ...sequence(10)]);
    });

    test('[MQTT-3.1.4-3] a takeover on another worker closes the old connection with 0x8E', async () => {
      const id = uniqueId('xw-8e');
      const old = (await h.rawConnected(b.running!.workerPorts[0]!, { version: 5, clientId: id })).client;
      await h.rawConnected(b.running!.workerPorts[2]!, { version: 5, clientId: id });
      const got = await old.expectClosed();
      assert.equal(got.at(-1)?.type, PacketType.DISCONNECT);
      assert.equal(got.at(-1)?.reasonCode, 0x8e);
    });

    test('QoS 2 messages flowing from a third worker during the takeover arrive exactly once and in order', { timeout: 120000 }, async () => {
      const id = uniqueId('xw-live');
      const topic = `xw/live/${uniqueId()}`;
      // one QoS 2 store shared by both connections of the client, as a persistent client keeps it
      const incomingStore = new Store();
      const opts = { protocolVersion: 5 as const, clientId: id, clean: false, properties: { sessionExpiryInterval: 300 }, incomingStore };
      const seen: number[] = [];
      const collect = (c: MqttClient) => c.on('message', (_t, p) => seen.push(Number(p.toString())));
      const first = await h.connect(on(b, 0), opts);
      collect(first);
      await subscribe(first, topic, { qos: 2 });
      const pub = await h.connect(on(b, 2), { protocolVersion: 5 });
      const total = 3000;
      const publishing = publishMany(pub, topic, total, 2, 20);
      while (seen.length < 500) await sleep(5);
      const second = await h.connect(on(b, 1), opts);
      collect(second);
      await publishing;
      const deadline = Date.now() + 60000;
      while (seen.length < total && Date.now() < deadline) await sleep(20);
      await sleep(300);
      assert.equal(seen.length, total, `exactly ${total} messages (got ${seen.length})`);
      const firstWrong = seen.findIndex((v, i) => v !== i);
      assert.equal(firstWrong, -1, `message ${firstWrong} out of order`);
    });

    test('[MQTT-4.8.2-2] a $share group spread over three workers delivers each message to exactly one member', async () => {
      const topic = `xw/share/${uniqueId()}`;
      const members = await Promise.all([0, 1, 2, 0, 1, 2].map((w) => h.connect(on(b, w), { protocolVersion: 5 })));
      const inboxes = members.map((m) => new Inbox(m));
      for (const m of members) await subscribe(m, `$share/g/${topic}`, { qos: 1 });
      const pub = await h.connect(on(b, 1), { protocolVersion: 5 });
      await publishMany(pub, topic, 600, 1);
      const deadline = Date.now() + 20000;
      while (inboxes.reduce((s, i) => s + i.messages.length, 0) < 600 && Date.now() < deadline) await sleep(20);
      await sleep(200);
      const all = inboxes.flatMap((i) => i.payloads().map(Number)).sort((x, y) => x - y);
      assert.deepEqual(all, sequence(600));
      for (const inbox of inboxes) assert.ok(inbox.messages.length > 0, 'every member took a share');
    });
  });

  test('a worker that dies is replaced: the broker keeps serving, and its clients can reconnect', { timeout: 60000 }, async () => {
    const b = await h.broker({ workers: 2 }, { placement: true });
    const topic = `xw/death/${uniqueId()}`;
    const survivor = await h.connect(on(b, 0), { protocolVersion: 5 });
    const inbox = new Inbox(survivor);
    await subscribe(survivor, topic, { qos: 1 });
    const victimId = uniqueId('victim');
    const victim = await h.connect(on(b, 1), { protocolVersion: 5, clientId: victimId });
    const closed = new Promise<void>((resolve) => victim.once('close', () => resolve()));
    await b.running!.killWorker(1);
    await closed;
    // the replacement serves the same placement port; the victim's id is free again
    const back = await h.connect(on(b, 1), { protocolVersion: 5, clientId: victimId });
    await back.publishAsync(topic, 'after', { qos: 1 });
    const pub0 = await h.connect(on(b, 0), { protocolVersion: 5 });
    await pub0.publishAsync(topic, 'same-worker', { qos: 1 });
    const got = (await inbox.waitFor(2)).map((m) => m.payload.toString()).sort();
    assert.deepEqual(got, ['after', 'same-worker']);
    // the replacement knows the survivor's subscription, and the survivor the replacement's
    const sub1 = await h.connect(on(b, 1), { protocolVersion: 5 });
    const inbox1 = new Inbox(sub1);
    await subscribe(sub1, topic, { qos: 1 });
    await pub0.publishAsync(topic, 'to-both', { qos: 1 });
    assert.equal((await inbox1.waitFor(1))[0]!.payload.toString(), 'to-both');
    await h.closeClients();
    await b.stop();
  });

  test('after a worker dies, its persistent clients reconnect and resume their sessions (persistence on)', { timeout: 60000 }, async () => {
    const tmp = tempDir('culex-xw-');
    try {
      const b = await h.broker({ workers: 2, persistence: true, persistenceLocation: tmp.dir }, { placement: true });
      const id = uniqueId('resume');
      const opts = { protocolVersion: 5 as const, clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } };
      const first = await h.connect(on(b, 1), opts);
      await subscribe(first, 'xw/resume/#', { qos: 1 });
      const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
      await b.running!.killWorker(1);
      await closed;
      // the replacement took its predecessor's sessions from the store; the client may land on any worker
      for (const w of [0, 1]) {
        const { client, connack } = await h.connectWithConnack(on(b, w), opts);
        assert.equal(connack.sessionPresent, true, `resumed through worker ${w}`);
        const inbox = new Inbox(client);
        const pub = await h.connect(on(b, 1 - w), { protocolVersion: 5 });
        await pub.publishAsync(`xw/resume/${w}`, 'still subscribed', { qos: 1 });
        assert.equal((await inbox.waitFor(1))[0]!.payload.toString(), 'still subscribed');
        await client.endAsync();
      }
      await h.closeClients();
      await b.stop();
    } finally {
      tmp.cleanup();
    }
  });

  test('[MQTT-4.8.2] a $share group whose only member keeps moving between workers loses no QoS 1 message', { timeout: 120000 }, async () => {
    const b = await h.broker({ workers: 2, maxQueuedMessages: 0 }, { placement: true });
    const id = uniqueId('share-mover');
    const opts = { protocolVersion: 5 as const, clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } };
    const got = new Set<number>();
    const first = await h.connect(on(b, 0), opts);
    first.on('message', (_t, p) => got.add(Number(p.toString())));
    await subscribe(first, '$share/g/xw/share-mover/#', { qos: 1 });
    const pub = await h.connect(on(b, 1), { protocolVersion: 5 });
    let acked = 0;
    let publishing = true;
    const publisher = (async () => {
      for (let n = 0; publishing; n++) {
        await pub.publishAsync(`xw/share-mover/${n % 4}`, String(n), { qos: 1 });
        acked = n + 1;
      }
    })();
    // the member comes back through the other worker each time: every reconnect moves its session
    let client = first;
    for (let k = 1; k <= 20; k++) {
      await sleep(30);
      const next = h.client(on(b, k % 2), opts);
      next.on('message', (_t, p) => got.add(Number(p.toString())));
      await new Promise((resolve) => next.once('connect', resolve));
      client.end(true);
      client = next;
    }
    publishing = false;
    await publisher;
    const deadline = Date.now() + 20000;
    while (got.size < acked && Date.now() < deadline) await sleep(50);
    const missing = sequence(acked).filter((n) => !got.has(n));
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${acked} acknowledged messages never reached the member`);
    await h.closeClients();
    await b.stop();
  });

  test('a stored session that moves to another worker takes its queue along; once delivered, neither worker leaves a queue entry or message on disk', { timeout: 60000 }, async () => {
    const tmp = tempDir('culex-xw-');
    try {
      const b = await h.broker({ workers: 2, persistence: true, persistenceLocation: tmp.dir }, { placement: true });
      const id = uniqueId('moving');
      const opts = { protocolVersion: 5 as const, clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } };
      const first = await h.connect(on(b, 0), opts);
      await subscribe(first, 'xw/moving/#', { qos: 1 });
      await first.endAsync();
      const pub = await h.connect(on(b, 1), { protocolVersion: 5 });
      await publishMany(pub, 'xw/moving/a', 50, 1);
      // queued and stored on worker 0; the client comes back through worker 1 (the inbox listens before the CONNACK)
      const client = h.client(on(b, 1), opts);
      const inbox = new Inbox(client);
      const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => client.once('connect', resolve));
      assert.equal(connack.sessionPresent, true);
      assert.deepEqual(await received(inbox, 50), sequence(50));
      await sleep(200); // the last PUBACKs reach the broker
      await client.endAsync();
      await h.closeClients();
      await b.stop();
      const store = DiskStore.open({ path: tmp.dir, durability: 'sync', batchWindowMs: 50 });
      try {
        const sessions = store.loadSessions();
        assert.deepEqual(sessions.map((x) => [x.clientId, x.queue.length]), [[id, 0]]);
        assert.equal(store.loadMessages().size, 0, 'the old owner let go of its copies, the new one deleted its own');
      } finally {
        await store.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});

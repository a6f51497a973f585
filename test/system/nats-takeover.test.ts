/**
 * A client id taken over between culex nodes joined through one nats-server (issue 17;
 * src/nats/takeover.ts, src/nats/chunks.ts): three nodes of 2 workers each on loopback. A
 * persistent session moves with its queue and in-flight messages, also one larger than one NATS
 * message (in chunks); the old connection gets 0x8E; one client id CONNECTing on two nodes at the
 * same moment leaves exactly one connection, on the node the registry names.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket, MqttClient } from 'mqtt';
import { connect as connectNats } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Harness, Inbox, closeReason, once, publishMany, sleep, subscribe, uniqueId } from '../helpers/clients.ts';
import { RawClient, rawSubscriber, receivePublishes } from '../helpers/raw.ts';
import { natsMissing, startNats, startNode, stopCluster, type Nats, type Node } from '../helpers/natsCluster.ts';
import { CLIENTS_BUCKET } from '../../src/nats/takeover.ts';

describe('a client id taken over between culex nodes', { skip: natsMissing }, () => {
  const h = new Harness();
  let n1: Node;
  let n2: Node;
  let n3: Node;
  let nats: Nats;

  before(async () => {
    nats = await startNats();
    // room for the 20,000 queued messages of the large session
    [n1, n2, n3] = await Promise.all([
      startNode(nats, 'n1', ['max_queued_messages 30000']),
      startNode(nats, 'n2', ['max_queued_messages 30000']),
      startNode(nats, 'n3'),
    ]);
  });
  after(async () => {
    await h.teardown();
    stopCluster();
  });

  test('[MQTT-3.1.4-3] a persistent session moves from node 1 to node 2 with its queue, in order', async () => {
    const clientId = uniqueId('mover');
    const topic = `move/${clientId}`;
    const opts = { protocolVersion: 5 as const, clientId, clean: false, properties: { sessionExpiryInterval: 3600 } };
    const first = await h.connect(n1.url, opts);
    await subscribe(first, topic, { qos: 1 });
    first.end(true);
    await sleep(200);
    const pub = await h.connect(n3.url);
    await publishMany(pub, topic, 20, 1);
    await sleep(500); // node 1 queues them for the offline session as they arrive through NATS
    const second = h.client(n2.url, opts);
    const inbox = new Inbox(second); // before the CONNACK: the queue follows it in the same read
    const connack = await once<IConnackPacket>(second, 'connect');
    assert.equal(connack.sessionPresent, true);
    const got = await inbox.waitFor(20);
    assert.deepEqual(got.map((m) => m.payload.toString()), Array.from({ length: 20 }, (_, i) => String(i)));
    // the subscription came along: a later message reaches node 2, and node 1 no longer has it
    await pub.publishAsync(topic, 'after', { qos: 1 });
    assert.equal((await inbox.waitFor(21))[20]!.payload.toString(), 'after');
    await inbox.expectNone(300);
  });

  test('[MQTT-3.1.4-3] a session larger than one NATS message moves from node 1 to node 2: 20,000 queued 200-byte QoS 1 messages, in order', async () => {
    const clientId = uniqueId('big');
    const topic = `big/${clientId}`;
    const COUNT = 20000;
    const payload = (i: number): string => String(i).padStart(200, '.');
    // 4 MB of payloads alone: more than NATS's max_payload (1 MiB by default), so the session goes in chunks
    assert.ok(COUNT * payload(0).length > 1024 * 1024);
    const opts = { protocolVersion: 5 as const, clientId, clean: false, properties: { sessionExpiryInterval: 3600 } };
    const first = await h.connect(n1.url, opts);
    await subscribe(first, topic, { qos: 1 });
    first.end(true);
    await sleep(200);
    // published on node 1 itself: each PUBACK means the message is queued (committed) for the offline session there
    const pub = await h.connect(n1.url);
    await publishMany(pub, topic, COUNT, 1, 50, payload);
    const second = h.client(n2.url, opts);
    const inbox = new Inbox(second);
    const connack = await once<IConnackPacket>(second, 'connect', 60000);
    assert.equal(connack.sessionPresent, true);
    const got = await inbox.waitFor(COUNT, 120000);
    const wrong = got.findIndex((m, i) => m.payload.toString() !== payload(i));
    assert.equal(wrong, -1, `message ${wrong} is ${got[wrong]?.payload.toString().replace(/^\.+/, '')}`);
    // the subscription came along too
    await pub.publishAsync(topic, 'after', { qos: 1 });
    assert.equal((await inbox.waitFor(COUNT + 1))[COUNT]!.payload.toString(), 'after');
    await inbox.expectNone(300);
  });

  test('[MQTT-4.4.0-1] a QoS 1 message in flight on node 1 is sent again, DUP set, once the session moved to node 2', async () => {
    const clientId = uniqueId('inflight');
    const topic = `inflight/${clientId}`;
    // 3.1.1, persistent session; the first PUBLISH is read and never acknowledged. Its will tells
    // when node 1 has seen the connection go: 'two' is queued then, not written to the dead socket
    // (where it would be in flight too, and rightly come again with DUP set)
    const watcher = await h.connect(n1.url);
    const wills = new Inbox(watcher);
    await subscribe(watcher, `${topic}/gone`, { qos: 0 });
    const { client: first } = await rawSubscriber(n1.port, [{ filter: topic, qos: 1 }], { clientId, clean: false, will: { topic: `${topic}/gone`, payload: 'x' } });
    const pub = await h.connect(n3.url);
    await pub.publishAsync(topic, 'one', { qos: 1 });
    const [unacked] = await receivePublishes(first, 1, false);
    assert.equal(unacked!.payload!.toString(), 'one');
    first.destroy();
    await first.closed;
    await wills.next();
    await pub.publishAsync(topic, 'two', { qos: 1 });
    await sleep(300);
    const { client: second, connack } = await RawClient.connected(n2.port, { clientId, clean: false });
    assert.equal(connack.sessionPresent, true);
    const again = await receivePublishes(second, 2);
    assert.deepEqual(again.map((p) => [p.payload!.toString(), p.dup === true]), [['one', true], ['two', false]]);
    second.destroy();
  });

  test('a client connected on node 1 is closed with 0x8E when its id connects on node 2', async () => {
    const clientId = uniqueId('taken');
    const old = await h.connect(n1.url, { protocolVersion: 5, clientId });
    const closed = closeReason(old);
    await h.connect(n2.url, { protocolVersion: 5, clientId });
    assert.equal(await closed, 0x8e);
  });

  test('[MQTT-3.1.4-3] one client id CONNECTing on nodes 1 and 2 at the same moment, 20 rounds: one connection stays open cluster-wide, and the registry names its node', async () => {
    const nc = await connectNats({ servers: nats.url });
    try {
      const kv = await new Kvm(jetstream(nc)).open(CLIENTS_BUCKET);
      const clientId = uniqueId('race');
      const key = Buffer.from(clientId).toString('base64url');
      let open: { client: MqttClient; node: Node }[] = [];
      for (let round = 0; round < 20; round++) {
        // the same id every round: the first races for a free id, the others also against the last round's survivor
        const pair = [n1, n2].map((node) => ({ client: h.client(node.url, { protocolVersion: 5, clientId, clean: round % 2 === 0 }), node }));
        open.push(...pair);
        // each either gets its CONNACK or is closed (taken over) before it
        await Promise.all(pair.map(({ client }) => new Promise<void>((resolve) => {
          if (client.connected) resolve();
          client.once('connect', () => resolve());
          client.once('close', () => resolve());
        })));
        // the older connections are closed with 0x8E: wait until one is left, then for nothing more to change
        const deadline = Date.now() + 15000;
        for (;;) {
          open = open.filter(({ client }) => client.connected);
          if (open.length <= 1 || Date.now() > deadline) {
            await sleep(300);
            open = open.filter(({ client }) => client.connected);
            break;
          }
          await sleep(50);
        }
        const logs = (): string => [n1, n2].map((n) => `${n.name}:\n${n.proc.output().split('\n').filter((l) => l.includes(clientId)).slice(-30).join('\n')}`).join('\n');
        assert.equal(open.length, 1, `round ${round}: ${open.length} connections open for ${clientId} (${open.map((o) => o.node.name).join(', ')}); the nodes' log lines for it:\n${logs()}`);
        const entry = await kv.get(key);
        assert.equal(entry?.string().split(' ')[0], open[0]!.node.name, `round ${round}: the registry names the node of the open connection`);
      }
      // the survivor works: a message to it arrives
      const survivor = open[0]!.client;
      const inbox = new Inbox(survivor);
      await subscribe(survivor, `race/${clientId}`, { qos: 1 });
      const pub = await h.connect(n3.url);
      await pub.publishAsync(`race/${clientId}`, 'hello', { qos: 1 });
      assert.equal((await inbox.next()).payload.toString(), 'hello');
    } finally {
      await nc.close();
    }
  });
});

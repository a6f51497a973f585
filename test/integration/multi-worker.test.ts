/**
 * A broker with several worker threads, seen from outside: the kernel spreads connections over
 * the workers, so many clients exercise every cross-worker path (routing, order, takeover, shared
 * groups, retained) without knowing which worker holds whom.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket } from 'mqtt';
import { Harness, Inbox, once, publishMany, subscribe, uniqueId, type MqttClient } from '../helpers/clients.ts';
import { PacketType } from '../helpers/raw.ts';
import type { TestBroker } from '../helpers/broker.ts';

const h = new Harness();
let broker: TestBroker;
const clientCount = 12;

before(async () => { broker = await h.broker({ workers: 2 }); });
after(() => h.teardown());

async function many(n: number, v: 4 | 5 = 5): Promise<MqttClient[]> {
  const out: MqttClient[] = [];
  for (let i = 0; i < n; i++) out.push(await h.connect(broker.url, { protocolVersion: v }));
  return out;
}

describe('several workers', () => {
  test('every client receives what every other client publishes', async () => {
    const topic = `mw/${uniqueId()}`;
    const clients = await many(clientCount);
    const inboxes = clients.map((c) => new Inbox(c));
    for (const c of clients) await subscribe(c, topic, { qos: 1 });
    for (let i = 0; i < clients.length; i++) await clients[i]!.publishAsync(topic, String(i), { qos: 1 });
    for (const inbox of inboxes) {
      const got = await inbox.waitFor(clientCount);
      assert.deepEqual(got.map((m) => m.payload.toString()).sort(), Array.from({ length: clientCount }, (_, i) => String(i)).sort());
    }
  });

  for (const qos of [0, 1, 2] as const) {
    test(`[MQTT-4.6.0-5] order from one publisher is kept for every subscriber, QoS ${qos}`, async () => {
      const topic = `mwo/${uniqueId()}`;
      const subs = await many(6);
      const inboxes = subs.map((c) => new Inbox(c));
      for (const s of subs) await subscribe(s, topic, { qos });
      const pub = await h.connect(broker.url, { protocolVersion: 5 });
      await publishMany(pub, topic, 500, qos);
      const expected = Array.from({ length: 500 }, (_, i) => i);
      for (const inbox of inboxes) {
        const got = await inbox.waitFor(500, 60000);
        assert.deepEqual(got.map((m) => Number(m.payload.toString())), expected);
      }
    });
  }

  test('[MQTT-3.1.4-3] takeover by client id works whichever worker holds the old connection', async () => {
    const id = uniqueId('mwt');
    let previous = (await h.rawConnected(broker.port, { version: 5, clientId: id })).client;
    for (let i = 0; i < 6; i++) {
      const next = (await h.rawConnected(broker.port, { version: 5, clientId: id })).client;
      const got = await previous.expectClosed();
      assert.equal(got.at(-1)?.type, PacketType.DISCONNECT);
      assert.equal(got.at(-1)?.reasonCode, 0x8e);
      previous = next;
    }
    await previous.end();
  });

  test('a shared group spread over workers gets each message exactly once', async () => {
    const topic = `mws/${uniqueId()}`;
    const members = await many(8);
    const inboxes = members.map((c) => new Inbox(c));
    for (const m of members) await subscribe(m, `$share/mw/${topic}`, { qos: 1 });
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    await publishMany(pub, topic, 80, 1);
    const deadline = Date.now() + 15000;
    while (inboxes.reduce((s, i) => s + i.messages.length, 0) < 80 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 250));
    const all = inboxes.flatMap((i) => i.payloads()).sort((a, b) => Number(a) - Number(b));
    assert.deepEqual(all, Array.from({ length: 80 }, (_, i) => String(i)));
  });

  test('a retained message is seen from every connection', async () => {
    const topic = `mwr/${uniqueId()}`;
    const pub = await h.connect(broker.url, { protocolVersion: 4 });
    await pub.publishAsync(topic, 'everywhere', { qos: 1, retain: true });
    const subs = await many(clientCount, 4);
    for (const s of subs) {
      const inbox = new Inbox(s);
      await subscribe(s, topic, { qos: 1 });
      assert.equal((await inbox.waitFor(1))[0]!.payload.toString(), 'everywhere');
    }
  });

  test('a persistent session resumes on whichever worker the new connection lands', async () => {
    const topic = `mwp/${uniqueId()}`;
    const id = uniqueId('mwp');
    const opts = { protocolVersion: 5 as const, clientId: id, clean: false, properties: { sessionExpiryInterval: 300 } };
    const first = await h.connect(broker.url, opts);
    await subscribe(first, topic, { qos: 1 });
    await first.endAsync();
    const pub = await h.connect(broker.url, { protocolVersion: 5 });
    for (let round = 0; round < 4; round++) {
      await pub.publishAsync(topic, `r${round}`, { qos: 1 });
      const client = h.client(broker.url, opts);
      const inbox = new Inbox(client); // before CONNACK: the queued message may come in the same read
      const connack = await once<IConnackPacket>(client, 'connect');
      assert.equal(connack.sessionPresent, true);
      assert.equal((await inbox.waitFor(1))[0]!.payload.toString(), `r${round}`);
      await client.endAsync();
    }
  });
});

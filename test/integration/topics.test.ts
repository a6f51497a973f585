/**
 * Topic filters over real sockets: the `+` / `#` matching table, `$` topics, invalid filters in
 * SUBSCRIBE, UNSUBSCRIBE of a filter that was never subscribed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, Inbox, subscribe, uniqueId, versions } from '../helpers/clients.ts';
import { PacketType, expectSubscribeRefused, pk } from '../helpers/raw.ts';
import type { TestBroker } from '../helpers/broker.ts';

const h = new Harness();
let broker: TestBroker;

before(async () => { broker = await h.broker(); });
after(() => h.teardown());

/** filter → the topics (of `topics` below) it must match; every other topic must not match. */
const table: Record<string, string[]> = {
  'sport/tennis/player1/#': ['sport/tennis/player1', 'sport/tennis/player1/ranking', 'sport/tennis/player1/score/wimbledon'],
  'sport/#': ['sport', 'sport/', 'sport/tennis/player1', 'sport/tennis/player1/ranking', 'sport/tennis/player1/score/wimbledon', 'sport/tennis/player2', 'sport/tennis'],
  '#': ['sport', 'sport/', 'sport/tennis/player1', 'sport/tennis/player1/ranking', 'sport/tennis/player1/score/wimbledon', 'sport/tennis/player2', 'sport/tennis', '/finance', 'finance', '/', 'a//b'],
  'sport/tennis/+': ['sport/tennis/player1', 'sport/tennis/player2'],
  'sport/+': ['sport/', 'sport/tennis'],
  '+': ['sport', 'finance'],
  '+/+': ['sport/', '/finance', '/', 'sport/tennis'],
  '/+': ['/finance', '/'],
  '+/tennis/#': ['sport/tennis/player1', 'sport/tennis/player1/ranking', 'sport/tennis/player1/score/wimbledon', 'sport/tennis/player2', 'sport/tennis'],
  'sport/+/player1': ['sport/tennis/player1'],
  'a/+/b': ['a//b'],
  'sport/tennis/player1': ['sport/tennis/player1'],
  'Sport/#': [],
  '$dollar/#': ['$dollar/monitor/Clients', '$dollar'],
  '+/monitor/Clients': [],
  '$dollar/monitor/+': ['$dollar/monitor/Clients'],
};

const topics = [
  'sport', 'sport/', 'sport/tennis', 'sport/tennis/player1', 'sport/tennis/player1/ranking',
  'sport/tennis/player1/score/wimbledon', 'sport/tennis/player2', '/finance', 'finance', '/', 'a//b',
  '$dollar/monitor/Clients', '$dollar',
];

for (const v of versions) {
  describe(`topic matching, MQTT ${v === 5 ? '5.0' : '3.1.1'}`, () => {
    test('[MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.2-1] wildcard matching table (incl. $ topics not matched by leading wildcards)', async () => {
      // A private broker: `#` must see nothing but this test's publications.
      const b = await h.broker();
      const inboxes = new Map<string, Inbox>();
      for (const filter of Object.keys(table)) {
        const c = await h.connect(b.url, { protocolVersion: v });
        inboxes.set(filter, new Inbox(c));
        assert.deepEqual(await subscribe(c, filter, { qos: 1 }), [1], filter);
      }
      const pub = await h.connect(b.url, { protocolVersion: v });
      for (const t of topics) await pub.publishAsync(t, t, { qos: 1 });
      for (const [filter, expected] of Object.entries(table)) {
        const inbox = inboxes.get(filter)!;
        await inbox.waitFor(expected.length);
      }
      await new Promise((r) => setTimeout(r, 250));
      for (const [filter, expected] of Object.entries(table)) {
        const got = inboxes.get(filter)!.messages.map((m) => m.topic);
        assert.deepEqual(got.sort(), [...expected].sort(), `filter ${filter}`);
      }
      await h.closeClients();
      await b.stop();
    });

    for (const filter of ['a/#/b', 'a/b#', 'a/+b', 'a+/b', '#/a', '']) {
      test(`[MQTT-4.7.1-1] invalid filter ${JSON.stringify(filter)}: refused in SUBACK (0x80${v === 5 ? '/0x8F' : ''}) or connection closed`, async () => {
        const { client: r } = await h.rawConnected(broker.port, { version: v });
        r.send(pk.subscribe(5, [{ filter, qos: 1 }], v));
        await expectSubscribeRefused(r, 5);
      });
    }

    test('a SUBSCRIBE mixing a valid and an invalid filter grants the valid one or closes', async () => {
      const { client: r } = await h.rawConnected(broker.port, { version: v });
      r.send(pk.subscribe(6, [{ filter: 'ok/topic', qos: 1 }, { filter: 'bad/#/x', qos: 1 }], v));
      let p;
      try { p = await r.nextPacket(); } catch { p = undefined; }
      if (p?.type === PacketType.SUBACK) {
        assert.equal(p.reasonCodes![0], 1);
        assert.ok(p.reasonCodes![1]! >= 0x80);
        await r.end();
      } else {
        await r.expectClosed();
      }
    });

    test('topic names are case-sensitive and may contain spaces [MQTT-4.7.3-4]', async () => {
      const base = `Case/${uniqueId()}`;
      const c = await h.connect(broker.url, { protocolVersion: v });
      const inbox = new Inbox(c);
      await subscribe(c, `${base}/with space`, { qos: 1 });
      const pub = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(`${base.toLowerCase()}/with space`, 'lower', { qos: 1 });
      await pub.publishAsync(`${base}/with space`, 'exact', { qos: 1 });
      assert.deepEqual((await inbox.waitFor(1)).map((m) => m.payload.toString()), ['exact']);
      await inbox.expectNone(200);
    });

    test('a topic of 65535 bytes is routed', async () => {
      const topic = `long/${uniqueId()}/`.padEnd(65535, 'x');
      const c = await h.connect(broker.url, { protocolVersion: v });
      const inbox = new Inbox(c);
      await subscribe(c, topic, { qos: 1 });
      const pub = await h.connect(broker.url, { protocolVersion: v });
      await pub.publishAsync(topic, 'long', { qos: 1 });
      assert.equal((await inbox.waitFor(1))[0]!.topic, topic);
    });
  });
}

describe('UNSUBSCRIBE of a filter with no subscription', () => {
  test('MQTT 5.0: UNSUBACK reason 0x11 (No subscription existed) per filter', async () => {
    const { client: r } = await h.rawConnected(broker.port, { version: 5 });
    r.send(pk.subscribe(1, [{ filter: 'exists/x', qos: 0 }], 5));
    await r.expect(PacketType.SUBACK);
    r.send(pk.unsubscribe(2, ['never/x', 'exists/x'], 5));
    const unsuback = await r.expect(PacketType.UNSUBACK);
    assert.equal(unsuback.packetId, 2);
    assert.deepEqual(unsuback.reasonCodes, [0x11, 0x00]);
    await r.end();
  });

  test('[MQTT-3.10.4-5] MQTT 3.1.1: UNSUBACK is sent even when nothing was subscribed', async () => {
    const { client: r } = await h.rawConnected(broker.port, { version: 4 });
    r.send(pk.unsubscribe(3, ['never/x'], 4));
    const unsuback = await r.expect(PacketType.UNSUBACK);
    assert.equal(unsuback.packetId, 3);
    assert.equal(unsuback.body.length, 2);
    await r.end();
  });
});

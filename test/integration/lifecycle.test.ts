/**
 * The broker's own lifecycle through its API: graceful stop (clients told, listener closed) and
 * the counters of stats() moving with what clients do.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Harness, uniqueId } from '../helpers/clients.ts';
import { PacketType, pk } from '../helpers/raw.ts';
import { culexOnly } from '../helpers/broker.ts';

const h = new Harness();
after(() => h.teardown());

/** Polls stats() until `pred` holds (counters are folded in per batch, not per packet). */
async function statsUntil(stats: () => Promise<Record<string, number>>, pred: (s: Record<string, number>) => boolean): Promise<Record<string, number>> {
  const deadline = Date.now() + 10000;
  for (;;) {
    const s = await stats();
    if (pred(s)) return s;
    if (Date.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('graceful stop', () => {
  test('[MQTT-4.13.2-1] stop(): a 5.0 client gets DISCONNECT 0x8B, a 3.1.1 client is closed, the port stops accepting', async () => {
    const b = await h.broker();
    const { client: v5 } = await h.rawConnected(b.port, { version: 5 });
    const { client: v4 } = await h.rawConnected(b.port, { version: 4 });
    await b.stop();
    const got5 = await v5.expectClosed();
    assert.equal(got5.length, 1);
    assert.equal(got5[0]!.type, PacketType.DISCONNECT);
    assert.equal(got5[0]!.reasonCode, 0x8b, 'Server shutting down');
    assert.deepEqual(await v4.expectClosed(), []);
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port: b.port, host: '127.0.0.1' });
      s.once('connect', () => { s.destroy(); resolve(false); });
      s.once('error', () => resolve(true));
    });
    assert.ok(refused, 'listener closed');
  });
});

describe('stats()', { skip: culexOnly }, () => {
  test('clientsConnected, messagesReceived and protocolErrors follow the clients', async () => {
    const b = await h.broker();
    const before = await b.stats();
    assert.equal(before.clientsConnected, 0);
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push((await h.rawConnected(b.port, { version: 5 })).client);
    let s = await statsUntil(() => b.stats(), (x) => x.clientsConnected === 3);
    assert.equal(s.clientsConnected, 3);
    // messagesReceived counts packets of every type, as Mosquitto's $SYS/broker/messages/received
    const base = s.messagesReceived!;
    for (let i = 1; i <= 5; i++) clients[0]!.send(pk.publish({ version: 5, topic: `st/${uniqueId()}`, qos: 1, packetId: i, payload: 'x' }));
    for (let i = 1; i <= 5; i++) await clients[0]!.expect(PacketType.PUBACK);
    s = await statsUntil(() => b.stats(), (x) => x.messagesReceived! >= base + 5);
    assert.equal(s.messagesReceived! - base, 5);
    assert.equal(s.publishReceivedQos1! - (before.publishReceivedQos1 ?? 0), 5);
    clients[1]!.send('c100'); // PINGREQ with bad flags [MQTT-2.2.2-2]
    await clients[1]!.expectClosed();
    s = await statsUntil(() => b.stats(), (x) => x.protocolErrors > (before.protocolErrors ?? 0) && x.clientsConnected === 2);
    assert.equal(s.protocolErrors - (before.protocolErrors ?? 0), 1);
    assert.equal(s.clientsConnected, 2);
  });
});

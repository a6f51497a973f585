/**
 * Start-up after a clean stop (src/persistence/cleanStop.ts): the workers sum up every stored
 * queue when they stop, and the next start reads none of the queued entries. Each test stops
 * culex as a user does (SIGTERM), starts it again on the same store, and checks what a client
 * gets: every queued message in order, the in-flight ones again with DUP and their packet ids,
 * nothing lost or doubled, shared log messages deleted with their last entry. A crash after a
 * clean start, and a start with another worker count, read every entry as before.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { culexOnly } from '../helpers/broker.ts';
import type { CliProcess } from '../helpers/broker.ts';
import { brokerDir, cleanupBrokerProcesses, connectTo, startBrokerProcess } from '../helpers/brokerProcess.ts';
import { finishFlows, publishNumbered, takeBack, takeInFlight } from '../helpers/queueRedelivery.ts';
import { PacketType, pk, RawClient } from '../helpers/raw.ts';

after(cleanupBrokerProcesses);

const CLEAN = 'clean stop: queued entries left unread';

/** SIGTERM, as a service manager stops it: the exit must be clean. */
async function stop(broker: CliProcess): Promise<void> {
  broker.proc.kill('SIGTERM');
  assert.equal((await broker.exit).code, 0, broker.output());
}

/** The start-up line about the store (server.ts). */
function storeLine(broker: CliProcess): string {
  return broker.output().split('\n').find((l) => l.includes('persistent sessions with')) ?? `(no store line in:\n${broker.output()})`;
}

/** A persistent 3.1.1 subscriber at QoS `qos` to `filter`, offline again at once. */
async function subscribeOffline(port: number, clientId: string, filter: string, qos: 1 | 2): Promise<void> {
  const c = (await RawClient.connected(port, { version: 4, clientId, clean: false })).client;
  c.send(pk.subscribe(1, [{ filter, qos }], 4));
  await c.expect(PacketType.SUBACK);
  c.socket.destroy();
}

/** Takes `n` QoS 1 messages as `clientId` (acknowledging each), returning their payloads as numbers. */
async function drain(port: number, clientId: string, n: number): Promise<number[]> {
  const c = (await RawClient.connected(port, { version: 4, clientId, clean: false })).client;
  const got: number[] = [];
  while (got.length < n) {
    const p = await c.nextPacket(30000);
    if (p.type !== PacketType.PUBLISH) continue;
    got.push(Number(p.payload!.toString()));
    c.send(pk.ack(PacketType.PUBACK, p.packetId!));
  }
  await c.expectNoPacket(300);
  c.socket.destroy();
  return got;
}

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

describe('start-up after a clean stop', { skip: culexOnly }, () => {
  for (const qos of [1, 2] as const) {
    test(`QoS ${qos}: 2000 queued messages, 10 in flight, across SIGTERM: the start reads no queued entry; in-flight ones come with DUP and their ids, then the rest in order, once`, { timeout: 120000 }, async () => {
      const QUEUED = 2000;
      const INFLIGHT = 10;
      const { dir, port, conf } = await brokerDir(['max_queued_messages 0', `max_inflight_messages ${INFLIGHT}`]);
      let broker = await startBrokerProcess(conf, dir, port);
      const fields = { version: 4 as const, clientId: `clean-${qos}-${process.pid}`, clean: false };
      await subscribeOffline(port, fields.clientId, 'cs/#', qos);
      await publishNumbered(port, 'cs/x', 0, QUEUED, qos);
      // the client takes the first INFLIGHT and acknowledges none (QoS 2: PUBRECs the first 3 and gets their PUBRELs)
      const { taking, sent, recd } = await takeInFlight(port, fields, INFLIGHT, qos);
      taking.socket.destroy();
      await new Promise((r) => setTimeout(r, 300));
      await stop(broker);

      broker = await startBrokerProcess(conf, dir, port);
      assert.match(storeLine(broker), new RegExp(`1 persistent sessions with ${QUEUED} queued messages.*${CLEAN}`));
      const back = (await RawClient.connected(port, fields)).client;
      const { got, pubrels } = await takeBack(back, qos, QUEUED - recd.length);
      // [MQTT-4.4.0-1] the PUBRECed ones are released, not sent again; the others that were in flight come again with DUP and their ids
      assert.deepEqual(pubrels.sort((a, b) => a - b), recd.map((p) => p.packetId!).sort((a, b) => a - b));
      const again = sent.slice(recd.length);
      assert.deepEqual(got.slice(0, again.length).map((p) => [Number(p.payload!.toString()), p.packetId, p.dup]), again.map((p) => [Number(p.payload!.toString()), p.packetId, true]));
      assert.deepEqual(got.map((p) => Number(p.payload!.toString())), range(recd.length, QUEUED - recd.length));
      await finishFlows(back);
      back.socket.destroy();
      await new Promise((r) => setTimeout(r, 300));
      await stop(broker);
      // everything was acknowledged: the next clean start finds nothing queued
      broker = await startBrokerProcess(conf, dir, port);
      assert.match(storeLine(broker), /1 persistent sessions with 0 queued messages \(0 in the shared message log\).*clean stop/);
      await stop(broker);
    });
  }

  test('messages shared by several sessions: read back after a clean stop, a session that expired meanwhile lets go of its references, and the log ends empty', { timeout: 120000 }, async () => {
    const N = 400;
    const { dir, port, conf } = await brokerDir(['max_queued_messages 0']);
    let broker = await startBrokerProcess(conf, dir, port);
    // three sessions on two workers: at least two share a worker, so messages go to the shared log
    for (const id of ['a', 'b', 'c']) await subscribeOffline(port, `shared-${id}-${process.pid}`, 'sh/#', 1);
    // a fourth one expires 2 s after it leaves (MQTT 5 Session Expiry Interval)
    const { client: d } = await connectTo(port, { protocolVersion: 5, clientId: `shared-d-${process.pid}`, clean: false, properties: { sessionExpiryInterval: 2 } });
    await d.subscribeAsync('sh/#', { qos: 1 });
    await d.endAsync();
    await publishNumbered(port, 'sh/x', 0, N, 1);
    await stop(broker);
    await new Promise((r) => setTimeout(r, 2500));

    broker = await startBrokerProcess(conf, dir, port);
    assert.match(storeLine(broker), new RegExp(`4 persistent sessions with ${4 * N} queued messages.*${CLEAN}`));
    for (const id of ['a', 'b', 'c']) assert.deepEqual(await drain(port, `shared-${id}-${process.pid}`, N), range(0, N), id);
    const { client: back, connack } = await connectTo(port, { protocolVersion: 5, clientId: `shared-d-${process.pid}`, clean: false });
    assert.equal(connack.sessionPresent, false, 'the session expired while the broker was down');
    await back.endAsync();
    await stop(broker);
    // had the expired session's references been kept, its messages would stay in the log
    broker = await startBrokerProcess(conf, dir, port);
    assert.match(storeLine(broker), /3 persistent sessions with 0 queued messages \(0 in the shared message log\).*clean stop/);
    await stop(broker);
  });

  test('kill -9 after a clean start, then another worker count: every entry is read again and nothing is lost', { timeout: 120000 }, async () => {
    const { dir, port, conf } = await brokerDir(['max_queued_messages 0']);
    const id = `crash-${process.pid}`;
    let broker = await startBrokerProcess(conf, dir, port);
    await subscribeOffline(port, id, 'cr/#', 1);
    await publishNumbered(port, 'cr/x', 0, 300, 1);
    await stop(broker);
    broker = await startBrokerProcess(conf, dir, port);
    assert.match(storeLine(broker), new RegExp(CLEAN));
    await publishNumbered(port, 'cr/x', 300, 200, 1);
    // the clean start took the marks out: this crash cannot pass for a clean stop
    broker.proc.kill('SIGKILL');
    await broker.exit;
    broker = await startBrokerProcess(conf, dir, port);
    assert.match(storeLine(broker), /with 500 queued messages.*every queued entry read: the last run did not stop cleanly/);
    await stop(broker);
    writeFileSync(conf, readFileSync(conf, 'utf8').replace('workers 2', 'workers 1'));
    broker = await startBrokerProcess(conf, dir, port);
    assert.match(storeLine(broker), /with 500 queued messages.*every queued entry read: the last run had 2 workers, this one 1/);
    assert.deepEqual(await drain(port, id, 500), range(0, 500));
    await stop(broker);
  });
});

/**
 * A long queue across kill -9: start-up reads only what was in flight and sums up the rest of a
 * persistent session's queue, which stays on disk (src/persistence/load.ts) and is read back in
 * order as the client takes it. What was sent and not acknowledged comes again with DUP and its
 * packet id, a PUBRECed QoS 2 message as a PUBREL; then the rest, in order, exactly once.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { culexOnly } from '../helpers/broker.ts';
import { brokerDir, cleanupBrokerProcesses, connectTo, startBrokerProcess } from '../helpers/brokerProcess.ts';
import { PacketType, pk, RawClient, type Packet } from '../helpers/raw.ts';

after(cleanupBrokerProcesses);

const QUEUED = Number(process.env.LQ_N ?? 6000);
const INFLIGHT = 10;

/** Publishes `count` messages numbered from `from` with at most 8 in flight. */
async function publishNumbered(port: number, topic: string, from: number, count: number, qos: 1 | 2): Promise<void> {
  const { client } = await connectTo(port, { protocolVersion: 5, clientId: `pub-${process.pid}-${topic}` });
  let next = from;
  const lane = async (): Promise<void> => {
    while (next < from + count) await client.publishAsync(topic, String(next++), { qos });
  };
  await Promise.all(Array.from({ length: 8 }, lane)); // below max_inflight_messages (the broker's Receive Maximum)
  await client.endAsync();
}

describe('a long queue across kill -9', { skip: culexOnly }, () => {
  for (const qos of [1, 2] as const) {
    test(`QoS ${qos}: ${QUEUED} queued messages of an offline session, ${INFLIGHT} of them in flight, all come back in order after kill -9; in-flight ones with DUP and their packet ids`, { timeout: 180000 }, async () => {
      const { dir, port, conf } = await brokerDir(['max_queued_messages 0', `max_inflight_messages ${INFLIGHT}`]);
      let broker = await startBrokerProcess(conf, dir, port);
      const fields = { version: 4 as const, clientId: `long-${qos}-${process.pid}`, clean: false };
      const first = (await RawClient.connected(port, fields)).client;
      first.send(pk.subscribe(1, [{ filter: 'long/#', qos }], 4));
      await first.expect(PacketType.SUBACK);
      first.socket.destroy();
      await publishNumbered(port, 'long/x', 0, QUEUED, qos);

      // the client takes the first INFLIGHT messages and acknowledges none (QoS 2: PUBRECs the first 3)
      const taking = (await RawClient.connected(port, fields)).client;
      const sent: Packet[] = [];
      while (sent.length < INFLIGHT) {
        const p = await taking.nextPacket(20000);
        if (p.type === PacketType.PUBLISH) sent.push(p);
      }
      const recd = qos === 2 ? sent.slice(0, 3) : [];
      for (const p of recd) taking.send(pk.ack(PacketType.PUBREC, p.packetId!));
      if (recd.length > 0) {
        // the PUBRELs come once the PUBREC state is on disk
        for (let n = 0; n < recd.length; ) if ((await taking.nextPacket(20000)).type === PacketType.PUBREL) n++;
      }
      assert.deepEqual(sent.map((p) => Number(p.payload!.toString())), Array.from({ length: INFLIGHT }, (_, i) => i));

      // a QoS 1 PUBLISH goes before its packet id is written (a crash just after sending would send it again as new); let the writes land
      await new Promise((r) => setTimeout(r, 500));
      broker.proc.kill('SIGKILL');
      await broker.exit;
      taking.socket.destroy();
      broker = await startBrokerProcess(conf, dir, port);

      const back = (await RawClient.connected(port, fields)).client;
      /** PUBRELs for ids this connection did not PUBREC: the flows restored in the PUBREC state */
      const pubrels: number[] = [];
      const recdHere = new Set<number>();
      const got: Packet[] = [];
      while (got.length < QUEUED - recd.length) {
        const p = await back.nextPacket(30000);
        if (p.type === PacketType.PUBREL) {
          if (!recdHere.delete(p.packetId!)) pubrels.push(p.packetId!);
          back.send(pk.ack(PacketType.PUBCOMP, p.packetId!));
        } else if (p.type === PacketType.PUBLISH) {
          got.push(p);
          if (qos === 2) recdHere.add(p.packetId!);
          back.send(pk.ack(qos === 1 ? PacketType.PUBACK : PacketType.PUBREC, p.packetId!));
        }
      }
      // [MQTT-4.4.0-1] the PUBRECed ones are released, not sent again; the others that were in flight come again with DUP and their ids
      assert.deepEqual(pubrels.sort((a, b) => a - b), recd.map((p) => p.packetId!).sort((a, b) => a - b));
      const again = sent.slice(recd.length);
      assert.deepEqual(got.slice(0, again.length).map((p) => [Number(p.payload!.toString()), p.packetId, p.dup]), again.map((p) => [Number(p.payload!.toString()), p.packetId, true]));
      assert.deepEqual(got.map((p) => Number(p.payload!.toString())), Array.from({ length: QUEUED - recd.length }, (_, i) => recd.length + i));
      assert.ok(got.slice(again.length).every((p) => !p.dup));
      if (qos === 2) {
        // finish the flows; nothing more comes
        for (;;) {
          const p = await back.nextPacket(1000).catch(() => undefined);
          if (p === undefined) break;
          if (p.type === PacketType.PUBREL) back.send(pk.ack(PacketType.PUBCOMP, p.packetId!));
          else assert.notEqual(p.type, PacketType.PUBLISH);
        }
      } else await back.expectNoPacket(500);
      back.socket.destroy();
      broker.proc.kill('SIGTERM');
      assert.equal((await broker.exit).code, 0);
    });
  }
});

/**
 * A long queue across kill -9: start-up reads only what was in flight and sums up the rest of a
 * persistent session's queue, which stays on disk (src/persistence/load.ts) and is read back in
 * order as the client takes it. What was sent and not acknowledged comes again with DUP and its
 * packet id, a PUBRECed QoS 2 message as a PUBREL; then the rest, in order, exactly once.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { culexOnly } from '../helpers/broker.ts';
import { brokerDir, cleanupBrokerProcesses, startBrokerProcess } from '../helpers/brokerProcess.ts';
import { finishFlows, publishNumbered, takeBack, takeInFlight } from '../helpers/queueRedelivery.ts';
import { PacketType, pk, RawClient } from '../helpers/raw.ts';

after(cleanupBrokerProcesses);

const QUEUED = Number(process.env.LQ_N ?? 6000);
const INFLIGHT = 10;

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
      const { taking, sent, recd } = await takeInFlight(port, fields, INFLIGHT, qos);
      assert.deepEqual(sent.map((p) => Number(p.payload!.toString())), Array.from({ length: INFLIGHT }, (_, i) => i));

      // a QoS 1 PUBLISH goes before its packet id is written (a crash just after sending would send it again as new); let the writes land
      await new Promise((r) => setTimeout(r, 500));
      broker.proc.kill('SIGKILL');
      await broker.exit;
      taking.socket.destroy();
      broker = await startBrokerProcess(conf, dir, port);

      const back = (await RawClient.connected(port, fields)).client;
      const { got, pubrels } = await takeBack(back, qos, QUEUED - recd.length);
      // [MQTT-4.4.0-1] the PUBRECed ones are released, not sent again; the others that were in flight come again with DUP and their ids
      assert.deepEqual(pubrels.sort((a, b) => a - b), recd.map((p) => p.packetId!).sort((a, b) => a - b));
      const again = sent.slice(recd.length);
      assert.deepEqual(got.slice(0, again.length).map((p) => [Number(p.payload!.toString()), p.packetId, p.dup]), again.map((p) => [Number(p.payload!.toString()), p.packetId, true]));
      assert.deepEqual(got.map((p) => Number(p.payload!.toString())), Array.from({ length: QUEUED - recd.length }, (_, i) => recd.length + i));
      assert.ok(got.slice(again.length).every((p) => !p.dup));
      if (qos === 2) {
        await finishFlows(back);
      } else await back.expectNoPacket(500);
      back.socket.destroy();
      broker.proc.kill('SIGTERM');
      assert.equal((await broker.exit).code, 0);
    });
  }
});

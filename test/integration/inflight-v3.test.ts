/**
 * A 3.1.1 client cannot know Receive Maximum: with more QoS 2 messages in flight than
 * max_inflight_messages it is not disconnected; the PUBLISHes past the window wait unanswered
 * (no PUBREC) until its PUBRELs free the window, and then go on in order (as Mosquitto does).
 * A 5.0 client past the Receive Maximum it was told is still a protocol error (0x93).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, uniqueId } from '../helpers/clients.ts';
import { PacketType, pk, rawSubscriber, receivePublishes } from '../helpers/raw.ts';

const h = new Harness();
after(() => h.teardown());

describe('inbound QoS 2 window', () => {
  test('3.1.1: 64 QoS 2 PUBLISHes in flight with max_inflight_messages 20: 20 PUBRECs, the rest after PUBRELs; all 64 delivered in order', async () => {
    const b = await h.broker({ maxInflightMessages: 20 });
    const topic = `win/${uniqueId()}`;
    const { client: sub } = await rawSubscriber(b.port, [{ filter: topic, qos: 2 }], { version: 4, clientId: uniqueId() });
    const { client: pub } = await h.rawConnected(b.port, { version: 4, clientId: uniqueId() });
    for (let i = 1; i <= 64; i++) pub.send(pk.publish({ version: 4, topic, payload: String(i), qos: 2, packetId: i }));
    const first: number[] = [];
    for (let i = 0; i < 20; i++) first.push((await pub.expect(PacketType.PUBREC)).packetId!);
    assert.deepEqual(first, Array.from({ length: 20 }, (_, i) => i + 1));
    await pub.expectNoPacket(300); // the 44 others wait for the window, and the client is not disconnected
    assert.equal(pub.isClosed, false);
    // each PUBREL frees one place: the next PUBREC follows its PUBCOMP
    const recs: number[] = [];
    for (let id = 1; id <= 64; id++) {
      pub.send(pk.ack(PacketType.PUBREL, id));
      for (;;) {
        const p = await pub.nextPacket();
        if (p.type === PacketType.PUBCOMP) {
          assert.equal(p.packetId, id);
          break;
        }
        assert.equal(p.type, PacketType.PUBREC);
        recs.push(p.packetId!);
      }
    }
    assert.deepEqual(recs, Array.from({ length: 44 }, (_, i) => i + 21));
    const got = await receivePublishes(sub, 64);
    assert.deepEqual(got.map((p) => Number(p.payload!.toString())), Array.from({ length: 64 }, (_, i) => i + 1));
  });

  test('[MQTT-3.3.4-9] 5.0: more QoS 2 PUBLISHes in flight than the Receive Maximum is a protocol error (DISCONNECT 0x93)', async () => {
    const b = await h.broker({ maxInflightMessages: 5 });
    const { client: pub } = await h.rawConnected(b.port, { version: 5, clientId: uniqueId() });
    for (let i = 1; i <= 6; i++) pub.send(pk.publish({ version: 5, topic: 'win/v5', payload: 'x', qos: 2, packetId: i }));
    const packets = await pub.expectClosed();
    const disconnect = packets.find((p) => p.type === PacketType.DISCONNECT);
    assert.equal(disconnect?.reasonCode, 0x93);
  });
});

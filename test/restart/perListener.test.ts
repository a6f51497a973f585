/**
 * per_listener_settings across a restart: a persistent session remembers the listener its
 * client last came in through, so that while it is offline after a restart the ACL of that
 * listener still judges what is queued for it (mosquitto.conf(5); Mosquitto stores the
 * listener's port with the client, culex its index: SessionMeta `l`).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { culexOnly, freePort, tempDir, waitForPort } from '../helpers/broker.ts';
import { cleanupBrokerProcesses, connectTo, startBrokerProcess } from '../helpers/brokerProcess.ts';
import { PacketType, pk, RawClient, receivePublishes } from '../helpers/raw.ts';

const tmp = tempDir('culex-restart-');
after(() => {
  cleanupBrokerProcesses();
  tmp.cleanup();
});

test("after kill -9, an offline persistent session is still judged by its listener's acl_file", { skip: culexOnly, timeout: 60000 }, async () => {
  const open = await freePort();
  const guarded = await freePort();
  const acl = path.join(tmp.dir, 'b.acl');
  writeFileSync(acl, 'topic readwrite b/#\n');
  const conf = path.join(tmp.dir, 'culex.conf');
  writeFileSync(conf, [
    'per_listener_settings true',
    `listener ${open} 127.0.0.1`, 'allow_anonymous true',
    `listener ${guarded} 127.0.0.1`, 'allow_anonymous true', `acl_file ${acl}`,
    'persistence true', `persistence_location ${path.join(tmp.dir, 'data')}`, 'workers 2',
  ].join('\n') + '\n');
  const clientId = `durable-${process.pid}`;
  // each worker opens its listeners in order: the second may not be open when the first is
  let broker = await startBrokerProcess(conf, tmp.dir, open);
  await waitForPort(guarded);
  const first = await RawClient.connected(guarded, { version: 4, clientId, clean: false });
  first.client.send(pk.subscribe(1, [{ filter: '+/run', qos: 1 }], 4));
  await first.client.expect(PacketType.SUBACK); // the session record is on disk
  broker.proc.kill('SIGKILL');
  await broker.exit;
  first.client.destroy();

  broker = await startBrokerProcess(conf, tmp.dir, open);
  await waitForPort(guarded);
  const pub = await connectTo(open);
  await pub.client.publishAsync('x/run', 'refused by b.acl', { qos: 1 });
  await pub.client.publishAsync('b/run', 'queued', { qos: 1 });
  const again = await RawClient.connected(guarded, { version: 4, clientId, clean: false });
  assert.equal(again.connack.sessionPresent, true);
  const got = await receivePublishes(again.client, 1);
  assert.deepEqual(got.map((p) => [p.topic, p.payload!.toString()]), [['b/run', 'queued']]);
  await again.client.expectNoPacket(300);
  again.client.destroy();
  await pub.client.endAsync();
  broker.proc.kill('SIGTERM');
  assert.equal((await broker.exit).code, 0);
});

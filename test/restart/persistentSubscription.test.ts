/**
 * `persistent_subscription` across a restart of the broker process (2 workers, persistence on):
 * QoS 1 messages published to a declared session before its client ever connected survive a
 * kill -9 and reach the client after the restart, in order, followed by those published after it;
 * a line added to the configuration before the restart adds its filter to the stored session.
 * The declared session itself (1 and 4 workers, in memory): test/integration/persistentSubscription.test.ts.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { culexOnly } from '../helpers/broker.ts';
import { brokerDir, cleanupBrokerProcesses, connectTo, startBrokerProcess as start } from '../helpers/brokerProcess.ts';

after(cleanupBrokerProcesses);

/** Connects collecting `topic=payload` from the start: queued messages may come with the CONNACK. */
function consumer(port: number, opts: IClientOptions): Promise<{ client: MqttClient; connack: IConnackPacket; got: string[] }> {
  return new Promise((resolve, reject) => {
    const got: string[] = [];
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 10000, ...opts });
    client.on('message', (t, p) => got.push(`${t}=${p.toString()}`));
    client.once('connect', (connack) => resolve({ client, connack, got }));
    client.once('error', reject);
  });
}

async function waitLength(list: unknown[], n: number, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (list.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

describe('persistent_subscription survives the broker', { skip: culexOnly }, () => {
  for (const v of [4, 5] as const) {
    test(`messages kept for a ${v === 5 ? '5.0' : '3.1.1'} client that never connected survive kill -9 and come in order after the restart`, { timeout: 60000 }, async () => {
      const ids = [0, 1, 2, 3].map((i) => `never-seen-${v}-${i}-${process.pid}`);
      const { dir, port, conf } = await brokerDir(ids.map((id) => `persistent_subscription ${id} kept/# 1`));
      let broker = await start(conf, dir, port);
      const pub = await connectTo(port, { protocolVersion: 5 });
      const before: string[] = [];
      // each PUBACK comes once the message is on disk (persistence_durability sync)
      for (let i = 0; i < 5; i++) {
        await pub.client.publishAsync('kept/a', `b${i}`, { qos: 1 });
        before.push(`kept/a=b${i}`);
      }
      await pub.client.publishAsync('late/x', 'not yet declared', { qos: 1 });
      broker.proc.kill('SIGKILL');
      await broker.exit;
      pub.client.end(true);

      // a line added before the restart: the stored sessions keep their queue and gain the filter
      appendFileSync(conf, ids.map((id) => `persistent_subscription ${id} late/# 1\n`).join(''));
      broker = await start(conf, dir, port);
      const pub2 = await connectTo(port, { protocolVersion: 4 });
      const afterRestart = ['kept/b=a0', 'late/x=a1'];
      await pub2.client.publishAsync('kept/b', 'a0', { qos: 1 });
      await pub2.client.publishAsync('late/x', 'a1', { qos: 1 });
      for (const id of ids) {
        const opts: IClientOptions = v === 5
          ? { protocolVersion: 5, clientId: id, clean: false, properties: { sessionExpiryInterval: 600 } }
          : { protocolVersion: 4, clientId: id, clean: false };
        const c = await consumer(port, opts);
        assert.equal(c.connack.sessionPresent, true, id);
        await waitLength(c.got, before.length + afterRestart.length);
        assert.deepEqual(c.got, [...before, ...afterRestart], id);
        await c.client.endAsync();
      }
      await pub2.client.endAsync();
      broker.proc.kill('SIGTERM');
      assert.equal((await broker.exit).code, 0);
    });
  }

  test('a configuration error names the file and line, and the broker does not start', { timeout: 30000 }, async () => {
    const { dir, port, conf } = await brokerDir(['persistent_subscription dev-1 a/#/b 1']);
    await assert.rejects(start(conf, dir, port), (err: Error) => {
      assert.match(err.message, new RegExp(`${conf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6: persistent_subscription: invalid topic filter 'a/#/b'`));
      return true;
    });
  });
});

/**
 * Persistent sessions on disk: a client's session (its subscriptions and expiry) is there after
 * the broker is killed with SIGKILL or stopped, and a clean session leaves nothing behind.
 * Their queued messages: queues.test.ts.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IClientOptions } from 'mqtt';
import { culexOnly } from '../helpers/broker.ts';
import { brokerDir, cleanupBrokerProcesses, connectTo as connect, startBrokerProcess as start } from '../helpers/brokerProcess.ts';

after(cleanupBrokerProcesses);

const persistent = (clientId: string, v: 4 | 5): IClientOptions =>
  v === 5 ? { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 600 } } : { protocolVersion: 4, clientId, clean: false };

describe('persistent sessions survive the broker', { skip: culexOnly }, () => {
  for (const v of [4, 5] as const) {
    test(`[MQTT-3.2.2-3] after kill -9 a ${v === 5 ? '5.0' : '3.1.1'} persistent session is present with its subscriptions`, { timeout: 60000 }, async () => {
      const { dir, port, conf } = await brokerDir();
      const id = `keeper-${v}-${process.pid}`;
      let broker = await start(conf, dir, port);
      const first = await connect(port, persistent(id, v));
      assert.equal(first.connack.sessionPresent, false);
      // the SUBACK comes once the subscription is on disk
      await first.client.subscribeAsync(['sess/a', 'sess/b/#'], { qos: 1 });
      broker.proc.kill('SIGKILL');
      await broker.exit;
      first.client.end(true);
      broker = await start(conf, dir, port);
      const again = await connect(port, persistent(id, v));
      assert.equal(again.connack.sessionPresent, true);
      const got: string[] = [];
      again.client.on('message', (t, p) => got.push(`${t}=${p.toString()}`));
      const pub = await connect(port, { protocolVersion: 5 });
      await pub.client.publishAsync('sess/a', '1', { qos: 1 });
      await pub.client.publishAsync('sess/b/c', '2', { qos: 1 });
      const deadline = Date.now() + 10000;
      while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(got.sort(), ['sess/a=1', 'sess/b/c=2']);
      await pub.client.endAsync();
      await again.client.endAsync();
      broker.proc.kill('SIGTERM');
      assert.equal((await broker.exit).code, 0);
    });
  }

  test('[MQTT-3.1.2-4] a clean session, and a session ended by clean start, are not there after a restart', { timeout: 60000 }, async () => {
    const { dir, port, conf } = await brokerDir();
    let broker = await start(conf, dir, port);
    const a = await connect(port, persistent(`ended-${process.pid}`, 5));
    await a.client.subscribeAsync('x/#', { qos: 1 });
    await a.client.endAsync();
    const b = await connect(port, { protocolVersion: 5, clientId: `ended-${process.pid}`, clean: true });
    await b.client.endAsync();
    const c = await connect(port, { protocolVersion: 4, clientId: `clean-${process.pid}`, clean: true });
    await c.client.subscribeAsync('y/#', { qos: 1 });
    await c.client.endAsync();
    broker.proc.kill('SIGTERM');
    await broker.exit;
    broker = await start(conf, dir, port);
    for (const id of [`ended-${process.pid}`, `clean-${process.pid}`]) {
      const again = await connect(port, persistent(id, 5));
      assert.equal(again.connack.sessionPresent, false, id);
      await again.client.endAsync();
    }
    broker.proc.kill('SIGTERM');
    assert.equal((await broker.exit).code, 0);
  });

  test('a session read back with time left on its expiry expires while the broker runs; a longer one stays', { timeout: 60000 }, async () => {
    const { dir, port, conf } = await brokerDir();
    let broker = await start(conf, dir, port);
    const short = `short-${process.pid}`;
    const long = `long-${process.pid}`;
    for (const [clientId, sessionExpiryInterval] of [[short, 4], [long, 600]] as const) {
      const c = await connect(port, { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval } });
      await c.client.subscribeAsync('exp/#', { qos: 1 });
      await c.client.endAsync();
    }
    broker.proc.kill('SIGKILL');
    await broker.exit;
    broker = await start(conf, dir, port);
    // read back offline with about 3 s left: it ends in the running broker's once-a-second pass
    await new Promise((r) => setTimeout(r, 6000));
    for (const [clientId, present] of [[short, false], [long, true]] as const) {
      const again = await connect(port, persistent(clientId, 5));
      assert.equal(again.connack.sessionPresent, present, clientId);
      await again.client.endAsync();
    }
    broker.proc.kill('SIGTERM');
    assert.equal((await broker.exit).code, 0);
  });
});

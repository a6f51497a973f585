/**
 * Retained messages on disk: the broker runs as its own process on a data directory, is killed
 * with SIGKILL at random moments while a publisher keeps replacing retained messages at QoS 1,
 * and is started again on the same directory. Every retained message whose PUBACK arrived must
 * be there (or a newer one that was in flight when the broker died).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { culexOnly, startCli } from '../helpers/broker.ts';
import { brokerDir, cleanupBrokerProcesses, connectTo, startBrokerProcess as start } from '../helpers/brokerProcess.ts';

async function connect(port: number): Promise<MqttClient> {
  return (await connectTo(port)).client;
}

after(cleanupBrokerProcesses);

/** The retained messages under `filter` as a new subscriber receives them. */
async function retainedUnder(port: number, filter: string, expected: number): Promise<Map<string, string>> {
  const c = await connect(port);
  const got = new Map<string, string>();
  c.on('message', (topic, payload, packet) => { if (packet.retain) got.set(topic, payload.toString()); });
  await c.subscribeAsync(filter, { qos: 1 });
  const deadline = Date.now() + 5000;
  while (got.size < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  await c.endAsync(true);
  return got;
}

describe('retained messages survive the broker', { skip: culexOnly }, () => {
  test('kill -9 at random moments: every acknowledged retained message is there after a restart (5 kills)', { timeout: 180000 }, async () => {
    const { dir, port, conf } = await brokerDir();
    const topics = 20;
    /** per topic: the sequence number of the last acknowledged value */
    const acked = new Map<string, number>();
    let seq = 0;
    for (let round = 0; round < 5; round++) {
      const broker = await start(conf, dir, port);
      // what the previous rounds had acknowledged is there
      if (acked.size > 0) {
        const got = await retainedUnder(port, 'crash/#', acked.size);
        for (const [topic, n] of acked) {
          const value = got.get(topic);
          assert.ok(value !== undefined, `round ${round}: acknowledged retained message on ${topic} lost`);
          assert.ok(Number(value) >= n, `round ${round}: ${topic} went back from ${n} to ${value}`);
        }
      }
      const pub = await connect(port);
      pub.on('error', () => {});
      let running = true;
      const lanes = Array.from({ length: 10 }, async () => {
        while (running) {
          const n = ++seq;
          const topic = `crash/${n % topics}`;
          try {
            await pub.publishAsync(topic, String(n), { qos: 1, retain: true });
          } catch {
            return; // the broker died under us
          }
          if ((acked.get(topic) ?? 0) < n) acked.set(topic, n);
        }
      });
      await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 600)));
      broker.proc.kill('SIGKILL');
      await broker.exit;
      running = false;
      pub.end(true);
      await Promise.all(lanes);
    }
    assert.ok(acked.size === topics, 'every topic got acknowledged messages');
    const last = await start(conf, dir, port);
    const got = await retainedUnder(port, 'crash/#', topics);
    for (const [topic, n] of acked) assert.ok(Number(got.get(topic)) >= n, `${topic}: acknowledged ${n}, found ${got.get(topic)}`);
    last.proc.kill('SIGTERM');
    assert.equal((await last.exit).code, 0);
  });

  for (const durability of ['sync', 'batch'] as const) {
    test(`a graceful stop and restart keeps retained messages (persistence_durability ${durability}); an empty one stays cleared`, { timeout: 60000 }, async () => {
      const { dir, port, conf } = await brokerDir([`persistence_durability ${durability}`]);
      let broker = await start(conf, dir, port);
      const pub = await connect(port);
      for (let i = 0; i < 50; i++) await pub.publishAsync(`keep/${i}`, `v${i}`, { qos: i % 2 === 0 ? 1 : 0, retain: true, properties: undefined });
      await pub.publishAsync('keep/0', '', { qos: 1, retain: true });
      await pub.endAsync();
      broker.proc.kill('SIGTERM');
      assert.equal((await broker.exit).code, 0);
      broker = await start(conf, dir, port);
      const got = await retainedUnder(port, 'keep/#', 49);
      assert.equal(got.size, 49);
      assert.equal(got.has('keep/0'), false);
      for (let i = 1; i < 50; i++) assert.equal(got.get(`keep/${i}`), `v${i}`);
      broker.proc.kill('SIGTERM');
      assert.equal((await broker.exit).code, 0);
    });
  }

  test('an unusable data directory stops the start with an error naming it', { timeout: 30000 }, async () => {
    const { dir, port } = await brokerDir();
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const conf = path.join(dir, 'bad.conf');
    writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'persistence true', `persistence_location ${path.join(file, 'data')}`].join('\n') + '\n');
    const p = startCli(['-c', conf], dir);
    const { code } = await p.exit;
    assert.notEqual(code, 0);
    assert.match(p.output(), /a-file/);
  });
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startBroker, type RunningBroker } from '../../src/server.ts';
import { defaultConfig } from '../../src/config/defaults.ts';

const PYTHON = '/usr/bin/python3';
const SCRIPT = new URL('./paho/roundtrip.py', import.meta.url).pathname;
const hasPaho = existsSync(PYTHON) && (await new Promise<boolean>((resolve) => execFile(PYTHON, ['-c', 'import paho.mqtt.client'], (err) => resolve(err === null))));
const skip = hasPaho ? false : 'python3-paho-mqtt is not installed (.ci/run installs it)';

let broker: RunningBroker;
before(async () => {
  broker = await startBroker(defaultConfig({ listeners: [{ port: 0, host: '127.0.0.1', protocol: 'mqtt', maxConnections: -1 }], workers: 1, persistence: false, sysInterval: 0, connectionMessages: false }));
});
after(() => broker.stop());

for (const version of [4, 5]) {
  test(`paho (Python) MQTT ${version === 5 ? '5.0' : '3.1.1'} client: retained and QoS 0/1/2 round trip`, { skip }, async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(PYTHON, [SCRIPT, String(broker.ports[0]), String(version)], { timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(stderr || String(err))) : resolve(stdout))),
    );
    const got = JSON.parse(out.trim().split('\n').pop()!) as { topic: string; payload: string; qos: number; retain: boolean }[];
    assert.deepEqual(got, [
      { topic: 'paho/retained', payload: 'kept', qos: 1, retain: true },
      { topic: 'paho/live', payload: 'q0', qos: 0, retain: false },
      { topic: 'paho/live', payload: 'q1', qos: 1, retain: false },
      { topic: 'paho/live', payload: 'q2', qos: 2, retain: false },
    ]);
  });
}

test('paho 3.1.1 with 64 QoS 2 messages in flight (above max_inflight_messages 20): all 2000 complete, no disconnect', { skip }, async () => {
  const script = new URL('./paho/inflight.py', import.meta.url).pathname;
  const out = await new Promise<string>((resolve, reject) =>
    execFile(PYTHON, [script, String(broker.ports[0]), '2000'], { timeout: 90_000 }, (err, stdout, stderr) => (err ? reject(new Error(stderr || String(err))) : resolve(stdout))),
  );
  assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), { completed: 2000, disconnects: 0 });
});

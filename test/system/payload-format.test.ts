import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { startBroker } from '../../src/server.ts';
import { defaultConfig } from '../../src/config/defaults.ts';

test('[MQTT-3.3.2-4] a PUBLISH marked UTF-8 (payload format 1) with invalid UTF-8 is refused with PUBACK 0x99 and not routed', async () => {
  const b = await startBroker(defaultConfig({ listeners: [{ port: 0, host: '127.0.0.1', protocol: 'mqtt', maxConnections: -1 }], workers: 1, persistence: false, sysInterval: 0, connectionMessages: false }));
  const url = `mqtt://127.0.0.1:${b.ports[0]}`;
  const sub = await mqtt.connectAsync(url, { reconnectPeriod: 0, protocolVersion: 5 });
  const pub = await mqtt.connectAsync(url, { reconnectPeriod: 0, protocolVersion: 5 });
  try {
    const got: string[] = [];
    sub.on('message', (_t, p) => got.push(p.toString('hex')));
    await sub.subscribeAsync('fmt/#', { qos: 1 });
    await assert.rejects(
      pub.publishAsync('fmt/bad', Buffer.from([0xc3, 0x28]), { qos: 1, properties: { payloadFormatIndicator: true } }),
      (err: Error & { code?: number }) => err.code === 0x99,
    );
    await pub.publishAsync('fmt/good', Buffer.from('héllo'), { qos: 1, properties: { payloadFormatIndicator: true } });
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(got, [Buffer.from('héllo').toString('hex')]);
  } finally {
    await sub.endAsync();
    await pub.endAsync();
    await b.stop();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { startBroker } from '../../src/server.ts';
import { defaultConfig } from '../../src/config/defaults.ts';

test('a websockets listener serves MQTT over WebSocket, and its clients reach TCP clients', async () => {
  const b = await startBroker(defaultConfig({
    listeners: [
      { port: 0, host: '127.0.0.1', protocol: 'mqtt', maxConnections: -1 },
      { port: 0, host: '127.0.0.1', protocol: 'websockets', maxConnections: -1 },
    ],
    workers: 1, persistence: false, sysInterval: 0, connectionMessages: false,
  }));
  const ws = await mqtt.connectAsync(`ws://127.0.0.1:${b.ports[1]}`, { reconnectPeriod: 0, protocolVersion: 5 });
  const tcp = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.ports[0]}`, { reconnectPeriod: 0 });
  try {
    const toWs = new Promise<string>((resolve) => ws.on('message', (_t, p) => resolve(p.toString())));
    const toTcp = new Promise<string>((resolve) => tcp.on('message', (_t, p) => resolve(p.toString())));
    await ws.subscribeAsync('bridge/ws', { qos: 1 });
    await tcp.subscribeAsync('bridge/tcp', { qos: 1 });
    await tcp.publishAsync('bridge/ws', 'from tcp', { qos: 1 });
    await ws.publishAsync('bridge/tcp', 'from ws', { qos: 2 });
    assert.equal(await toWs, 'from tcp');
    assert.equal(await toTcp, 'from ws');
  } finally {
    await ws.endAsync();
    await tcp.endAsync();
    await b.stop();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import * as pk from '../helpers/packets.ts';
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

test('a WebSocket client that goes away without DISCONNECT is gone at once: its will is published and it no longer counts as connected [MQTT-3.1.2-8]', async () => {
  const b = await startBroker(defaultConfig({
    listeners: [
      { port: 0, host: '127.0.0.1', protocol: 'mqtt', maxConnections: -1 },
      { port: 0, host: '127.0.0.1', protocol: 'websockets', maxConnections: -1 },
    ],
    workers: 1, persistence: false, sysInterval: 0, connectionMessages: false, logDest: ['none'],
  }));
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.ports[0]}`, { reconnectPeriod: 0 });
  try {
    await sub.subscribeAsync('ws/will', { qos: 1 });
    const will = new Promise<string>((resolve) => sub.on('message', (_t, p) => resolve(p.toString())));
    for (const close of ['terminate', 'close frame'] as const) {
      const ws = new WebSocket(`ws://127.0.0.1:${b.ports[1]}/mqtt`, 'mqtt');
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
      // keep-alive 60: without the close being noticed, the will would wait 90 s
      ws.send(pk.connect({ version: 4, clientId: `ws-gone-${close}`, keepalive: 60, will: { topic: 'ws/will', payload: close, qos: 1 } }));
      await new Promise((resolve) => ws.once('message', resolve)); // CONNACK
      assert.equal((await b.stats()).clientsConnected, 2);
      if (close === 'terminate') ws.terminate();
      else ws.close(1000);
      if (close === 'terminate') {
        const late = new Promise<string>((resolve) => setTimeout(() => resolve('no will within 5 s'), 5000).unref());
        assert.equal(await Promise.race([will, late]), 'terminate');
      }
      for (let i = 0; i < 50 && (await b.stats()).clientsConnected !== 1; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal((await b.stats()).clientsConnected, 1, `after a WebSocket ${close}`);
    }
  } finally {
    await sub.endAsync();
    await b.stop();
  }
});

test('websockets_headers_size: a handshake with more header bytes than the limit is refused (431), a usual one is served; without it the larger one is served too (Mosquitto)', async () => {
  const open = (port: number, headerBytes: number) => new Promise<number>((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, 'mqtt', { headers: { 'X-Cookie': 'a'.repeat(headerBytes) } });
    ws.once('open', () => { ws.terminate(); resolve(101); });
    ws.once('unexpected-response', (_req, res) => { ws.terminate(); resolve(res.statusCode ?? 0); });
    ws.once('error', () => resolve(0));
  });
  const start = (websocketsHeadersSize: number) => startBroker(defaultConfig({
    listeners: [{ port: 0, host: '127.0.0.1', protocol: 'websockets', maxConnections: -1 }],
    workers: 1, persistence: false, sysInterval: 0, connectionMessages: false, logDest: ['none'], websocketsHeadersSize,
  }));
  const small = await start(2048);
  const usual = await start(0);
  try {
    assert.equal(await open(small.ports[0]!, 4000), 431);
    assert.equal(await open(small.ports[0]!, 100), 101);
    assert.equal(await open(usual.ports[0]!, 4000), 101);
  } finally {
    await small.stop();
    await usual.stop();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import * as pk from '../helpers/packets.ts';
import { startBroker } from '../../src/server.ts';
import { defaultConfig } from '../../src/config/defaults.ts';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { tempDir } from '../helpers/broker.ts';

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

/** One plain HTTP request, the path sent as written (no normalisation of `..`). */
function request(port: number, method: string, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.once('error', reject);
    req.end();
  });
}

test('http_dir: a websockets listener serves the directory\'s files to plain HTTP as Mosquitto does (index.html, 302 for a directory, 403 outside it, 405 for POST); without it 404; MQTT over WebSocket on the same port', async () => {
  const tmp = tempDir('culex-http-dir-');
  const root = join(tmp.dir, 'www');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<p>dashboard</p>');
  writeFileSync(join(root, 'app.js'), 'export const x = 1;');
  writeFileSync(join(root, 'sub', 'index.html'), 'sub page');
  // beside the root, with a name the root is a prefix of, and a link to it from inside
  mkdirSync(join(tmp.dir, 'www-secret'));
  writeFileSync(join(tmp.dir, 'www-secret', 'key.txt'), 'secret');
  symlinkSync(join(tmp.dir, 'www-secret', 'key.txt'), join(root, 'link.txt'));
  const start = (httpDir?: string) => startBroker(defaultConfig({
    listeners: [{ port: 0, host: '127.0.0.1', protocol: 'websockets', maxConnections: -1, ...(httpDir !== undefined ? { httpDir } : {}) }],
    workers: 1, persistence: false, sysInterval: 0, connectionMessages: false, logDest: ['none'],
  }));
  const served = await start(root);
  const bare = await start();
  try {
    const port = served.ports[0]!;
    const index = await request(port, 'GET', '/');
    assert.deepEqual([index.status, index.body, index.headers['content-type']], [200, '<p>dashboard</p>', 'text/html; charset=utf-8']);
    const js = await request(port, 'GET', '/app.js?v=2');
    assert.deepEqual([js.status, js.body, js.headers['content-type']], [200, 'export const x = 1;', 'text/javascript; charset=utf-8']);
    const head = await request(port, 'HEAD', '/app.js');
    assert.deepEqual([head.status, head.headers['content-length'], head.body], [200, '19', '']);
    const dir = await request(port, 'GET', '/sub');
    assert.deepEqual([dir.status, dir.headers.location], [302, '/sub/']);
    assert.equal((await request(port, 'GET', '/sub/')).body, 'sub page');
    assert.equal((await request(port, 'GET', '/missing.html')).status, 404);
    assert.equal((await request(port, 'GET', '/../www-secret/key.txt')).status, 403, 'a path out of the directory');
    assert.equal((await request(port, 'GET', '/%2e%2e/www-secret/key.txt')).status, 403, 'the same, percent-encoded');
    assert.equal((await request(port, 'GET', '/link.txt')).status, 403, 'a link out of the directory');
    assert.equal((await request(port, 'POST', '/')).status, 405);
    assert.equal((await request(bare.ports[0]!, 'GET', '/')).status, 404, 'no http_dir: nothing is served');
    const ws = await mqtt.connectAsync(`ws://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    await ws.endAsync();
  } finally {
    await served.stop();
    await bare.stop();
    tmp.cleanup();
  }
  await assert.rejects(start(join(tmp.dir, 'gone')), /listener 0: unable to find http_dir ".*gone"/);
});

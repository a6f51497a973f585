/**
 * transport/websocket.ts is loaded by each worker that opens a WebSocket listener: loading it must
 * not bring in undici (Node's fetch and WebSocket), which a static ESM import of node:http does,
 * at 2.5 MB of heap per thread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';

const WEBSOCKET_URL = new URL('../../../src/transport/websocket.ts', import.meta.url).href;

test('loading the WebSocket transport in a worker thread leaves undici unloaded', async () => {
  const source = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(WEBSOCKET_URL)}).then((m) => parentPort.postMessage({
      loaded: typeof m.listenWebSocket === 'function',
      undici: process.moduleLoadList.filter((name) => name.includes('undici')),
    }));`;
  const worker = new Worker(source, { eval: true });
  const [result] = (await once(worker, 'message')) as [{ loaded: boolean; undici: string[] }];
  await worker.terminate();
  assert.equal(result.loaded, true);
  assert.deepEqual(result.undici, []);
});

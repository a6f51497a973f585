/**
 * transport/directRead.ts over real loopback sockets: an accepted socket is switched to onread
 * mode, its bytes arrive in order as chunks the caller may keep, pause/resume and end/close work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { readDirect } from '../../../src/transport/directRead.ts';

async function accepted(onSocket: (s: Socket) => void): Promise<{ client: Socket; close: () => void }> {
  const server = createServer(onSocket);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  await once(client, 'connect');
  return { client, close: () => server.close() };
}

test('an accepted TCP socket is read directly: every byte in order, chunks stay intact after later reads, then end and close', async () => {
  const chunks: Buffer[] = [];
  let switched = false;
  let server!: Socket;
  const { client, close } = await accepted((s) => {
    server = s;
    switched = readDirect(s, { onData: (c) => chunks.push(c) });
  });
  const sent: Buffer[] = [];
  for (let i = 0; i < 50; i++) {
    const b = Buffer.alloc(1000 + i, i);
    sent.push(b);
    client.write(b);
    await new Promise((r) => setImmediate(r));
  }
  client.end();
  await once(server, 'end');
  await once(server, 'close');
  close();
  assert.equal(switched, true);
  assert.ok(chunks.length > 1, 'several reads');
  assert.deepEqual(Buffer.concat(chunks), Buffer.concat(sent));
});

test('pause stops the direct reads and resume continues them', async () => {
  const chunks: Buffer[] = [];
  let server!: Socket;
  const { client, close } = await accepted((s) => {
    server = s;
    readDirect(s, { onData: (c) => chunks.push(c) });
  });
  client.write('one');
  while (chunks.length === 0) await new Promise((r) => setTimeout(r, 5));
  server.pause();
  client.write('two');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(Buffer.concat(chunks).toString(), 'one');
  server.resume();
  while (Buffer.concat(chunks).length < 6) await new Promise((r) => setTimeout(r, 5));
  assert.equal(Buffer.concat(chunks).toString(), 'onetwo');
  client.destroy();
  await once(server, 'close');
  close();
});

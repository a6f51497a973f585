/**
 * How evenly the kernel spreads connections over the workers (every worker listens on every
 * listener with reusePort). The broker runs as its own `culex -c FILE` process, so its 10,000
 * sockets do not count against this process's open-file limit; the per-worker counts come from
 * its metrics listener (culex_worker_clients_connected{worker="N"}).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { culexOnly, freePort, startCli, tempDir, waitForPort, type CliProcess } from '../helpers/broker.ts';

const WORKERS = 4;
const CONNECTIONS = 10_000;
/** connections being opened at any moment */
const PARALLEL = 500;
/** source addresses, round-robin, so no single one comes near ephemeral-port exhaustion */
const SOURCES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];
const CONNACK_ACCEPTED = Buffer.from([0x20, 0x02, 0x00, 0x00]);

const tmp = tempDir('culex-spread-');
const sockets: net.Socket[] = [];
let broker: CliProcess | undefined;

after(async () => {
  for (const s of sockets) s.destroy();
  if (broker !== undefined) {
    broker.kill();
    await broker.exit;
  }
  tmp.cleanup();
});

/** A minimal MQTT 3.1.1 CONNECT: clean session, keepalive 0, no will, no credentials. */
function connectPacket(clientId: string): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  const body = Buffer.concat([
    Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x00]),
    Buffer.from([id.length >> 8, id.length & 0xff]),
    id,
  ]);
  assert.ok(body.length < 128, 'one-byte remaining length');
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/** Opens connection `i` and resolves with its socket once the broker has accepted the CONNECT. */
function openClient(port: number, i: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: SOURCES[i % SOURCES.length]! });
    sockets.push(socket);
    let got = Buffer.alloc(0);
    const fail = (why: string) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(`connection ${i}: ${why}`));
    };
    const timer = setTimeout(() => fail('no CONNACK within 30 s'), 30_000);
    socket.once('error', (err) => fail(err.message));
    socket.once('close', () => fail('closed before CONNACK'));
    socket.once('connect', () => socket.write(connectPacket(`spread-${i}`)));
    socket.on('data', function onData(chunk: Buffer) {
      got = Buffer.concat([got, chunk]);
      if (got.length < CONNACK_ACCEPTED.length) return;
      clearTimeout(timer);
      socket.removeAllListeners('close');
      socket.removeListener('data', onData);
      socket.on('error', () => { /* the broker going away at the end is expected */ });
      if (!got.equals(CONNACK_ACCEPTED)) {
        socket.destroy();
        reject(new Error(`connection ${i}: expected CONNACK accepted, got ${got.toString('hex')}`));
        return;
      }
      resolve(socket);
    });
  });
}

/** Opens connections 0..count-1 with at most PARALLEL being opened at once. */
async function openAll(port: number, count: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await openClient(port, next++);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, count) }, lane));
}

/** culex_worker_clients_connected by worker index, from one scrape of /metrics. */
async function perWorkerClients(metricsPort: number): Promise<Map<number, number>> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const counts = new Map<number, number>();
  for (const m of text.matchAll(/^culex_worker_clients_connected\{worker="(\d+)"\} (\d+)$/gm)) {
    counts.set(Number(m[1]), Number(m[2]));
  }
  return counts;
}

const sum = (counts: Map<number, number>) => [...counts.values()].reduce((a, b) => a + b, 0);

describe('connection spreading', { skip: culexOnly }, () => {
  test(`${CONNECTIONS.toLocaleString('en')} connections spread over ${WORKERS} workers, each within 10% of an even share`, { timeout: 120_000 }, async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const conf = path.join(tmp.dir, 'spread.conf');
    writeFileSync(conf, [
      `listener ${port} 127.0.0.1`,
      `workers ${WORKERS}`,
      `metrics_listener 127.0.0.1:${metricsPort}`,
      'allow_anonymous true',
      'persistence false',
      'max_keepalive 65535',
      'sys_interval 0',
      'log_dest none',
      'connection_messages false',
      '',
    ].join('\n'));
    const p = startCli(['-c', conf], tmp.dir);
    broker = p;
    // Workers start one after another and each accepts as soon as it listens, so the client port
    // answers while later workers are still starting. The metrics listener opens only once every
    // worker is ready: wait for that, or the first connections pile up on the first workers.
    await Promise.race([
      waitForPort(metricsPort, 30_000),
      p.exit.then(({ code }) => { throw new Error(`culex exited (${code}) before listening:\n${p.output()}`); }),
    ]);
    const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    assert.equal(health.status, 200, await health.text());

    await openAll(port, CONNECTIONS);

    // every CONNACK has arrived, so every worker has counted its clients; poll only to ride out
    // a scrape that races the last counter update
    let counts = await perWorkerClients(metricsPort);
    for (const deadline = Date.now() + 10_000; sum(counts) !== CONNECTIONS && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 100));
      counts = await perWorkerClients(metricsPort);
    }
    const shown = [...counts].sort(([a], [b]) => a - b).map(([w, n]) => `worker ${w}: ${n}`).join(', ');
    console.log(`# connections per worker: ${shown}`);
    assert.deepEqual([...counts.keys()].sort((a, b) => a - b), [0, 1, 2, 3], `workers seen: ${shown}`);
    assert.equal(sum(counts), CONNECTIONS, shown);
    const even = CONNECTIONS / WORKERS;
    for (const [w, n] of counts) {
      assert.ok(Math.abs(n - even) <= even * 0.1, `worker ${w} has ${n} connections, more than 10% off ${even} (${shown})`);
    }

    for (const s of sockets.splice(0)) s.destroy();
    p.proc.kill('SIGTERM');
    assert.deepEqual(await p.exit, { code: 0, signal: null }, p.output());
    broker = undefined;
  });
});

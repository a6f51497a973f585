/**
 * Where a listener listens and what the log says of it, next to Mosquitto 2.0.11 on the same
 * configuration: a listener without an address (0.0.0.0 and ::, each its own socket, so an IPv4
 * client is logged as 127.0.0.1, not ::ffff:127.0.0.1) and one named `localhost` (every address
 * the name resolves to), and `bind_interface lo`. The real /usr/sbin/mosquitto is the reference,
 * mosquitto_pub the client.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { culexOnly, freePort, hasIpv6Loopback, startCli, startMosquittoCli, tempDir, type CliProcess } from '../helpers/broker.ts';

let tmp: ReturnType<typeof tempDir>;
before(() => { tmp = tempDir('culex-listen-'); });
after(() => tmp.cleanup());

const ipv6 = await hasIpv6Loopback();

const publish = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => execFile('mosquitto_pub', ['-h', host, '-p', String(port), '-t', 'x', '-m', 'y'], { timeout: 5000 }, (err) => resolve(err === null)));

async function waitFor(output: () => string, text: string, count = 1): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (output().split(text).length - 1 < count) {
    if (Date.now() > deadline) throw new Error(`no "${text}" (${count}) in:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts a broker on `conf` (`output` its log), publishes once from each of `clients`, and
 * returns its "Opening … listen socket" and "New connection" lines, timestamps and ports off,
 * and which clients got through.
 */
async function observe(start: () => { output: () => string; stop: () => Promise<void> }, port: number, clients: readonly string[]): Promise<{ lines: string[]; reached: boolean[] }> {
  const broker = start();
  try {
    await waitFor(broker.output, 'version');
    await waitFor(broker.output, ' running');
    const reached: boolean[] = [];
    for (const host of clients) reached.push(await publish(host, port));
    await waitFor(broker.output, 'New connection', reached.filter(Boolean).length);
    const lines = broker.output().split('\n').map((l) => l.replace(/^\d+: /, '').replace(/:\d+ on port \d+/, ':PORT on port LISTENER').replace(/on port \d+\.$/, 'on port LISTENER.'))
      .filter((l) => /^(Opening|New connection)/.test(l));
    return { lines, reached };
  } finally {
    await broker.stop();
  }
}

/** A broker process (culex or Mosquitto) as observe() starts and stops it. */
function started(start: () => CliProcess): () => { output: () => string; stop: () => Promise<void> } {
  return () => {
    const p = start();
    return { output: p.output, stop: async () => { p.kill(); await p.exit; } };
  };
}

/** Mosquitto's lines and reached clients for `listenerLines`; culex at each of `workers` must give the same. */
async function compare(name: string, listenerLines: (port: number) => string, clients: readonly string[], workers: readonly number[]): Promise<{ lines: string[]; reached: boolean[] }> {
  const mosquittoPort = await freePort();
  const mosquittoConf = path.join(tmp.dir, `${name}-mosquitto.conf`);
  writeFileSync(mosquittoConf, `${listenerLines(mosquittoPort)}\nallow_anonymous true\nlog_dest stderr\nlog_type all\nuser root\n`);
  const expected = await observe(started(() => startMosquittoCli(mosquittoConf)), mosquittoPort, clients);
  for (const n of workers) {
    const port = await freePort();
    const conf = path.join(tmp.dir, `${name}-culex-${n}.conf`);
    writeFileSync(conf, `${listenerLines(port)}\nallow_anonymous true\nlog_dest stderr\nlog_type all\nworkers ${n}\n`);
    const got = await observe(started(() => startCli(['-c', conf], tmp.dir)), port, clients);
    assert.deepEqual(got.reached, expected.reached, `culex, ${n} workers: a client of each address`);
    assert.deepEqual(got.lines, expected.lines, `culex, ${n} workers`);
  }
  return expected;
}

test('a listener without an address listens on 0.0.0.0 and :: as Mosquitto does, and logs an IPv4 client as 127.0.0.1', { skip: culexOnly }, async () => {
  const clients = ipv6 ? ['127.0.0.1', '::1'] : ['127.0.0.1'];
  const { lines, reached } = await compare('any', (port) => `listener ${port}`, clients, [1, 2]);
  assert.deepEqual(reached, clients.map(() => true));
  assert.deepEqual(lines, [
    'Opening ipv4 listen socket on port LISTENER.',
    'Opening ipv6 listen socket on port LISTENER.',
    'New connection from 127.0.0.1:PORT on port LISTENER.',
    ...(ipv6 ? ['New connection from ::1:PORT on port LISTENER.'] : []),
  ]);
});

test('a listener named by a host name listens on every address the name resolves to, as Mosquitto does', { skip: culexOnly }, async () => {
  const addresses = (await lookup('localhost', { all: true, order: 'verbatim' })).map((a) => a.address);
  const { lines, reached } = await compare('localhost', (port) => `listener ${port} localhost`, [...new Set(addresses)], [2]);
  assert.deepEqual(reached, [...new Set(addresses)].map(() => true));
  assert.equal(lines.filter((l) => l.startsWith('Opening')).length, new Set(addresses).size);
});

test('bind_interface lo: the listener listens at the loopback interface\'s first address of each family only, as Mosquitto does', { skip: culexOnly }, async () => {
  // 127.0.0.2 is loopback too, but not lo's first IPv4 address: Mosquitto and culex refuse it
  const clients = ipv6 ? ['127.0.0.1', '::1', '127.0.0.2'] : ['127.0.0.1', '127.0.0.2'];
  const { lines, reached } = await compare('lo', (port) => `listener ${port}\nbind_interface lo`, clients, [2]);
  assert.deepEqual(reached, ipv6 ? [true, true, false] : [true, false]);
  assert.deepEqual(lines.filter((l) => l.startsWith('Opening')), ['Opening ipv4 listen socket on port LISTENER.', ...(ipv6 ? ['Opening ipv6 listen socket on port LISTENER.'] : [])]);
});

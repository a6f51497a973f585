/**
 * What a TLS listener logs for the clients it turns away, next to what Mosquitto 2.0.11 logs on
 * the same configuration for the same clients: a client that does not trust the server, one
 * without a certificate, one with a certificate no CA of the listener signed. The real
 * mosquitto_pub is the client, the real /usr/sbin/mosquitto the reference. Then a client beyond
 * the listener's max_connections, which both turn away before its handshake.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { culexOnly, freePort, startCli, startMosquittoCli, tempDir, waitForPort } from '../helpers/broker.ts';
import { makeCa } from '../helpers/caChain.ts';
import { makePki, type Pki } from '../helpers/certs.ts';

let tmp: ReturnType<typeof tempDir>;
let pki: Pki;
let stranger: { certfile: string; keyfile: string };

before(() => {
  tmp = tempDir('culex-tls-log-');
  pki = makePki(tmp.dir, { device: '/CN=device' });
  // a certificate of its own making (a CA's, so OpenSSL refuses it for its purpose first), which no CA of the listener signed
  const other = path.join(tmp.dir, 'other');
  mkdirSync(other);
  stranger = makeCa(other, 'self', '/CN=self');
});
after(() => tmp.cleanup());

/** The clients, in this order: each must be turned away. */
function clients(port: number): string[][] {
  const base = ['-h', '127.0.0.1', '-p', String(port), '-t', 'x', '-m', 'y'];
  return [
    [...base, '--cafile', pki.server.certfile], // trusts something else than the server's CA
    [...base, '--cafile', pki.cafile], // presents no certificate
    [...base, '--cafile', pki.cafile, '--cert', stranger.certfile, '--key', stranger.keyfile], // a certificate from elsewhere
  ];
}

const conf = (port: number, extra: string[]): string => [
  `listener ${port} 127.0.0.1`, `certfile ${pki.server.certfile}`, `keyfile ${pki.server.keyfile}`, `cafile ${pki.cafile}`,
  'require_certificate true', 'allow_anonymous true', 'log_dest stderr', 'log_type all', ...extra, '',
].join('\n');

/** The real Mosquitto on `conf(port, extra)` in file `name`: what `collect` gathers from its log, Mosquitto stopped after. */
async function fromMosquitto(name: string, extra: string[], collect: (port: number, output: () => string) => Promise<string[]>): Promise<string[]> {
  const port = await freePort();
  const file = path.join(tmp.dir, name);
  writeFileSync(file, conf(port, [...extra, 'user root']));
  const mosquitto = startMosquittoCli(file);
  try {
    return await collect(port, mosquitto.output);
  } finally {
    mosquitto.kill();
    await mosquitto.exit;
  }
}

const run = (args: string[]): Promise<void> => new Promise((resolve) => execFile('mosquitto_pub', args, { timeout: 5000 }, () => resolve()));

/** Runs every client against a broker whose log is `output()`, then returns the lines each one caused, timestamps off. */
async function linesFor(port: number, output: () => string): Promise<string[]> {
  await waitForPort(port);
  // the lines of waitForPort's own probe first ("New connection", "closed its connection")
  await new Promise((r) => setTimeout(r, 500));
  const start = output().length;
  for (const args of clients(port)) await run(args);
  const deadline = Date.now() + 5000;
  while (output().slice(start).split('Protocol error').length - 1 < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return output().slice(start).split('\n').map((l) => l.replace(/^\d+: /, '').replace(/127\.0\.0\.1:\d+ on port \d+/g, '127.0.0.1:PORT on port LISTENER')).filter((l) => l !== '' && l !== 'Client <unknown> closed its connection.');
}

test('a failed TLS handshake or client certificate is logged with the lines Mosquitto logs, plus the reason', { skip: culexOnly }, async () => {
  const expected = await fromMosquitto('mosquitto.conf', [], linesFor);
  const culexPort = await freePort();
  const culexConf = path.join(tmp.dir, 'culex.conf');
  writeFileSync(culexConf, conf(culexPort, []));
  const culex = startCli(['-c', culexConf], tmp.dir);
  try {
    const got = await linesFor(culexPort, () => culex.output());
    const mosquittoLines = expected.filter((l) => !l.includes('Warning'));
    // the lines Mosquitto logs, in its order
    assert.deepEqual(got.filter((l) => !l.startsWith('Error: Client certificate')), mosquittoLines, `culex:\n${got.join('\n')}`);
    assert.deepEqual(mosquittoLines.filter((l) => l.startsWith('OpenSSL Error')), [
      'OpenSSL Error[0]: error:0A000418:SSL routines::tlsv1 alert unknown ca',
      'OpenSSL Error[0]: error:0A0000C7:SSL routines::peer did not return a certificate',
      'OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed',
    ]);
    // and why the certificate was refused, which Mosquitto does not say
    assert.deepEqual(got.filter((l) => l.startsWith('Error: Client certificate')), ['Error: Client certificate refused: unsupported certificate purpose.']);
  } finally {
    culex.kill();
    await culex.exit;
  }
});

/** Polls `output` until `text` is in it. */
async function waitForText(output: () => string, text: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!output().includes(text)) {
    if (Date.now() > deadline) throw new Error(`no "${text}" in:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A mosquitto_sub with the device's certificate, held connected (the broker has logged it). */
async function heldClient(port: number, output: () => string): Promise<ChildProcess> {
  const device = pki.clients.device!;
  const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'x', '-i', 'held', '--cafile', pki.cafile, '--cert', device.certfile, '--key', device.keyfile], { stdio: 'ignore' });
  try {
    await waitForText(output, ' as held ');
  } catch (err) {
    sub.kill();
    throw err;
  }
  return sub;
}

/** With one client held, a second one (valid certificate) tries: the connection lines from the held client's on (no debug lines), timestamps and ports off. */
async function maxConnectionsLines(port: number, output: () => string): Promise<string[]> {
  // no probe connection first: Mosquitto 2.0.11 can count a connection closed before its CONNECT
  // twice out (net__socket_close), and would then let one more in
  await waitForText(output, ' running');
  const start = output().length;
  const held = await heldClient(port, () => output().slice(start));
  try {
    const device = pki.clients.device!;
    await run(['-h', '127.0.0.1', '-p', String(port), '-t', 'x', '-m', 'y', '-i', 'second', '--cafile', pki.cafile, '--cert', device.certfile, '--key', device.keyfile]);
    await waitForText(() => output().slice(start), 'denied');
    // what else the refused client may cause (a failed handshake's lines) has time to come
    await new Promise((r) => setTimeout(r, 300));
    return output().slice(start).split('\n').map((l) => l.replace(/^\d+: /, '').replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT').replace(/on port \d+/g, 'on port LISTENER'))
      .filter((l) => /^(New |Client |OpenSSL)/.test(l));
  } finally {
    held.kill();
  }
}

test('a TLS connection beyond max_connections is turned away before its handshake, logged as Mosquitto logs it, at 1 and 2 workers', { skip: culexOnly }, async () => {
  const expected = await fromMosquitto('mosquitto-max.conf', ['max_connections 1'], maxConnectionsLines);
  assert.deepEqual(expected, [
    'New connection from 127.0.0.1:PORT on port LISTENER.',
    'New client connected from 127.0.0.1:PORT as held (p2, c1, k60).',
    'Client connection from 127.0.0.1 denied: max_connections exceeded.',
  ]);
  for (const workers of [1, 2]) {
    const culexPort = await freePort();
    const culexConf = path.join(tmp.dir, `culex-max-${workers}.conf`);
    writeFileSync(culexConf, conf(culexPort, ['max_connections 1', `workers ${workers}`]));
    const culex = startCli(['-c', culexConf], tmp.dir);
    try {
      assert.deepEqual(await maxConnectionsLines(culexPort, () => culex.output()), expected, `culex, ${workers} workers:\n${culex.output()}`);
    } finally {
      culex.kill();
      await culex.exit;
    }
  }
});

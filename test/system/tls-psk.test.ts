/**
 * TLS-PSK listeners (`psk_hint`, `psk_file`), next to Mosquitto 2.0.11 on the same configuration:
 * the real mosquitto_pub connects with a pre-shared key over TLS 1.3 and 1.2, with a wrong key
 * and with an unknown identity; use_identity_as_username makes the identity the username. Then,
 * culex alone: SIGHUP reads psk_file again, and a bad psk_file stops the start naming its line.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { culexOnly, freePort, startCli, startMosquittoCli, tempDir, type CliProcess } from '../helpers/broker.ts';

let tmp: ReturnType<typeof tempDir>;
let keys: string;
before(() => {
  tmp = tempDir('culex-psk-');
  keys = path.join(tmp.dir, 'psk');
  writeFileSync(keys, '# devices\ndev1:deadbeefcafe0123\ndev2 : 00112233445566778899\n');
});
after(() => tmp.cleanup());

const conf = (port: number, extra: string[]): string => [
  `listener ${port} 127.0.0.1`, 'psk_hint culex-test', 'use_identity_as_username true',
  `psk_file ${keys}`, 'allow_anonymous true', 'log_dest stderr', 'log_type all', ...extra, '',
].join('\n');

/** mosquitto_pub with a key: did it publish? */
const publish = (port: number, identity: string, key: string, tls12 = false): Promise<boolean> =>
  new Promise((resolve) => execFile('mosquitto_pub', [
    '-h', '127.0.0.1', '-p', String(port), '-t', 'x', '-m', 'y', '--psk-identity', identity, '--psk', key, ...(tls12 ? ['--tls-version', 'tlsv1.2'] : []),
  ], { timeout: 5000 }, (err) => resolve(err === null)));

async function waitFor(output: () => string, text: string, count = 1): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (output().split(text).length - 1 < count) {
    if (Date.now() > deadline) throw new Error(`no "${text}" (${count}) in:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The clients, in order, against a broker: whether each published, the clients it logged, the OpenSSL errors of the refused. */
async function run(broker: CliProcess, port: number): Promise<{ reached: boolean[]; clients: string[]; opensslErrors: string[] }> {
  try {
    await waitFor(broker.output, ' running');
    const start = broker.output().length;
    const reached = [
      await publish(port, 'dev1', 'deadbeefcafe0123'),
      await publish(port, 'dev2', '00112233445566778899', true),
      await publish(port, 'dev1', 'deadbeefcafe0124'),
      await publish(port, 'dev9', 'deadbeefcafe0123', true),
    ];
    await waitFor(() => broker.output().slice(start), 'New client', 2);
    // a refused handshake: "OpenSSL Error[0]: E" then "Protocol error"; Mosquitto logs "Client
    // connection from … failed: E." instead when the handshake fails within its accept()
    const output = () => broker.output().slice(start);
    const deadline = Date.now() + 10_000;
    while (output().split(/OpenSSL Error\[0\]|connection from \S+ failed/).length - 1 < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const lines = output().split('\n').map((l) => l.replace(/^\d+: /, '').replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
      .replace(/auto-[0-9A-Fa-f-]+/g, 'auto-ID'));
    return {
      reached,
      clients: lines.filter((l) => l.startsWith('New client')),
      opensslErrors: lines.flatMap((l) => /^(?:OpenSSL Error\[0\]: |Client connection from \S+ failed: )(error:.*?)\.?$/.exec(l)?.slice(1) ?? []),
    };
  } finally {
    broker.kill();
    await broker.exit;
  }
}

test('TLS-PSK: the keys of psk_file over TLS 1.3 and 1.2, a wrong key and an unknown identity refused, the identity as username: as Mosquitto 2.0.11, at 1 and 2 workers', { skip: culexOnly }, async () => {
  const mosquittoPort = await freePort();
  const mosquittoConf = path.join(tmp.dir, 'mosquitto.conf');
  writeFileSync(mosquittoConf, conf(mosquittoPort, ['user root']));
  const expected = await run(startMosquittoCli(mosquittoConf), mosquittoPort);
  assert.deepEqual(expected.reached, [true, true, false, false]);
  assert.deepEqual(expected.clients, [
    'New client connected from 127.0.0.1:PORT as auto-ID (p2, c1, k60, u\'dev1\').',
    'New client connected from 127.0.0.1:PORT as auto-ID (p2, c1, k60, u\'dev2\').',
  ]);
  assert.equal(expected.opensslErrors.length, 2);
  for (const workers of [1, 2]) {
    const port = await freePort();
    const culexConf = path.join(tmp.dir, `culex-${workers}.conf`);
    writeFileSync(culexConf, conf(port, [`workers ${workers}`]));
    const got = await run(startCli(['-c', culexConf], tmp.dir), port);
    assert.deepEqual(got, expected, `culex, ${workers} workers`);
  }
});

test('SIGHUP reads psk_file again: a changed key works, the old one no longer does; a psk_file with a bad key stops the start naming its line', { skip: culexOnly }, async () => {
  const port = await freePort();
  const reloadKeys = path.join(tmp.dir, 'reload-psk');
  writeFileSync(reloadKeys, 'dev1:aaaa\n');
  const culexConf = path.join(tmp.dir, 'reload.conf');
  writeFileSync(culexConf, conf(port, ['workers 2']).replace(keys, reloadKeys));
  const broker = startCli(['-c', culexConf], tmp.dir);
  try {
    await waitFor(broker.output, ' running');
    assert.equal(await publish(port, 'dev1', 'aaaa'), true);
    writeFileSync(reloadKeys, 'dev1:bbbb\n');
    broker.proc.kill('SIGHUP');
    await waitFor(broker.output, 'Reloading config.');
    // each worker applies the reload on its own: wait until four connections in a row (whichever
    // worker takes each) refuse the old key and take the new one
    const deadline = Date.now() + 10_000;
    for (let inARow = 0; inARow < 4;) {
      assert.ok(Date.now() < deadline, 'the old key still works, or the new one not yet, 10 s after the reload');
      inARow = !(await publish(port, 'dev1', 'aaaa')) && (await publish(port, 'dev1', 'bbbb')) ? inARow + 1 : 0;
    }
  } finally {
    broker.kill();
    await broker.exit;
  }
  const badKeys = path.join(tmp.dir, 'bad-psk');
  writeFileSync(badKeys, 'dev1:abcd\ndev2:xyz\n');
  const badConf = path.join(tmp.dir, 'bad.conf');
  writeFileSync(badConf, conf(await freePort(), []).replace(keys, badKeys));
  const bad = startCli(['-c', badConf], tmp.dir);
  const exit = await bad.exit;
  assert.equal(exit.code, 1);
  assert.match(bad.output(), /bad-psk:2: psk for identity "dev2" contains non-hexadecimal characters/);
});

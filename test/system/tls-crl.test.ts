/**
 * `crlfile` with an intermediate CA, the usual layout of a company PKI: a root, an issuing CA
 * below it that signs the devices, and a crlfile holding the issuing CA's CRL only. Mosquitto
 * (OpenSSL's X509_V_FLAG_CRL_CHECK) lets in every device that CRL does not list and refuses the
 * ones it lists; so must culex, over MQTT and WebSockets over TLS. Runs against Mosquitto too
 * (CULEX_TEST_BROKER=mosquitto), except over WebSockets and the test of culex's log lines.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { ListenerConfig } from '../../src/config/types.ts';
import { culexOnly, freePort, startCli, startTestBroker, tempDir, waitForPort, type CliProcess, type TestBroker } from '../helpers/broker.ts';
import { issue, makeCa, makeCrl, type Ca } from '../helpers/caChain.ts';
import type { KeyPair } from '../helpers/certs.ts';

let tmp: ReturnType<typeof tempDir>;
let root: Ca;
let cafile: string;
let server: KeyPair;
let device: KeyPair;
let revoked: KeyPair;
let crlfile: string;

before(() => {
  tmp = tempDir('culex-crl-chain-');
  root = makeCa(tmp.dir, 'root', '/CN=culex test root');
  const issuing = makeCa(tmp.dir, 'issuing', '/O=Example/CN=culex issuing CA', root);
  server = issue(issuing, 'server', '/CN=127.0.0.1', '127.0.0.1');
  device = issue(issuing, 'device', '/CN=device-1');
  revoked = issue(issuing, 'revoked', '/CN=device-2');
  crlfile = makeCrl(issuing, 'issuing', { revoked: [revoked] });
  cafile = path.join(tmp.dir, 'cafile.pem');
  writeFileSync(cafile, Buffer.concat([root.cert, issuing.cert]));
});
after(() => tmp.cleanup());

function tlsListener(protocol: ListenerConfig['protocol']): ListenerConfig {
  return {
    port: 0,
    host: '127.0.0.1',
    protocol,
    maxConnections: -1,
    tls: { certfile: server.certfile, keyfile: server.keyfile, cafile, crlfile, requireCertificate: true, useIdentityAsUsername: false },
  };
}

const options = (client: KeyPair): IClientOptions => ({
  reconnectPeriod: 0,
  connectTimeout: 5000,
  ca: root.cert,
  cert: client.cert,
  key: client.key,
  rejectUnauthorized: true,
});

/** true: CONNACK accepted; false: the connection ended without one */
function connects(url: string, client: KeyPair): Promise<boolean> {
  return new Promise((resolve) => {
    const c = mqtt.connect(url, options(client));
    c.once('connect', () => {
      c.end(true);
      resolve(true);
    });
    c.on('error', () => {});
    c.once('close', () => {
      c.end(true);
      resolve(false);
    });
  });
}

// The Mosquitto installed here cannot open a WebSocket listener bound to 127.0.0.1 (see tls-identity.test.ts).
for (const [protocol, scheme] of [['mqtt', 'mqtts'], ['websockets', 'wss']] as const) {
  test(`${protocol} over TLS: the issuing CA's CRL alone lets its devices in and keeps out the one it revokes`, { skip: protocol === 'websockets' && culexOnly }, async () => {
    let b: TestBroker | undefined;
    try {
      b = await startTestBroker({ listeners: [tlsListener(protocol)], allowAnonymous: true });
      const url = `${scheme}://127.0.0.1:${b.port}${protocol === 'websockets' ? '/mqtt' : ''}`;
      assert.equal(await connects(url, device), true, 'a device the CRL does not list connects');
      assert.equal(await connects(url, revoked), false, 'the revoked device gets no CONNACK');
      assert.equal(await connects(url, device), true, 'and the next device still connects');
    } finally {
      await b?.stop();
    }
  });
}

test('a refused certificate is logged with Mosquitto\'s lines and its reason', { skip: culexOnly }, async () => {
  const port = await freePort();
  const conf = path.join(tmp.dir, 'crl.conf');
  writeFileSync(conf, [
    `listener ${port} 127.0.0.1`, `certfile ${server.certfile}`, `keyfile ${server.keyfile}`, `cafile ${cafile}`,
    'require_certificate true', `crlfile ${crlfile}`, 'allow_anonymous true', 'log_dest stderr', 'log_type all', '',
  ].join('\n'));
  const p = startCli(['-c', conf], tmp.dir);
  try {
    await waitForPort(port);
    assert.equal(await connects(`mqtts://127.0.0.1:${port}`, revoked), false);
    const deadline = Date.now() + 5000;
    while (!p.output().includes('Protocol error') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const lines = p.output().split('\n').map((l) => l.replace(/^\d+: /, ''));
    const refused = lines.findIndex((l) => /^Error: Client certificate from 127\.0\.0\.1:\d+ refused: certificate revoked\.$/.test(l));
    assert.ok(refused > 1, p.output());
    // the three lines of the refusal come together; the accept's line, from an earlier turn, before them
    assert.equal(lines[refused - 1], 'OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed');
    assert.equal(lines[refused + 1], 'Client <unknown> disconnected: Protocol error.');
    const client = /from (127\.0\.0\.1:\d+) refused/.exec(lines[refused]!)![1]!;
    assert.ok(lines.slice(0, refused - 1).includes(`New connection from ${client} on port ${port}.`), p.output());
    assert.ok(!p.output().includes('New client connected'), 'no MQTT session for the refused device');
  } finally {
    p.kill();
    await p.exit;
  }
});

/** The serial number of the certificate the server at `port` presents to `client`. */
function serverSerial(port: number, client: KeyPair): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ port, host: '127.0.0.1', ca: root.cert, cert: client.cert, key: client.key }, () => {
      resolve(s.getPeerCertificate().serialNumber);
      s.destroy();
    });
    s.once('error', reject);
  });
}

async function untilOutput(p: CliProcess, text: string, count: number): Promise<void> {
  const deadline = Date.now() + 10000;
  while (p.output().split(text).length - 1 < count) {
    if (Date.now() > deadline) assert.fail(`no ${count}× "${text}" in:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('SIGHUP reads certfile, keyfile and crlfile again: the renewed certificate is presented, a device revoked since is refused, connected clients stay; an unreadable certfile keeps the running ones', { skip: culexOnly }, async () => {
  const dir = path.join(tmp.dir, 'reload');
  mkdirSync(dir);
  const issuing = makeCa(dir, 'issuing', '/O=Example/CN=culex reload CA', root);
  const files = { cert: path.join(dir, 'live-server.pem'), key: path.join(dir, 'live-server.key'), crl: path.join(dir, 'live-crl.pem'), ca: path.join(dir, 'ca.pem') };
  const first = issue(issuing, 'server-1', '/CN=127.0.0.1', '127.0.0.1');
  const renewed = issue(issuing, 'server-2', '/CN=127.0.0.1', '127.0.0.1');
  const sensor = issue(issuing, 'sensor', '/CN=sensor');
  const other = issue(issuing, 'other', '/CN=other');
  copyFileSync(first.certfile, files.cert);
  copyFileSync(first.keyfile, files.key);
  copyFileSync(makeCrl(issuing, 'none-revoked'), files.crl);
  writeFileSync(files.ca, Buffer.concat([root.cert, issuing.cert]));
  const port = await freePort();
  const conf = path.join(dir, 'culex.conf');
  writeFileSync(conf, [
    `listener ${port} 127.0.0.1`, `certfile ${files.cert}`, `keyfile ${files.key}`, `cafile ${files.ca}`,
    'require_certificate true', `crlfile ${files.crl}`, 'allow_anonymous true', 'log_dest stderr', '',
  ].join('\n'));
  const p = startCli(['-c', conf], dir);
  const url = `mqtts://127.0.0.1:${port}`;
  let stay: MqttClient | undefined;
  try {
    await waitForPort(port);
    stay = await mqtt.connectAsync(url, options(other));
    const firstSerial = await serverSerial(port, other);
    assert.equal(await connects(url, sensor), true);

    copyFileSync(renewed.certfile, files.cert);
    copyFileSync(renewed.keyfile, files.key);
    copyFileSync(makeCrl(issuing, 'sensor-revoked', { revoked: [sensor] }), files.crl);
    p.proc.kill('SIGHUP');
    await untilOutput(p, 'reload: done', 1);
    const renewedSerial = await serverSerial(port, other);
    assert.notEqual(renewedSerial, firstSerial, 'the renewed server certificate is presented');
    assert.equal(await connects(url, sensor), false, 'the device revoked since the start is refused');
    assert.equal(await connects(url, other), true);
    await stay.publishAsync('still/here', 'x', { qos: 1 });
    assert.equal(stay.connected, true, 'a client connected before the reload stays');

    writeFileSync(files.cert, 'not a certificate\n');
    p.proc.kill('SIGHUP');
    await untilOutput(p, 'reload: done', 2);
    assert.match(p.output(), new RegExp(`Error when reloading certificate '${files.cert.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' or key '.*live-server\\.key': .*; the listener keeps its running TLS files\\.`));
    assert.equal(await serverSerial(port, other), renewedSerial, 'the running certificate stays');
    assert.equal(await connects(url, sensor), false, 'and so does the running CRL');
    assert.equal(await connects(url, other), true);
  } finally {
    await stay?.endAsync();
    p.kill();
    await p.exit;
  }
});

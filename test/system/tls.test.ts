import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startBroker } from '../../src/server.ts';
import { defaultConfig } from '../../src/config/defaults.ts';

test('a TLS listener (certfile/keyfile) serves MQTT over TLS', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'culex-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const b = await startBroker(defaultConfig({
    listeners: [{ port: 0, host: '127.0.0.1', protocol: 'mqtt', maxConnections: -1, tls: { certfile: cert, keyfile: key, requireCertificate: false, useIdentityAsUsername: false } }],
    workers: 1, persistence: false, sysInterval: 0, connectionMessages: false,
  }));
  const url = `mqtts://127.0.0.1:${b.ports[0]}`;
  const opts = { reconnectPeriod: 0, ca: readFileSync(cert), rejectUnauthorized: true, servername: '127.0.0.1' } as const;
  const sub = await mqtt.connectAsync(url, opts);
  const pub = await mqtt.connectAsync(url, opts);
  try {
    const arrived = new Promise<string>((resolve) => sub.on('message', (_t, p) => resolve(p.toString())));
    await sub.subscribeAsync('secure/t', { qos: 1 });
    await pub.publishAsync('secure/t', 'over tls', { qos: 1 });
    assert.equal(await arrived, 'over tls');
  } finally {
    await sub.endAsync();
    await pub.endAsync();
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

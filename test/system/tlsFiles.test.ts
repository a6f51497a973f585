/**
 * TLS listener files beyond certfile/keyfile/cafile, over real TLS connections: `capath` (a CA
 * directory under OpenSSL's hashed names) and `dhparamfile` (DHE key exchange).
 * test/unit/config/optionTable.test.ts points here for both.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import mqtt, { type IClientOptions } from 'mqtt';
import type { TlsConfig } from '../../src/config/types.ts';
import { culexOnly, tempDir } from '../helpers/broker.ts';
import { makePki } from '../helpers/certs.ts';
import { Harness } from '../helpers/clients.ts';

const h = new Harness();
const tmp = tempDir('culex-tls-files-');
after(async () => {
  await h.teardown();
  tmp.cleanup();
});

function tlsBroker(tls: Partial<TlsConfig> & Pick<TlsConfig, 'certfile' | 'keyfile'>) {
  return h.broker({
    listeners: [{ port: 0, host: '127.0.0.1', protocol: 'mqtt', maxConnections: -1, tls: { requireCertificate: false, useIdentityAsUsername: false, ...tls } }],
  });
}

/** Connects over TLS; resolves true on CONNACK, false when the handshake or the connection fails. */
function connects(port: number, opts: IClientOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const c = mqtt.connect(`mqtts://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5000, servername: '127.0.0.1', ...opts });
    c.once('connect', () => { c.end(true); resolve(true); });
    c.once('error', () => { c.end(true); resolve(false); });
    c.once('close', () => resolve(false));
  });
}

describe('capath', { skip: culexOnly }, () => {
  test('require_certificate with capath only: a client certificate from a CA linked under its hash is accepted; a CA file without a hashed name is not trusted (OpenSSL hash lookup, Mosquitto)', async () => {
    const a = path.join(tmp.dir, 'pki-a');
    const other = path.join(tmp.dir, 'pki-b');
    mkdirSync(a);
    mkdirSync(other);
    const pkiA = makePki(a, { dev: '/CN=dev-a' });
    const pkiB = makePki(other, { dev: '/CN=dev-b' });
    const capath = path.join(tmp.dir, 'capath');
    mkdirSync(capath);
    const hash = execFileSync('openssl', ['x509', '-hash', '-noout', '-in', pkiA.cafile], { encoding: 'utf8' }).trim();
    copyFileSync(pkiA.cafile, path.join(capath, `${hash}.0`));
    copyFileSync(pkiB.cafile, path.join(capath, 'other-ca.pem')); // not under its hash: OpenSSL never looks at it
    const b = await tlsBroker({ certfile: pkiA.server.certfile, keyfile: pkiA.server.keyfile, capath, requireCertificate: true });
    const port = b.port;
    const devA = pkiA.clients.dev!;
    const devB = pkiB.clients.dev!;
    assert.equal(await connects(port, { ca: pkiA.ca, cert: devA.cert, key: devA.key }), true);
    assert.equal(await connects(port, { ca: pkiA.ca, cert: devB.cert, key: devB.key }), false);
    assert.equal(await connects(port, { ca: pkiA.ca }), false);
  });

  test('a capath with no hashed certificate stops the start, naming the listener and the directory', async () => {
    const empty = path.join(tmp.dir, 'empty-capath');
    mkdirSync(empty);
    const pki = path.join(tmp.dir, 'pki-c');
    mkdirSync(pki);
    const p = makePki(pki, {});
    await assert.rejects(tlsBroker({ certfile: p.server.certfile, keyfile: p.server.keyfile, capath: empty }), /capath '.*empty-capath' holds no certificate/);
  });
});

describe('dhparamfile', { skip: culexOnly }, () => {
  const cert = path.join(tmp.dir, 'rsa.pem');
  const key = path.join(tmp.dir, 'rsa.key');
  const dh = path.join(tmp.dir, 'dh.pem');
  const dheOnly: IClientOptions = { ciphers: 'DHE-RSA-AES128-GCM-SHA256', maxVersion: 'TLSv1.2', minVersion: 'TLSv1.2' } as IClientOptions;

  test('a TLS 1.2 client offering only a DHE cipher connects with dhparamfile and is refused without it (Mosquitto)', async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    // RFC 7919 group: made at once, no prime search
    execFileSync('openssl', ['genpkey', '-genparam', '-algorithm', 'DH', '-pkeyopt', 'dh_param:ffdhe2048', '-out', dh], { stdio: 'ignore' });
    const ca = readFileSync(cert);
    const withDh = await tlsBroker({ certfile: cert, keyfile: key, dhparamfile: dh });
    assert.equal(await connects(withDh.port, { ca, ...dheOnly }), true);
    const without = await tlsBroker({ certfile: cert, keyfile: key });
    assert.equal(await connects(without.port, { ca, ...dheOnly }), false);
    // ECDHE clients are served either way
    assert.equal(await connects(withDh.port, { ca }), true);
  });
});

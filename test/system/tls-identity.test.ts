/**
 * Client certificates and TLS options of a listener, as Mosquitto 2.0 does them (mosquitto.conf(5);
 * src/handle_connect.c, src/net.c): use_identity_as_username / use_subject_as_username make
 * the certificate name the client (the ACL then applies to that name, the password file and
 * allow_anonymous do not), crlfile refuses revoked certificates (tls-crl.test.ts: with an
 * intermediate CA), tls_version sets the lowest TLS version, ciphers / ciphers_tls1.3 the cipher
 * lists.
 * Real TLS clients (MQTT.js over node:tls) against certificates made by `openssl`. Every case
 * also runs against Mosquitto with CULEX_TEST_BROKER=mosquitto.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { BrokerConfig, ListenerConfig, TlsConfig } from '../../src/config/types.ts';
import { brokerUnderTest, culexOnly, startTestBroker, tempDir, writePasswordFile, type TestBroker } from '../helpers/broker.ts';
import { makePki, type KeyPair, type Pki } from '../helpers/certs.ts';

let tmp: ReturnType<typeof tempDir>;
let pki: Pki;
let aclFile: string;
let passwordFile: string;

before(() => {
  tmp = tempDir('culex-tlsid-');
  pki = makePki(
    tmp.dir,
    {
      sensor1: '/C=DE/O=Example/CN=sensor1',
      monitor: '/CN=monitor',
      revoked: '/C=DE/O=Example/CN=revoked',
      nocn: '/C=DE/O=No Common Name',
    },
    ['revoked'],
  );
  aclFile = path.join(tmp.dir, 'acl');
  writeFileSync(
    aclFile,
    [
      'user sensor1',
      'topic readwrite sensors/sensor1/#',
      'user monitor',
      'topic read #',
      'user admin',
      'topic readwrite admin/#',
      'user CN=sensor1,O=Example,C=DE',
      'topic readwrite subject/#',
      'user CN=monitor',
      'topic read #',
      'pattern write users/%u/#',
      '',
    ].join('\n'),
  );
  passwordFile = writePasswordFile(tmp.dir, { admin: 'secret', sensor1: 'right' });
});
after(() => tmp.cleanup());

/** One TLS listener with these settings, allow_anonymous false, the ACL and password file above. */
function start(tls: Partial<TlsConfig>, listener: Partial<ListenerConfig> = {}, config: Partial<BrokerConfig> = {}): Promise<TestBroker> {
  return startTestBroker({
    listeners: [{
      port: 0,
      host: '127.0.0.1',
      protocol: 'mqtt',
      maxConnections: -1,
      ...listener,
      tls: {
        certfile: pki.server.certfile,
        keyfile: pki.server.keyfile,
        cafile: pki.cafile,
        requireCertificate: true,
        useIdentityAsUsername: false,
        ...tls,
      },
    }],
    allowAnonymous: false,
    aclFile,
    passwordFile,
    ...config,
  });
}

/** MQTT.js hands these on to tls.connect. */
type ClientOptions = IClientOptions & Pick<ConnectionOptions, 'minVersion' | 'maxVersion' | 'ciphers'>;

/** TLS client options presenting `client`'s certificate (none when undefined). */
function tlsOptions(client: KeyPair | undefined, extra: ClientOptions = {}): IClientOptions {
  return {
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ca: pki.ca,
    rejectUnauthorized: true,
    ...(client !== undefined ? { cert: client.cert, key: client.key } : {}),
    ...extra,
  };
}

type Outcome = { connected: MqttClient } | { refused: number } | { failed: string };

/** Connects once: CONNACK accepted, CONNACK refused (its code), or the connection failed (TLS). */
function attempt(url: string, opts: IClientOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, opts);
    let done = false;
    const finish = (o: Outcome): void => {
      if (done) return;
      done = true;
      if (!('connected' in o)) client.end(true);
      resolve(o);
    };
    client.once('connect', () => finish({ connected: client }));
    client.on('error', (err: Error & { code?: unknown }) => {
      finish(typeof err.code === 'number' ? { refused: err.code } : { failed: err.message });
    });
    client.once('close', () => finish({ failed: 'closed before CONNACK' }));
  });
}

async function connected(url: string, opts: IClientOptions): Promise<MqttClient> {
  const o = await attempt(url, opts);
  if (!('connected' in o)) assert.fail(`expected a connection, got ${JSON.stringify(o)}`);
  return o.connected;
}

async function failsHandshake(url: string, opts: IClientOptions): Promise<void> {
  const o = await attempt(url, opts);
  if ('connected' in o) {
    await o.connected.endAsync();
    assert.fail('expected the TLS handshake to fail, but the client connected');
  }
  assert.ok('failed' in o, `expected the TLS handshake to fail, got ${JSON.stringify(o)}`);
}

/**
 * Publishes each topic (QoS 1, in order) from `publisher`, then a marker on `marker`, and
 * returns the topics `subscriber` (subscribed to `#`) received before the marker: those the
 * ACL let through.
 */
async function delivered(subscriber: MqttClient, publisher: MqttClient, topics: readonly string[], marker: string): Promise<string[]> {
  const seen: string[] = [];
  const done = new Promise<void>((resolve) => {
    subscriber.on('message', (topic) => {
      if (topic === marker) resolve();
      else seen.push(topic);
    });
  });
  await subscriber.subscribeAsync('#', { qos: 1 });
  for (const topic of topics) await publisher.publishAsync(topic, 'x', { qos: 1 });
  await publisher.publishAsync(marker, 'end', { qos: 1 });
  await done;
  return seen;
}

const url = (b: TestBroker): string => `mqtts://127.0.0.1:${b.port}`;

describe('use_identity_as_username (Mosquitto: the certificate CN is the username)', () => {
  let b: TestBroker;
  before(async () => {
    b = await start({ useIdentityAsUsername: true });
  });
  after(() => b.stop());

  test('CN=sensor1 connects without username or password while allow_anonymous is false; its ACL user block applies', async () => {
    const monitor = await connected(url(b), tlsOptions(pki.clients['monitor']));
    const sensor = await connected(url(b), tlsOptions(pki.clients['sensor1']));
    try {
      const seen = await delivered(monitor, sensor, ['sensors/sensor1/temp', 'sensors/sensor2/temp', 'admin/x'], 'sensors/sensor1/end');
      assert.deepEqual(seen, ['sensors/sensor1/temp']);
    } finally {
      await sensor.endAsync();
      await monitor.endAsync();
    }
  });

  test("the CONNECT's username and password are replaced by the CN: the password file is not used", async () => {
    // admin's right password does not make this client admin; sensor1's wrong one does not refuse it
    const asAdmin = await connected(url(b), tlsOptions(pki.clients['sensor1'], { username: 'admin', password: 'secret' }));
    const wrongPassword = await connected(url(b), tlsOptions(pki.clients['sensor1'], { username: 'sensor1', password: 'wrong' }));
    const monitor = await connected(url(b), tlsOptions(pki.clients['monitor']));
    try {
      assert.deepEqual(await delivered(monitor, asAdmin, ['admin/x', 'sensors/sensor1/a'], 'sensors/sensor1/end-a'), ['sensors/sensor1/a']);
      await wrongPassword.publishAsync('sensors/sensor1/b', 'x', { qos: 1 });
    } finally {
      await asAdmin.endAsync();
      await wrongPassword.endAsync();
      await monitor.endAsync();
    }
  });

  test('a certificate without CN is refused "bad user name or password": 3.1.1 return code 4, v5 0x86', async () => {
    assert.deepEqual(await attempt(url(b), tlsOptions(pki.clients['nocn'], { protocolVersion: 4 })), { refused: 4 });
    assert.deepEqual(await attempt(url(b), tlsOptions(pki.clients['nocn'], { protocolVersion: 5 })), { refused: 0x86 });
  });

  test('require_certificate true: a client without a certificate fails the TLS handshake', async () => {
    await failsHandshake(url(b), tlsOptions(undefined));
    await failsHandshake(url(b), tlsOptions(undefined, { username: 'admin', password: 'secret' }));
  });
});

test('use_identity_as_username with require_certificate false: no certificate is asked for, every client is refused with return code 4', async () => {
  const b = await start({ useIdentityAsUsername: true, requireCertificate: false });
  try {
    assert.deepEqual(await attempt(url(b), tlsOptions(pki.clients['sensor1'])), { refused: 4 });
    assert.deepEqual(await attempt(url(b), tlsOptions(undefined, { username: 'admin', password: 'secret' })), { refused: 4 });
  } finally {
    await b.stop();
  }
});

test('crlfile: a revoked client certificate is refused before any MQTT, the others connect', async () => {
  const b = await start({ useIdentityAsUsername: true, crlfile: pki.crlfile });
  try {
    await failsHandshake(url(b), tlsOptions(pki.clients['revoked']));
    const ok = await connected(url(b), tlsOptions(pki.clients['sensor1']));
    await ok.endAsync();
  } finally {
    await b.stop();
  }
});

test('use_subject_as_username: the username is the RFC 2253 subject, CN=sensor1,O=Example,C=DE (ACL user block and %u)', async () => {
  const b = await start({ useSubjectAsUsername: true });
  try {
    const monitor = await connected(url(b), tlsOptions(pki.clients['monitor']));
    const sensor = await connected(url(b), tlsOptions(pki.clients['sensor1'], { username: 'sensor1', password: 'right' }));
    try {
      const seen = await delivered(
        monitor,
        sensor,
        ['subject/a', 'sensors/sensor1/temp', 'users/CN=sensor1,O=Example,C=DE/b', 'users/sensor1/c'],
        'subject/end',
      );
      assert.deepEqual(seen, ['subject/a', 'users/CN=sensor1,O=Example,C=DE/b']);
    } finally {
      await sensor.endAsync();
      await monitor.endAsync();
    }
  } finally {
    await b.stop();
  }
});

test('tls_version tlsv1.3: a TLS 1.2 client fails the handshake, a TLS 1.3 client connects', async () => {
  const b = await start({ useIdentityAsUsername: true, tlsVersion: 'tlsv1.3' });
  try {
    await failsHandshake(url(b), tlsOptions(pki.clients['sensor1'], { maxVersion: 'TLSv1.2' }));
    const ok = await connected(url(b), tlsOptions(pki.clients['sensor1'], { minVersion: 'TLSv1.3' }));
    await ok.endAsync();
  } finally {
    await b.stop();
  }
});

test('ciphers and ciphers_tls1.3: a client offering only other ciphers fails the handshake', async () => {
  const b = await start({
    useIdentityAsUsername: true,
    ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256',
    ciphersTls13: 'TLS_CHACHA20_POLY1305_SHA256',
  });
  try {
    const tls12 = { maxVersion: 'TLSv1.2' } as const;
    await failsHandshake(url(b), tlsOptions(pki.clients['sensor1'], { ...tls12, ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' }));
    const ok12 = await connected(url(b), tlsOptions(pki.clients['sensor1'], { ...tls12, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }));
    await ok12.endAsync();
    await failsHandshake(url(b), tlsOptions(pki.clients['sensor1'], { minVersion: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384' }));
    const ok13 = await connected(url(b), tlsOptions(pki.clients['sensor1'], { minVersion: 'TLSv1.3', ciphers: 'TLS_CHACHA20_POLY1305_SHA256' }));
    await ok13.endAsync();
  } finally {
    await b.stop();
  }
});

// Mosquitto 2.0.11 applies require_certificate and use_identity_as_username to WebSocket
// listeners too (crlfile and tls_version it does not pass to libwebsockets: culex applies them).
// The Mosquitto installed here cannot open a WebSocket listener bound to 127.0.0.1 at all.
test('WebSockets over TLS: require_certificate, crlfile and use_identity_as_username apply as on an MQTT listener', { skip: culexOnly }, async () => {
  const b = await start({ useIdentityAsUsername: true, crlfile: pki.crlfile }, { protocol: 'websockets' });
  const wss = `wss://127.0.0.1:${b.port}`;
  try {
    await failsHandshake(wss, tlsOptions(undefined));
    await failsHandshake(wss, tlsOptions(pki.clients['revoked']));
    assert.deepEqual(await attempt(wss, tlsOptions(pki.clients['nocn'])), { refused: 4 });
    const monitor = await connected(wss, tlsOptions(pki.clients['monitor']));
    const sensor = await connected(wss, tlsOptions(pki.clients['sensor1'], { username: 'admin', password: 'secret' }));
    try {
      assert.deepEqual(await delivered(monitor, sensor, ['admin/x', 'sensors/sensor1/temp'], 'sensors/sensor1/end'), ['sensors/sensor1/temp']);
    } finally {
      await sensor.endAsync();
      await monitor.endAsync();
    }
  } finally {
    await b.stop();
  }
});

/** The error a start with these TLS settings fails with (a broker that starts is stopped, and the test fails). */
async function startError(tls: Partial<TlsConfig>): Promise<Error> {
  let b: TestBroker;
  try {
    b = await start(tls);
  } catch (err) {
    return err as Error;
  }
  await b.stop();
  return assert.fail('the broker started');
}

test('a crlfile that holds no CRL stops the start, naming the listener and the file', async () => {
  const notCrl = pki.cafile;
  const err = await startError({ crlfile: notCrl });
  if (brokerUnderTest === 'mosquitto') {
    // "Unable to load certificate revocation file" (with log_dest none, not shown)
    assert.match(err.message, /mosquitto exited/);
  } else {
    assert.match(err.message, /^listener 0: crlfile '.*' holds no PEM CRL/);
    assert.ok(err.message.includes(`'${notCrl}'`));
  }
});

test('a crlfile that cannot be read stops the start, naming the file', { skip: culexOnly }, async () => {
  const missing = path.join(tmp.dir, 'missing-crl.pem');
  const err = await startError({ crlfile: missing });
  assert.ok(err.message.includes(`cannot read crlfile '${missing}'`), err.message);
});

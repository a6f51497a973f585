/**
 * The TLS listener options Mosquitto 2.0 has beyond certfile/keyfile/cafile: crlfile,
 * tls_version, ciphers, ciphers_tls1.3, use_subject_as_username (src/conf.c: listener options,
 * strings read once) — parsed per listener, checked as OpenSSL checks them (src/net.c refuses
 * to start on a cipher list with nothing usable), errors naming the line.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, type ConfigError } from '../../../src/config/load.ts';
import { nodeCiphers } from '../../../src/config/tlsCiphers.ts';
import { expectConfigError } from './expectConfigError.ts';

const TLS_LISTENER = 'listener 8883\ncertfile /c\nkeyfile /k\ncafile /ca\nrequire_certificate true\n';

function load(text: string) {
  return parseConfig(text, 'tls.conf');
}

function parseError(text: string): ConfigError {
  return expectConfigError(() => load(text));
}

function tlsOf(text: string) {
  return load(text).config.listeners[0]!.tls!;
}

describe('per-listener TLS options', () => {
  test('they apply to the listener they follow, and only to it', () => {
    const { config, warnings } = load(
      [
        'listener 8883',
        'certfile /c',
        'keyfile /k',
        'cafile /ca',
        'require_certificate true',
        'use_subject_as_username true',
        'crlfile /etc/crl.pem',
        'tls_version tlsv1.3',
        'ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256',
        'ciphers_tls1.3 TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256',
        'listener 8884',
        'certfile /c',
        'keyfile /k',
      ].join('\n'),
    );
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.listeners[0]!.tls, {
      certfile: '/c',
      keyfile: '/k',
      cafile: '/ca',
      requireCertificate: true,
      useIdentityAsUsername: false,
      useSubjectAsUsername: true,
      crlfile: '/etc/crl.pem',
      tlsVersion: 'tlsv1.3',
      ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256',
      ciphersTls13: 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256',
    });
    assert.deepEqual(config.listeners[1]!.tls, { certfile: '/c', keyfile: '/k', requireCertificate: false, useIdentityAsUsername: false });
  });

  test('tls_version takes tlsv1.1 | tlsv1.2 | tlsv1.3 (Mosquitto: "Unsupported tls_version")', () => {
    for (const v of ['tlsv1.1', 'tlsv1.2', 'tlsv1.3'] as const) assert.equal(tlsOf(`${TLS_LISTENER}tls_version ${v}\n`).tlsVersion, v);
    const err = parseError(`${TLS_LISTENER}tls_version tlsv1.0\n`);
    assert.equal(err.line, 6);
    assert.match(err.message, /tls_version: invalid value 'tlsv1\.0' \(expected tlsv1\.1 \| tlsv1\.2 \| tlsv1\.3\)/);
  });

  test('the string options may be given once per listener (Mosquitto: "Duplicate ... value")', () => {
    for (const line of ['crlfile /a', 'tls_version tlsv1.2', 'ciphers HIGH', 'ciphers_tls1.3 TLS_AES_128_GCM_SHA256']) {
      const err = parseError(`${TLS_LISTENER}${line}\n${line}\n`);
      assert.equal(err.line, 7, line);
      assert.match(err.message, /duplicate/);
    }
  });

  test('tls_version before any listener applies to the default listener only, with a warning', () => {
    const { config, warnings } = load('tls_version tlsv1.3\nlistener 8883\ncertfile /c\nkeyfile /k\n');
    assert.equal(config.listeners.length, 1);
    assert.equal(config.listeners[0]!.tls!.tlsVersion, undefined);
    assert.match(warnings.join('\n'), /tls\.conf:1: 'tls_version' before any 'listener' line applies to the default listener only/);
  });

  test('crlfile needs TLS like cafile does; without require_certificate it gets a warning', () => {
    assert.match(parseError('listener 1883\ncrlfile /crl\n').message, /TLS needs both certfile and keyfile/);
    const { warnings } = load('listener 8883\ncertfile /c\nkeyfile /k\ncrlfile /crl\n');
    assert.match(warnings.join('\n'), /crlfile has no client certificate to check unless require_certificate is true/);
  });

  test('options that only shape TLS are noted as having no effect on a plain listener (as in Mosquitto)', () => {
    const { config, warnings } = load('listener 1883\nuse_subject_as_username true\ntls_version tlsv1.3\nciphers HIGH\n');
    assert.equal(config.listeners[0]!.tls, undefined);
    assert.match(warnings.join('\n'), /listener 1883: ciphers, tls_version, use_subject_as_username ignored: not a TLS listener/);
  });

  test('use_identity_as_username and use_subject_as_username together: the CN is used, with a warning', () => {
    const { warnings } = load(`${TLS_LISTENER}use_identity_as_username true\nuse_subject_as_username true\n`);
    assert.match(warnings.join('\n'), /both set: the CN is used/);
  });
});

describe('ciphers and ciphers_tls1.3 are checked by OpenSSL at load', () => {
  test('a cipher list OpenSSL finds nothing in is an error naming the line (Mosquitto: "Unable to set TLS ciphers")', () => {
    const err = parseError(`${TLS_LISTENER}ciphers NOT-A-CIPHER\n`);
    assert.equal(err.file, 'tls.conf');
    assert.equal(err.line, 6);
    assert.match(err.message, /ciphers: invalid cipher list 'NOT-A-CIPHER': .*no cipher match/);
  });

  test('an OpenSSL cipher string with keywords and operators is accepted; `,` and spaces separate too', () => {
    assert.equal(tlsOf(`${TLS_LISTENER}ciphers HIGH:!aNULL:!MD5:@STRENGTH\n`).ciphers, 'HIGH:!aNULL:!MD5:@STRENGTH');
    assert.equal(tlsOf(`${TLS_LISTENER}ciphers ECDHE-ECDSA-AES128-GCM-SHA256, HIGH\n`).ciphers, 'ECDHE-ECDSA-AES128-GCM-SHA256:HIGH');
  });

  test('a TLS 1.3 suite in ciphers is dropped with a warning (SSL_CTX_set_cipher_list ignores it); only suites is an error', () => {
    const { config, warnings } = load(`${TLS_LISTENER}ciphers HIGH:TLS_AES_128_GCM_SHA256\n`);
    assert.equal(config.listeners[0]!.tls!.ciphers, 'HIGH');
    assert.match(warnings.join('\n'), /tls\.conf:6: TLS 1\.3 suite TLS_AES_128_GCM_SHA256 ignored in 'ciphers'/);
    assert.match(parseError(`${TLS_LISTENER}ciphers TLS_AES_128_GCM_SHA256\n`).message, /tls\.conf:6: ciphers: no TLS 1\.2 cipher/);
  });

  test('ciphers_tls1.3: unknown names are dropped with a warning; none known is an error naming the line', () => {
    const { config, warnings } = load(`${TLS_LISTENER}ciphers_tls1.3 TLS_AES_128_GCM_SHA256:TLS_BOGUS:HIGH\n`);
    assert.equal(config.listeners[0]!.tls!.ciphersTls13, 'TLS_AES_128_GCM_SHA256');
    assert.match(warnings.join('\n'), /unknown TLS 1\.3 cipher suite TLS_BOGUS, HIGH ignored/);
    const err = parseError(`${TLS_LISTENER}ciphers_tls1.3 TLS_BOGUS\n`);
    assert.equal(err.line, 6);
    assert.match(err.message, /ciphers_tls1\.3: no TLS 1\.3 cipher suite in 'TLS_BOGUS'/);
    // OpenSSL matches suite names case-sensitively
    assert.match(parseError(`${TLS_LISTENER}ciphers_tls1.3 tls_aes_128_gcm_sha256\n`).message, /no TLS 1\.3 cipher suite/);
  });

  test("Node's one ciphers string: TLS 1.3 suites first; a list not given keeps its default", () => {
    assert.equal(nodeCiphers({}), undefined);
    assert.equal(nodeCiphers({ ciphers: 'HIGH' }), 'HIGH');
    assert.equal(nodeCiphers({ ciphers: 'HIGH', ciphersTls13: 'TLS_AES_128_GCM_SHA256' }), 'TLS_AES_128_GCM_SHA256:HIGH');
    const only13 = nodeCiphers({ ciphersTls13: 'TLS_AES_128_GCM_SHA256' })!;
    assert.match(only13, /^TLS_AES_128_GCM_SHA256:ECDHE-/);
    assert.equal(only13.split(':').filter((n) => n.startsWith('TLS_')).length, 1);
  });
});

describe('TLS-PSK: psk_hint and psk_file', () => {
  test('psk_hint on an MQTT listener without certificates makes it a TLS-PSK listener; psk_file is a security option (per listener with per_listener_settings)', () => {
    const { config, warnings } = load('listener 8883\npsk_hint sensors\nuse_identity_as_username true\ntls_version tlsv1.2\npsk_file /etc/psk\n');
    assert.deepEqual(config.listeners[0]!.tls, { pskHint: 'sensors', requireCertificate: false, useIdentityAsUsername: true, tlsVersion: 'tlsv1.2' });
    assert.equal(config.pskFile, '/etc/psk');
    assert.deepEqual(warnings, []);
    const per = load('per_listener_settings true\nlistener 8883\npsk_hint a\npsk_file /a\nlistener 8884\npsk_hint b\npsk_file /b\n').config;
    assert.deepEqual(per.listeners.map((l) => l.security?.pskFile), ['/a', '/b']);
  });

  test('psk_hint is noted as ignored where Mosquitto ignores it: a listener with certificates, a websockets listener; a second one is an error', () => {
    const withCertificates = load('listener 8883\ncertfile /c\nkeyfile /k\npsk_hint x\n');
    assert.equal(withCertificates.config.listeners[0]!.tls!.pskHint, undefined);
    assert.match(withCertificates.warnings.join('\n'), /listener 8883: psk_hint ignored: the listener has certificates, and then offers no PSK/);
    const websockets = load('listener 9001\nprotocol websockets\npsk_hint x\n');
    assert.equal(websockets.config.listeners[0]!.tls, undefined);
    assert.match(websockets.warnings.join('\n'), /listener 9001: psk_hint ignored: websockets listeners have no TLS-PSK/);
    assert.match(parseError('listener 8883\npsk_hint a\npsk_hint b\n').message, /tls\.conf:3: .*psk_hint/);
  });
});

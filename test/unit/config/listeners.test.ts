import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, type ConfigError } from '../../../src/config/load.ts';
import { expectConfigError } from './expectConfigError.ts';

function load(text: string) {
  return parseConfig(text, 'test.conf');
}

function parseError(text: string): ConfigError {
  return expectConfigError(() => load(text));
}

describe('listener blocks', () => {
  test('options after a listener line apply to that listener only', () => {
    const { config } = load(
      [
        'listener 1883',
        'max_connections 1000',
        'listener 8883 0.0.0.0',
        'certfile /etc/tls/server.crt',
        'keyfile /etc/tls/server.key',
        'cafile /etc/tls/ca.crt',
        'require_certificate true',
        'use_identity_as_username true',
        'listener 8080 127.0.0.1',
        'protocol websockets',
        'mount_point tenant-a/',
        'socket_domain ipv4',
      ].join('\n'),
    );
    assert.deepEqual(config.listeners, [
      { port: 1883, host: undefined, protocol: 'mqtt', maxConnections: 1000 },
      {
        port: 8883,
        host: '0.0.0.0',
        protocol: 'mqtt',
        maxConnections: -1,
        tls: {
          certfile: '/etc/tls/server.crt',
          keyfile: '/etc/tls/server.key',
          cafile: '/etc/tls/ca.crt',
          requireCertificate: true,
          useIdentityAsUsername: true,
        },
      },
      {
        port: 8080,
        host: '127.0.0.1',
        protocol: 'websockets',
        maxConnections: -1,
        mountPoint: 'tenant-a/',
        socketDomain: 'ipv4',
      },
    ]);
  });

  test('a trailing comment after the bind address is ignored (Mosquitto)', () => {
    assert.equal(load('listener 1883 # all interfaces').config.listeners[0]!.host, undefined);
  });

  test('port 0 listeners pick a free port each (tests) and never overlap', () => {
    const { config } = load('listener 0 127.0.0.1\nlistener 0 127.0.0.1\n');
    assert.deepEqual(
      config.listeners.map((l) => l.port),
      [0, 0],
    );
  });

  test('a Unix socket listener (port 0 with a path) is refused', () => {
    assert.match(parseError('listener 0 /run/mqtt.sock').message, /test\.conf:1: listener: Unix socket listeners/);
  });

  test('invalid ports are refused', () => {
    assert.match(parseError('listener 70000').message, /invalid port 70000/);
    assert.match(parseError('listener http').message, /invalid integer 'http'/);
    assert.match(parseError('listener').message, /listener: missing port/);
  });

  test('two listeners whose port and address overlap are refused with both lines', () => {
    assert.match(
      parseError('listener 1883\nlistener 1883 127.0.0.1\n').message,
      /^test\.conf:2: listener on port 1883 overlaps the listener declared at test\.conf:1$/,
    );
    assert.match(parseError('listener 1883\nport 1883\n').message, /overlaps/);
    const ok = load('listener 1883 127.0.0.1\nlistener 1883 ::1\n').config;
    assert.equal(ok.listeners.length, 2);
  });

  test('mount_point before any listener is refused (Mosquitto)', () => {
    assert.match(parseError('mount_point a/').message, /test\.conf:1: mount_point: declare a 'listener' before using it/);
  });
});

describe('TLS settings are checked, never silently dropped', () => {
  test('certfile without keyfile is an error at the listener line', () => {
    const err = parseError('listener 1883\nlistener 8883\ncertfile /c\n');
    assert.equal(err.line, 2);
    assert.match(err.message, /TLS needs both certfile and keyfile/);
  });

  test('require_certificate without TLS is an error', () => {
    assert.match(parseError('listener 1883\nrequire_certificate true\n').message, /TLS needs both certfile and keyfile/);
  });

  test('require_certificate without cafile is an error', () => {
    assert.match(
      parseError('listener 8883\ncertfile /c\nkeyfile /k\nrequire_certificate true\n').message,
      /require_certificate true needs cafile/,
    );
  });

  test('use_identity_as_username without require_certificate gives a warning', () => {
    const { warnings } = load('listener 8883\ncertfile /c\nkeyfile /k\nuse_identity_as_username true\n');
    assert.match(warnings.join('\n'), /use_identity_as_username has no certificate to read unless require_certificate is true: every client will be refused/);
  });

  test('capath and dhparamfile go to the TLS settings; capath alone satisfies require_certificate (Mosquitto)', () => {
    const { config, warnings } = load('listener 8883\ncertfile /c\nkeyfile /k\ncapath /etc/ssl/certs\nrequire_certificate true\ndhparamfile /dh.pem\n');
    assert.deepEqual(warnings, []);
    assert.equal(config.listeners[0]!.tls?.capath, '/etc/ssl/certs');
    assert.equal(config.listeners[0]!.tls?.dhparamfile, '/dh.pem');
  });

  test('dhparamfile on a listener without certfile/keyfile is noted as having no effect; capath alone is an error', () => {
    assert.match(load('listener 1883\ndhparamfile /dh.pem\n').warnings.join('\n'), /dhparamfile ignored: not a TLS listener/);
    expectConfigError(() => load('listener 1883\ncapath /etc/ssl/certs\n'));
  });
});

describe('the default listener and local-only mode (Mosquitto 2)', () => {
  test('no listener at all: 127.0.0.1:1883 only, anonymous allowed, with a warning', () => {
    const loaded = load('max_queued_messages 10\n');
    assert.deepEqual(loaded.config.listeners, [{ port: 1883, host: '127.0.0.1', protocol: 'mqtt', maxConnections: -1 }]);
    assert.equal(loaded.config.allowAnonymous, true);
    assert.match(loaded.warnings.join('\n'), /local only mode/);
  });

  test('an explicit allow_anonymous false holds in local-only mode', () => {
    assert.equal(load('allow_anonymous false').config.allowAnonymous, false);
  });

  test('with a listener, allow_anonymous defaults to false (Mosquitto 2)', () => {
    assert.equal(load('listener 1883').config.allowAnonymous, false);
    assert.equal(load('listener 1883\nallow_anonymous true').config.allowAnonymous, true);
  });

  test('port N opens the default listener on all interfaces; the last port wins with a warning', () => {
    const loaded = load('port 1884\nport 1885\n');
    assert.deepEqual(loaded.config.listeners, [{ port: 1885, host: undefined, protocol: 'mqtt', maxConnections: -1 }]);
    assert.equal(loaded.config.allowAnonymous, false);
    assert.match(loaded.warnings.join('\n'), /test\.conf:2: default listener port given more than once/);
  });

  test('bind_address sets the default listener address', () => {
    const { config } = load('bind_address 10.1.2.3\nport 1999\n');
    assert.deepEqual(config.listeners, [{ port: 1999, host: '10.1.2.3', protocol: 'mqtt', maxConnections: -1 }]);
  });

  test('bind_address inside a listener block still configures the default listener, with a warning', () => {
    const loaded = load('listener 8883\nbind_address 127.0.0.1\n');
    assert.deepEqual(
      loaded.config.listeners.map((l) => [l.port, l.host]),
      [
        [8883, undefined],
        [1883, '127.0.0.1'],
      ],
    );
    assert.match(loaded.warnings.join('\n'), /test\.conf:2: bind_address applies to the default listener \(port 1883\)/);
  });

  test('a listener option before any listener line creates the default listener, with a warning', () => {
    const loaded = load('max_connections 5\nlistener 8883\n');
    assert.deepEqual(
      loaded.config.listeners.map((l) => [l.port, l.maxConnections]),
      [
        [8883, -1],
        [1883, 5],
      ],
    );
    assert.match(loaded.warnings.join('\n'), /test\.conf:1: 'max_connections' before any 'listener' line/);
  });

  test('max_topic_alias alone does not create the default listener (Mosquitto)', () => {
    const { config } = load('max_topic_alias 5\nlistener 8883\n');
    assert.deepEqual(
      config.listeners.map((l) => l.port),
      [8883],
    );
    assert.equal(config.maxTopicAlias, 5);
  });
});

describe('per-listener limits become one global value', () => {
  test('max_qos: listeners that disagree use the lowest value, with a warning', () => {
    const loaded = load('listener 1883\nmax_qos 1\nlistener 1884\n');
    assert.equal(loaded.config.maxQos, 1);
    assert.match(loaded.warnings.join('\n'), /max_qos differs between listeners; .* using 1/);
  });

  test('max_qos given the same on every listener: no warning', () => {
    const loaded = load('listener 1883\nmax_qos 1\nlistener 1884\nmax_qos 1\n');
    assert.equal(loaded.config.maxQos, 1);
    assert.deepEqual(loaded.warnings, []);
  });

  test('max_topic_alias uses the lowest value too', () => {
    assert.equal(load('listener 1883\nmax_topic_alias 20\nlistener 1884\nmax_topic_alias 3\n').config.maxTopicAlias, 3);
  });
});

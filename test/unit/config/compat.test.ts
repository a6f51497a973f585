import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.ts';
import { expectConfigError } from './expectConfigError.ts';

function load(lines: string) {
  return parseConfig(`listener 1883\n${lines}\n`, 'm.conf');
}

function refusal(lines: string): string {
  return expectConfigError(() => load(lines)).message;
}

describe('Mosquitto options culex does not implement', () => {
  const harmless = [
    'autosave_interval 1800',
    'autosave_on_changes false',
    'persistence_file mosquitto.db',
    'allow_duplicate_messages true',
    'retry_interval 20',
    'websockets_log_level 0',
    'max_topic_alias_broker 10',
  ];
  for (const line of harmless) {
    test(`'${line}' is accepted with one warning naming the line`, () => {
      const { warnings } = load(line);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /^m\.conf:2: /);
      assert.match(warnings[0]!, /ignored/);
    });
  }

  const silent = [
    'per_listener_settings false',
    'tls_keyform pem',
    'allow_duplicate_messages false',
  ];
  for (const line of silent) {
    test(`'${line}' is what culex does anyway: accepted without warning`, () => {
      assert.deepEqual(load(line).warnings, []);
    });
  }

  const weakening: [line: string, pattern: RegExp][] = [
    ['websockets_origin https://example.com', /websockets_origin/],
    ['tls_engine pkcs11', /engines/],
    ['tls_keyform engine', /keys must be PEM/],
    ['tls_engine_kpass_sha1 00', /engines/],
    ['plugin /usr/lib/mosquitto_go_auth.so', /loads no Mosquitto plugins/],
    ['auth_plugin /usr/lib/auth.so', /loads no Mosquitto plugins/],
    ['global_plugin /usr/lib/x.so', /plugins/],
    ['plugin_opt_config_file /x.json', /without a plugin line before it/],
    ['auth_opt_backends mysql', /without a plugin line before it/],
    ['auth_plugin_deny_special_chars true', /without a plugin line before it/],
  ];

  for (const [line, pattern] of weakening) {
    test(`'${line}' is refused: ignoring it would weaken security`, () => {
      const message = refusal(line);
      assert.match(message, /^m\.conf:2: /);
      assert.match(message, pattern);
    });
  }

  test('bad values of accepted-at-default options are still errors', () => {
    assert.match(refusal('per_listener_settings maybe'), /invalid boolean 'maybe'/);
  });
});

describe('bridges', () => {
  test('a connection block is read into config.bridges; global options after it still apply (as in Mosquitto)', () => {
    const { warnings, config } = load(
      [
        'connection cloud',
        'address broker.example.com:8883',
        'remote_username bridge',
        'remote_password s3cret-value',
        'topic sensors/# out 1',
        'bridge_cafile /etc/ca.crt',
        'max_queued_messages 5',
      ].join('\n'),
    );
    assert.deepEqual(warnings, []);
    assert.equal(config.bridges?.length, 1);
    assert.equal(config.bridges![0]!.remoteUsername, 'bridge');
    assert.equal(config.maxQueuedMessages, 5);
  });

  test('a bridge option without a connection line is an error (Mosquitto: "Invalid bridge configuration")', () => {
    assert.match(refusal('address 10.0.0.1'), /'address' is only valid inside a bridge 'connection' block/);
    assert.match(refusal('topic # both'), /'topic' is only valid inside/);
  });

  test('connection needs a name', () => {
    assert.match(refusal('connection'), /connection: missing value/);
  });
});

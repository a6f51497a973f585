/**
 * `culex check` prints the effective configuration: read back, the text gives the same
 * BrokerConfig (every option, defaults included, include files folded in).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { loadConfigFile, parseConfig } from '../../../src/config/load.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import type { BrokerConfig } from '../../../src/config/types.ts';
import { renderConfig } from '../../../src/cli/effectiveConfig.ts';

const configDir = new URL('../../../config/', import.meta.url).pathname;

/** JSON drops the difference between an absent field and one set to undefined. */
function plain(c: BrokerConfig): unknown {
  return JSON.parse(JSON.stringify(c));
}

function roundTrip(config: BrokerConfig): { back: BrokerConfig; warnings: readonly string[] } {
  const loaded = parseConfig(renderConfig(config, 'test'), 'rendered.conf');
  return { back: loaded.config, warnings: loaded.warnings };
}

describe('effective configuration (culex check)', () => {
  const shipped = ['culex.conf', 'docker.conf', ...readdirSync(path.join(configDir, 'examples')).filter((f) => f.endsWith('.conf')).map((f) => `examples/${f}`)];
  for (const name of shipped) {
    test(`config/${name} read back from its effective configuration is the same configuration`, () => {
      const config = loadConfigFile(path.join(configDir, name)).config;
      const { back, warnings } = roundTrip(config);
      assert.deepEqual(plain(back), plain(config));
      assert.deepEqual(warnings, []);
    });
  }

  const cases: [title: string, text: string][] = [
    ['per_listener_settings: security options inside each listener', [
      'per_listener_settings true',
      'listener 1883', 'allow_anonymous true', 'auto_id_prefix a-',
      'listener 1884 127.0.0.1', 'password_file /etc/pw', 'acl_file /etc/acl', 'allow_zero_length_clientid false',
    ].join('\n')],
    ['TLS, websockets, mount_point, socket_domain, max_qos and max_topic_alias', [
      'listener 8883', 'certfile /c.pem', 'keyfile /k.pem', 'cafile /ca.pem', 'require_certificate true',
      'use_subject_as_username true', 'crlfile /crl.pem', 'tls_version tlsv1.3', 'ciphers ECDHE-RSA-AES128-GCM-SHA256',
      'ciphers_tls1.3 TLS_AES_128_GCM_SHA256', 'max_qos 1', 'max_topic_alias 3',
      'listener 9001 ::1', 'protocol websockets', 'mount_point tenant/', 'socket_domain ipv6', 'max_connections 7', 'max_qos 1', 'max_topic_alias 3',
    ].join('\n')],
    ['dynamic security, durations, log settings, an IPv6 metrics listener', [
      'listener 1883', 'plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so', 'plugin_opt_config_file /var/lib/dynsec.json',
      'persistent_client_expiration 2d', 'log_type none', 'log_dest file /var/log/culex.log', 'metrics_listener [::1]:9234',
    ].join('\n')],
    ['log_type all and log_dest none', ['listener 1883', 'log_type all', 'log_dest none'].join('\n')],
    ['a node of a cluster: NATS URLs over two lines, its name', [
      'listener 1883', 'cluster_nats_url nats://127.0.0.1:4222', 'cluster_nats_url nats://n2:4222,nats://n3:4222', 'cluster_node_name node-1',
    ].join('\n')],
    ['persistent_subscription lines, several per client', [
      'listener 1883', 'persistent_subscription dev-1 a/# 1', 'persistent_subscription dev-1 b/+/c 2', 'persistent_subscription dev-2 a/# 0',
    ].join('\n')],
  ];
  for (const [title, text] of cases) {
    test(`${title}: read back, the same configuration`, () => {
      const config = parseConfig(text + '\n', 'case.conf').config;
      const { back } = roundTrip(config);
      assert.deepEqual(plain(back), plain(config));
    });
  }

  test('bridges: each connection block read back is the same bridge (the remote password is not printed)', () => {
    const text = [
      'listener 1883', 'connection cloud', 'address a.example:8883 [::1]:1884', 'bridge_protocol_version mqttv50', 'cleansession true',
      'local_cleansession false', 'remote_username edge', 'bridge_cafile /ca.pem', 'bridge_certfile /c.pem', 'bridge_keyfile /k.pem',
      'bridge_insecure true', 'bridge_alpn x-mqtt', 'restart_timeout 7', 'start_type lazy', 'threshold 3', 'idle_timeout 9',
      'notification_topic s/cloud', 'notifications_local_only true', 'try_private false', 'bridge_max_packet_size 1000',
      'bridge_outgoing_retain false', 'bridge_attempt_unsubscribe false', 'topic # both 2 "" remote/', 'topic "" in 0 l/x r/y', 'topic a/+ out',
      'connection second', 'address h', 'topic x',
    ].join('\n');
    const config = parseConfig(text + '\n', 'case.conf').config;
    const rendered = renderConfig(config, 'test');
    const back = parseConfig(rendered, 'rendered.conf').config;
    const place = ({ file: _f, line: _l, ...rest }: NonNullable<BrokerConfig['bridges']>[number]) => rest;
    assert.deepEqual(back.bridges!.map(place), config.bridges!.map(place));
  });

  test('the embedded default (no -c) lists every option with its default', () => {
    const text = renderConfig(defaultConfig(), 'default');
    assert.match(text, /^max_queued_messages 1000$/m);
    assert.match(text, /^#persistent_client_expiration {2}\(never\)$/m);
    assert.match(text, /^#metrics_listener {2}\(off\)$/m);
    assert.deepEqual(plain(roundTrip(defaultConfig()).back), plain(defaultConfig()));
  });
});

/**
 * Never accept an option only to ignore it: every option name the parser knows (load.ts
 * KNOWN_KEYS: global, listener, compatibility, bridge and plugin keys) must be in OPTIONS below
 * as at least one of
 *   (a) effect: implemented, and `effect` names the test file that shows what it does (the file
 *       must exist and mention the option, or the BrokerConfig field given as `mentions`);
 *   (b) refused: parsing `NAME refused` throws a ConfigError naming the file and line;
 *   (c) warned: parsing `NAME warned` is accepted with one warning naming the line, saying the
 *       option is ignored and why (only for options whose neglect lets in nothing the
 *       configuration meant to keep out and loses nothing it meant to keep).
 * `silent`: a value accepted without a word because it is what culex does anyway (it needs
 * one of the three for the other values).
 * A new option fails this test until it is listed with its test, refusal or reason.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { KNOWN_KEYS, parseConfig } from '../../../src/config/load.ts';
import { BRIDGE_OPTION_NAMES } from '../../../src/config/bridgeOptions.ts';
import { expectConfigError } from './expectConfigError.ts';

interface Verdict {
  /** test file (from the repository root) showing the option's effect */
  readonly effect?: string;
  /** what that file mentions instead of the option name (a BrokerConfig field) */
  readonly mentions?: string;
  /** a value parsing refuses */
  readonly refused?: string;
  /** a value accepted with a warning that it is ignored */
  readonly warned?: string;
  /** a value accepted without a warning: what culex does anyway */
  readonly silent?: string;
}

const T = {
  auth: 'test/integration/auth.test.ts',
  acl: 'test/integration/acl.test.ts',
  limits: 'test/integration/limits.test.ts',
  options: 'test/integration/options.test.ts',
  process: 'test/integration/processOptions.test.ts',
  sessions: 'test/integration/sessions.test.ts',
  sockets: 'test/integration/sockets.test.ts',
  perListener: 'test/integration/perListener.test.ts',
  tls: 'test/system/tls.test.ts',
  tlsIdentity: 'test/system/tls-identity.test.ts',
  tlsFiles: 'test/system/tlsFiles.test.ts',
  sys: 'test/system/sys-and-metrics.test.ts',
  logs: 'test/system/logs.test.ts',
} as const;

const OPTIONS: Readonly<Record<string, Verdict>> = {
  // listeners
  listener: { effect: T.process },
  port: { effect: T.process },
  bind_address: { effect: T.process },
  protocol: { effect: 'test/system/websocket.test.ts' },
  max_connections: { effect: T.limits },
  mount_point: { effect: 'test/integration/mountPoint.test.ts' },
  socket_domain: { effect: T.sockets },
  bind_interface: { effect: 'test/system/listen-addresses.test.ts' },
  set_tcp_nodelay: { effect: T.sockets },
  websockets_headers_size: { effect: 'test/system/websocket.test.ts' },
  // TLS
  certfile: { effect: T.tls },
  keyfile: { effect: T.tls },
  cafile: { effect: T.tlsIdentity },
  capath: { effect: T.tlsFiles },
  require_certificate: { effect: T.tlsIdentity },
  use_identity_as_username: { effect: T.tlsIdentity },
  use_subject_as_username: { effect: T.tlsIdentity },
  crlfile: { effect: T.tlsIdentity },
  ciphers: { effect: T.tlsIdentity },
  'ciphers_tls1.3': { effect: T.tlsIdentity },
  tls_version: { effect: T.tlsIdentity },
  dhparamfile: { effect: T.tlsFiles },
  tls_keyform: { silent: 'pem', refused: 'engine' },
  tls_engine: { refused: 'pkcs11' },
  tls_engine_kpass_sha1: { refused: '00' },
  psk_hint: { effect: 'test/system/tls-psk.test.ts' },
  psk_file: { effect: 'test/system/tls-psk.test.ts' },
  // authentication and access
  per_listener_settings: { effect: T.perListener },
  allow_anonymous: { effect: T.auth },
  password_file: { effect: T.auth },
  acl_file: { effect: T.acl },
  allow_zero_length_clientid: { effect: 'test/integration/connect.test.ts' },
  auto_id_prefix: { effect: T.perListener },
  plugin: { effect: 'test/integration/dynsec.test.ts', refused: '/usr/lib/other_plugin.so' },
  // auth_plugin is read as plugin (the effect is plugin's)
  auth_plugin: { effect: 'test/unit/config/plugins.test.ts', refused: '/usr/lib/other_plugin.so' },
  global_plugin: { refused: '/usr/lib/x.so' },
  // after the plugin line: warned, it has no effect on dynamic security (nor in Mosquitto); without one: refused
  auth_plugin_deny_special_chars: { effect: 'test/unit/config/plugins.test.ts', refused: 'true' },
  clientid_prefixes: { effect: 'test/integration/connect.test.ts' },
  websockets_origin: { refused: 'https://example.com' },
  use_username_as_clientid: { effect: 'test/integration/connect.test.ts' },
  check_retain_source: { effect: 'test/system/retain-source.test.ts' },
  // limits and queues
  max_keepalive: { effect: 'test/integration/keepalive.test.ts' },
  max_packet_size: { effect: T.limits },
  message_size_limit: { effect: T.limits },
  max_connect_packet_size: { effect: T.limits },
  max_connect_time: { effect: T.limits },
  max_inflight_messages: { effect: T.limits },
  max_inflight_bytes: { effect: T.options },
  max_queued_messages: { effect: T.limits },
  max_queued_bytes: { effect: T.sessions },
  queue_qos0_messages: { effect: T.sessions },
  queue_drop_policy: { effect: T.sessions, mentions: 'queueDropPolicy' },
  memory_limit: { effect: T.options },
  max_qos: { effect: T.limits },
  // maximum_qos is read as max_qos (the effect is max_qos's)
  maximum_qos: { effect: 'test/unit/config/options.test.ts' },
  max_topic_alias: { effect: 'test/integration/mqtt5-properties.test.ts', mentions: 'maxTopicAlias' },
  retain_available: { effect: 'test/integration/retained.test.ts' },
  upgrade_outgoing_qos: { effect: T.options },
  persistent_client_expiration: { effect: T.options },
  allow_duplicate_messages: { silent: 'false', warned: 'true' },
  max_topic_alias_broker: { warned: '10' },
  retry_interval: { warned: '20' },
  // persistence
  persistence: { effect: 'test/integration/persistence.test.ts' },
  persistence_location: { effect: T.process },
  persistence_durability: { effect: 'test/restart/queues.test.ts' },
  persistence_batch_window_ms: { effect: 'test/unit/persistence/store.test.ts', mentions: 'batchWindowMs' },
  persistence_file: { warned: 'mosquitto.db' },
  autosave_interval: { warned: '1800' },
  autosave_on_changes: { warned: 'false' },
  // process and monitoring
  workers: { effect: 'test/integration/multi-worker.test.ts' },
  pid_file: { effect: T.process },
  user: { effect: T.process },
  sys_interval: { effect: T.sys, mentions: 'sysInterval' },
  metrics_listener: { effect: T.sys, mentions: 'metricsListener' },
  include_dir: { effect: 'test/unit/config/include.test.ts' },
  http_dir: { effect: 'test/system/websocket.test.ts' },
  websockets_log_level: { warned: '0' },
  // logging (src/log.ts): lines read back from a broker process's log file
  log_type: { effect: T.logs },
  log_dest: { effect: T.logs, refused: 'dlt' },
  log_timestamp: { effect: T.logs },
  log_timestamp_format: { effect: T.logs },
  connection_messages: { effect: T.logs, mentions: 'connectionMessages' },
  // used by log_dest syslog (test/system/syslog.test.ts); without it, warned as ignored
  log_facility: { effect: 'test/system/syslog.test.ts', warned: '5' },
  // a session declared before its client connects (issue 16)
  persistent_subscription: { effect: 'test/integration/persistentSubscription.test.ts' },
  cluster_nats_url: { effect: 'test/system/nats-cluster.test.ts' },
  cluster_node_name: { effect: 'test/system/nats-cluster.test.ts' },
  // bridges: `connection` starts a Mosquitto bridge block; its options are checked below
  connection: { effect: 'test/system/bridge.test.ts' },
};

const BRIDGE = new Set(BRIDGE_OPTION_NAMES);
const ROOT = path.resolve(import.meta.dirname, '../../..');

function parse(lines: readonly string[]) {
  return parseConfig(['listener 1883', ...lines].join('\n') + '\n', 'm.conf');
}

/** The one warning about line `line`; fails unless there is exactly one and it says why the option is ignored. */
function ignoredWarning(warnings: readonly string[], line: number, name: string, why = /ignored: ./): string {
  const mine = warnings.filter((w) => w.startsWith(`m.conf:${line}: `));
  assert.equal(mine.length, 1, `${name}: expected one warning for line ${line}, got ${JSON.stringify(warnings)}`);
  const w = mine[0]!;
  assert.match(w, why, `${name}: the warning must say it is ignored, and why: ${w}`);
  return w;
}

describe('the option table: every option has its effect, a refusal or a harmless-ignore warning', () => {
  test('every option the parser knows is listed (a new option needs a test, a refusal or a reason)', () => {
    const unlisted = KNOWN_KEYS.filter((k) => OPTIONS[k] === undefined && !BRIDGE.has(k));
    assert.deepEqual(unlisted, []);
  });

  test('nothing is listed that the parser does not know', () => {
    const known = new Set(KNOWN_KEYS);
    assert.deepEqual(Object.keys(OPTIONS).filter((k) => !known.has(k)), []);
  });

  for (const [name, v] of Object.entries(OPTIONS)) {
    test(`${name}: ${[v.effect && `effect in ${v.effect}`, v.refused && `'${v.refused}' refused`, v.warned && `'${v.warned}' warned`, v.silent && `'${v.silent}' silent`].filter(Boolean).join(', ')}`, () => {
      assert.ok(v.effect !== undefined || v.refused !== undefined || v.warned !== undefined, `${name} is neither implemented, refused nor warned`);
      if (v.effect !== undefined) {
        const file = path.join(ROOT, v.effect);
        assert.ok(existsSync(file), `${name}: ${v.effect} does not exist`);
        const word = v.mentions ?? name;
        assert.ok(readFileSync(file, 'utf8').includes(word), `${name}: ${v.effect} does not mention '${word}'`);
      }
      if (v.refused !== undefined) {
        const err = expectConfigError(() => parse([`${name} ${v.refused}`]));
        assert.match(err.message, /^m\.conf:2: /, `${name}: the refusal names the line`);
      }
      if (v.warned !== undefined) ignoredWarning(parse([`${name} ${v.warned}`]).warnings, 2, name);
      if (v.silent !== undefined) assert.deepEqual(parse([`${name} ${v.silent}`]).warnings, [], `${name} ${v.silent}`);
    });
  }

  test('bridge options: inside a `connection` block each is implemented (named by a bridge test), warned or refused naming its line; outside one each is refused', () => {
    const tests = ['test/system/bridge.test.ts', 'test/unit/config/bridgeOptions.test.ts'].map((f) => readFileSync(path.join(ROOT, f), 'utf8')).join('\n');
    for (const name of BRIDGE_OPTION_NAMES) {
      const outside = expectConfigError(() => parse([`${name} x`]));
      assert.match(outside.message, /^m\.conf:2: /, `${name} outside a block`);
      if (new RegExp(`\\b${name}\\b`).test(tests)) continue;
      let refused: Error | undefined;
      let warnings: readonly string[] = [];
      try {
        warnings = parse(['connection b1', 'address 127.0.0.1', 'topic # out', `${name} x`]).warnings;
      } catch (err) {
        refused = err as Error;
      }
      if (refused !== undefined) assert.match(refused.message, /^m\.conf:5: /, `${name}: the refusal names the line`);
      else ignoredWarning(warnings, 5, name, /./);
    }
  });

  test('plugin options: the dynamic security plugin\'s config_file is implemented (test/system/dynsec.test.ts); any other is refused naming the line', () => {
    assert.ok(readFileSync(path.join(ROOT, 'test/system/dynsec.test.ts'), 'utf8').includes('plugin_opt_config_file'));
    const dynsec = 'plugin /usr/lib/mosquitto_dynamic_security.so';
    for (const key of ['plugin_opt_config_file', 'auth_opt_config_file']) {
      assert.equal(parse([dynsec, `${key} /etc/dynsec.json`]).config.dynamicSecurity?.configFile, '/etc/dynsec.json');
    }
    for (const key of ['plugin_opt_acl_file', 'auth_opt_backends']) {
      const err = expectConfigError(() => parse([dynsec, `${key} x`]));
      assert.match(err.message, /^m\.conf:3: /);
    }
  });
});

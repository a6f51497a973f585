import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, type ConfigError } from '../../../src/config/load.ts';
import { expectConfigError } from './expectConfigError.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import type { BrokerConfig } from '../../../src/config/types.ts';

/** Parses `listener 1883` plus the given lines. */
function parse(lines: string): BrokerConfig {
  return parseConfig(`listener 1883\n${lines}\n`, 'test.conf').config;
}

function parseError(text: string): ConfigError {
  return expectConfigError(() => parseConfig(text, 'test.conf'));
}

describe('every option parses into its BrokerConfig field', () => {
  const cases: [line: string, field: keyof BrokerConfig, expected: unknown][] = [
    ['allow_anonymous true', 'allowAnonymous', true],
    ['allow_anonymous false', 'allowAnonymous', false],
    ['password_file /etc/culex/passwd', 'passwordFile', '/etc/culex/passwd'],
    ['password_file /path with spaces/pw', 'passwordFile', '/path with spaces/pw'],
    ['acl_file /etc/culex/acl', 'aclFile', '/etc/culex/acl'],
    ['allow_zero_length_clientid false', 'allowZeroLengthClientId', false],
    ['auto_id_prefix gen-', 'autoIdPrefix', 'gen-'],
    ['max_keepalive 120', 'maxKeepalive', 120],
    ['max_packet_size 65536', 'maxPacketSize', 65536],
    ['max_packet_size 64k', 'maxPacketSize', 65536],
    ['max_packet_size 0', 'maxPacketSize', 0],
    ['message_size_limit 1M', 'messageSizeLimit', 1048576],
    ['message_size_limit 2048', 'messageSizeLimit', 2048],
    ['max_inflight_messages 1', 'maxInflightMessages', 1],
    ['max_inflight_messages 0', 'maxInflightMessages', 0],
    ['max_inflight_bytes 10k', 'maxInflightBytes', 10240],
    ['max_queued_messages 50000', 'maxQueuedMessages', 50000],
    ['max_queued_bytes 1GiB', 'maxQueuedBytes', 1024 ** 3],
    ['max_queued_bytes 16MB', 'maxQueuedBytes', 16 * 1024 ** 2],
    ['queue_qos0_messages true', 'queueQos0Messages', true],
    ['retain_available false', 'retainAvailable', false],
    ['max_qos 1', 'maxQos', 1],
    ['maximum_qos 0', 'maxQos', 0],
    ['upgrade_outgoing_qos true', 'upgradeOutgoingQos', true],
    ['check_retain_source true', 'checkRetainSource', true],
    ['max_topic_alias 0', 'maxTopicAlias', 0],
    ['max_topic_alias 65535', 'maxTopicAlias', 65535],
    ['persistent_client_expiration 2h', 'persistentClientExpiration', 7200],
    ['persistent_client_expiration 14d', 'persistentClientExpiration', 14 * 86400],
    ['persistent_client_expiration 1w', 'persistentClientExpiration', 7 * 86400],
    ['persistent_client_expiration 2m', 'persistentClientExpiration', 60 * 86400],
    ['persistent_client_expiration 1y', 'persistentClientExpiration', 365 * 86400],
    ['set_tcp_nodelay false', 'setTcpNodelay', false],
    ['persistence false', 'persistence', false],
    ['persistence_location /var/lib/culex', 'persistenceLocation', '/var/lib/culex'],
    ['sys_interval 0', 'sysInterval', 0],
    ['connection_messages false', 'connectionMessages', false],
    ['pid_file /run/culex.pid', 'pidFile', '/run/culex.pid'],
    ['user culex', 'user', 'culex'],
    ['memory_limit 512M', 'memoryLimit', 512 * 1024 ** 2],
    ['memory_limit 0', 'memoryLimit', 0],
    ['workers 8', 'workers', 8],
    ['persistence_durability batch', 'persistenceDurability', 'batch'],
    ['persistence_durability off', 'persistenceDurability', 'off'],
    ['persistence_batch_window_ms 5', 'persistenceBatchWindowMs', 5],
    ['queue_drop_policy drop_oldest', 'queueDropPolicy', 'drop_oldest'],
    ['metrics_listener 0.0.0.0:9234', 'metricsListener', { host: '0.0.0.0', port: 9234 }],
    ['metrics_listener [::1]:9100', 'metricsListener', { host: '::1', port: 9100 }],
    ['metrics_listener 9100', 'metricsListener', { host: '127.0.0.1', port: 9100 }],
    ['log_type debug', 'logTypes', ['debug']],
    ['log_type none', 'logTypes', []],
    ['log_type all', 'logTypes', ['error', 'warning', 'notice', 'information', 'debug', 'subscribe', 'unsubscribe', 'websockets', 'internal']],
    ['log_type error\nlog_type subscribe', 'logTypes', ['error', 'subscribe']],
    ['log_type error warning', 'logTypes', ['error', 'warning']],
    ['log_dest stdout', 'logDest', ['stdout']],
    ['log_dest none', 'logDest', []],
    ['log_dest file /var/log/culex.log', 'logDest', ['file /var/log/culex.log']],
    ['log_dest stderr\nlog_dest file /tmp/a b.log', 'logDest', ['stderr', 'file /tmp/a b.log']],
    ['log_dest syslog', 'logDest', ['syslog']],
    ['log_dest syslog\nlog_facility 3', 'logFacility', 3],
    ['log_facility 0\nlog_facility 7\nlog_dest syslog', 'logFacility', 7],
    ['log_dest syslog', 'logFacility', undefined],
  ];
  for (const [line, field, expected] of cases) {
    test(`${line.replace('\n', ' / ')} sets ${field}`, () => {
      assert.deepEqual(parse(line)[field], expected);
    });
  }

  test('every option of a full file parses together, the rest stays at the defaults', () => {
    const config = parse('max_queued_messages 5\nworkers 3\nallow_anonymous true');
    assert.deepEqual(config, defaultConfig({ maxQueuedMessages: 5, workers: 3, listeners: config.listeners, persistence: false }));
  });

  test("a file keeps Mosquitto's persistence false unless it says persistence true (culex without -c has it on)", () => {
    assert.equal(defaultConfig().persistence, true);
    assert.equal(parse('').persistence, false);
    assert.equal(parse('persistence true').persistence, true);
    assert.equal(parse('persistence true\npersistence false').persistence, false);
  });

  test('the store options without persistence true do nothing, and each line says so', () => {
    const off = parseConfig('listener 1883\npersistence_location /var/lib/mosquitto/\npersistence_durability batch\n', 'm.conf');
    assert.equal(off.config.persistence, false);
    assert.deepEqual(off.warnings, [
      "m.conf:2: 'persistence_location' has no effect: persistence is off (Mosquitto's default in a configuration file; add 'persistence true')",
      "m.conf:3: 'persistence_durability' has no effect: persistence is off (Mosquitto's default in a configuration file; add 'persistence true')",
    ]);
    const no = parseConfig('listener 1883\npersistence false\npersistence_batch_window_ms 5\n', 'm.conf');
    assert.deepEqual(no.warnings, ["m.conf:3: 'persistence_batch_window_ms' has no effect: persistence false"]);
    assert.deepEqual(parseConfig('listener 1883\npersistence_location /d\npersistence true\n', 'm.conf').warnings, []);
  });
});

describe('values: trailing comments, clamps and rejections', () => {
  test('a single-token value may be followed by a # comment', () => {
    assert.equal(parse('max_queued_messages 10 # per client').maxQueuedMessages, 10);
  });

  test('booleans accept 1 and 0 as Mosquitto does', () => {
    assert.equal(parse('retain_available 0').retainAvailable, false);
    assert.equal(parse('allow_anonymous 1').allowAnonymous, true);
  });

  test('negative queue limits mean no limit, with a warning (Mosquitto clamps them to 0)', () => {
    const loaded = parseConfig('listener 1883\nmax_queued_messages -1\n', 'test.conf');
    assert.equal(loaded.config.maxQueuedMessages, 0);
    assert.match(loaded.warnings.join('\n'), /test\.conf:2: max_queued_messages -1 is negative/);
  });

  test('max_inflight_messages 65535 means no limit (Mosquitto)', () => {
    const loaded = parseConfig('listener 1883\nmax_inflight_messages 65535\n', 'test.conf');
    assert.equal(loaded.config.maxInflightMessages, 0);
    assert.equal(loaded.warnings.length, 1);
  });

  test('max_connect_packet_size takes sizes, max_connect_time seconds (1..3600)', () => {
    assert.equal(parse('max_connect_packet_size 64k').maxConnectPacketSize, 65536);
    assert.equal(parse('max_connect_time 3').maxConnectTime, 3);
    assert.throws(() => parse('max_connect_time 0'), /test\.conf:\d+/);
  });

  test('max_connections below 0 means unlimited (-1)', () => {
    assert.equal(parse('max_connections -5').listeners[0]!.maxConnections, -1);
    assert.equal(parse('max_connections 100').listeners[0]!.maxConnections, 100);
  });

  const bad: [text: string, line: number, pattern: RegExp][] = [
    ['max_keepalive 5', 2, /max_keepalive: value 5 out of range \(10\.\.65535\)/],
    ['max_keepalive 70000', 2, /out of range/],
    ['max_keepalive 60abc', 2, /invalid integer '60abc'/],
    ['max_keepalive', 2, /max_keepalive: missing value/],
    ['allow_anonymous True', 2, /invalid boolean 'True'/],
    ['allow_anonymous true false', 2, /unexpected text after the value: 'false'/],
    ['max_packet_size 10', 2, /max_packet_size must be 0 or at least 20/],
    ['max_packet_size 12q', 2, /invalid size '12q'/],
    ['message_size_limit 268435456', 2, /out of range/],
    ['max_qos 3', 2, /out of range \(0\.\.2\)/],
    ['max_inflight_messages 65536', 2, /out of range/],
    ['sys_interval -1', 2, /out of range/],
    ['persistent_client_expiration 0h', 2, /must be positive/],
    ['persistent_client_expiration 10', 2, /invalid duration '10'/],
    ['persistent_client_expiration 3s', 2, /invalid duration/],
    ['persistence_durability fast', 2, /invalid value 'fast' \(expected sync \| batch \| off\)/],
    ['queue_drop_policy random', 2, /expected drop_newest \| drop_oldest/],
    ['workers -1', 2, /out of range/],
    ['metrics_listener ::1:9100', 2, /IPv6 addresses need brackets/],
    ['metrics_listener host:99999', 2, /out of range/],
    ['log_type verbose', 2, /invalid log type 'verbose'/],
    ['log_dest printer', 2, /invalid log destination 'printer'/],
    ['log_dest file', 2, /log_dest: missing value/],
    ['log_dest dlt', 2, /'log_dest dlt' is not supported/],
    ['log_facility 8', 2, /log_facility: .*out of range/],
    ['log_facility -1', 2, /log_facility: .*out of range/],
    ['protocol quic', 2, /invalid value 'quic'/],
    ['socket_domain ipv5', 2, /expected ipv4 \| ipv6/],
    ['mount_point a/#', 2, /must not contain \+ or #/],
    ['password_file', 2, /password_file: missing value/],
  ];
  for (const [line, lineNo, pattern] of bad) {
    test(`'${line}' is a ConfigError on line ${lineNo}`, () => {
      const err = parseError(`listener 1883\n${line}\n`);
      assert.equal(err.file, 'test.conf');
      assert.equal(err.line, lineNo);
      assert.ok(err.message.startsWith(`test.conf:${lineNo}: `), err.message);
      assert.match(err.message, pattern);
    });
  }
});

describe('unknown options and repeats', () => {
  test('an unknown key names file, line and the closest known key', () => {
    const err = parseError('# comment\n\nlistener 1883\nmax_queud_messages 10\n');
    assert.equal(err.message, "test.conf:4: unknown option 'max_queud_messages' (did you mean 'max_queued_messages'?)");
    assert.equal(err.line, 4);
  });

  test('a swapped pair of letters is suggested too', () => {
    assert.match(parseError('alow_anonymuos true').message, /did you mean 'allow_anonymous'\?/);
  });

  test('a key far from every known key gets no suggestion', () => {
    assert.equal(parseError('listener 1883\nfrobnicate 1').message, "test.conf:2: unknown option 'frobnicate'");
  });

  test('keys are case-sensitive as in Mosquitto', () => {
    assert.match(parseError('Listener 1883').message, /unknown option 'Listener' \(did you mean 'listener'\?\)/);
  });

  test('a repeated string option is an error naming both lines (Mosquitto: "Duplicate … value")', () => {
    const err = parseError('listener 1883\npassword_file /a\nallow_anonymous false\npassword_file /b\n');
    assert.equal(err.message, 'test.conf:4: duplicate password_file value (first set at test.conf:2)');
  });

  for (const key of ['acl_file', 'auto_id_prefix', 'persistence_location', 'metrics_listener']) {
    test(`${key} may not repeat`, () => {
      const value = key === 'metrics_listener' ? '9000' : 'x';
      assert.match(parseError(`${key} ${value}\n${key} ${value}`).message, /duplicate/);
    });
  }

  test('a repeated number or boolean: the last one wins (Mosquitto)', () => {
    const config = parse('max_queued_messages 1\nmax_queued_messages 2\nretain_available false\nretain_available true');
    assert.equal(config.maxQueuedMessages, 2);
    assert.equal(config.retainAvailable, true);
  });

  test('a repeated certfile on one listener is an error, on two listeners it is fine', () => {
    assert.match(
      parseError('listener 8883\ncertfile /a\ncertfile /b\nkeyfile /k').message,
      /test\.conf:3: duplicate certfile value/,
    );
    const config = parseConfig(
      'listener 8883\ncertfile /a\nkeyfile /k\nlistener 8884\ncertfile /b\nkeyfile /k\n',
      'test.conf',
    ).config;
    assert.deepEqual(
      config.listeners.map((l) => l.tls?.certfile),
      ['/a', '/b'],
    );
  });
});

describe('syntax', () => {
  test('comments, blank lines, CRLF, tabs and indented comments are accepted', () => {
    const config = parseConfig(
      '# top\r\n\r\nlistener\t1883\r\n   # indented comment\r\n\tmax_queued_messages \t 7\r\n',
      'test.conf',
    ).config;
    assert.equal(config.maxQueuedMessages, 7);
    assert.equal(config.listeners[0]!.port, 1883);
  });

  test('a UTF-8 byte order mark at the start is ignored', () => {
    assert.equal(parseConfig('\uFEFFlistener 1884\n', 'test.conf').config.listeners[0]!.port, 1884);
  });

  test('the result is frozen, listeners and arrays too', () => {
    const config = parse('log_type all');
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.listeners));
    assert.ok(Object.isFrozen(config.listeners[0]));
    assert.ok(Object.isFrozen(config.logTypes));
    assert.ok(Object.isFrozen(config.logDest));
  });

  test('log_facility is warned as ignored only without log_dest syslog (Mosquitto uses it for syslog only), naming its line', () => {
    assert.deepEqual(parseConfig('listener 1883\nlog_facility 5\nlog_dest syslog\n', 'x.conf').warnings, []);
    const { warnings } = parseConfig('listener 1883\nlog_facility 5\nlog_dest stderr\n', 'x.conf');
    assert.deepEqual(warnings, ["x.conf:2: 'log_facility' ignored: it applies to 'log_dest syslog' only, which is not configured"]);
  });

  test('warnings carry file and line', () => {
    const { warnings } = parseConfig('listener 1883\nautosave_interval 1800\nretry_interval 20\n', 'x.conf');
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /^x\.conf:2: 'autosave_interval' ignored/);
    assert.match(warnings[1]!, /^x\.conf:3: 'retry_interval' ignored/);
  });
});

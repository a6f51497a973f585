/**
 * Bridge blocks as Mosquitto 2.0 reads them (src/conf.c, src/bridge_topic.c): defaults, the
 * topic line, client ids, restart_timeout, and the options culex refuses naming the line.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { parseConfig } from '../../../src/config/load.ts';
import { parseTopicLine } from '../../../src/config/bridgeOptions.ts';
import { expectConfigError } from './expectConfigError.ts';

function bridges(lines: string) {
  return parseConfig(`listener 1883\n${lines}\n`, 'b.conf').config.bridges!;
}

function refusal(lines: string): string {
  return expectConfigError(() => bridges(lines)).message;
}

describe('bridge configuration', () => {
  test("Mosquitto's defaults: 3.1.1, cleansession false, keepalive 60, backoff 5..30, notifications on, try_private, ids from the host name", () => {
    const [b] = bridges('connection cloud\naddress 10.0.0.1\ntopic a/#');
    assert.equal(b!.protocolVersion, 4);
    assert.equal(b!.cleanSession, false);
    assert.equal(b!.localCleanSession, false);
    assert.equal(b!.keepalive, 60);
    assert.deepEqual(b!.restart, { kind: 'backoff', base: 5, cap: 30 });
    assert.deepEqual(b!.addresses, [{ host: '10.0.0.1', port: 1883 }]);
    assert.equal(b!.remoteClientId, `${hostname()}.cloud`);
    assert.equal(b!.localClientId, `local.${hostname()}.cloud`);
    assert.equal(b!.notificationTopic, `$SYS/broker/connection/${hostname()}.cloud/state`);
    assert.equal(b!.tryPrivate, true);
    assert.equal(b!.startType, 'automatic');
    assert.deepEqual(b!.topics, [{ direction: 'out', qos: 0, localTopic: 'a/#', remoteTopic: 'a/#' }]);
  });

  test('topic PATTERN [in|out|both] [qos] [local-prefix] [remote-prefix]; "" as an empty pattern needs both prefixes', () => {
    assert.deepEqual(parseTopicLine('# both 2 "" remote/'), { direction: 'both', qos: 2, localTopic: '#', remoteTopic: 'remote/#', remotePrefix: 'remote/' });
    assert.deepEqual(parseTopicLine('"" in 1 local/a remote/b'), { direction: 'in', qos: 1, localTopic: 'local/a', remoteTopic: 'remote/b', localPrefix: 'local/a', remotePrefix: 'remote/b' });
    assert.match(refusal('connection c\naddress h\ntopic "" out 0 a/'), /b\.conf:4: topic: invalid bridge remapping/);
    assert.match(refusal('connection c\naddress h\ntopic a sideways'), /invalid bridge topic direction 'sideways'/);
    assert.match(refusal('connection c\naddress h\ntopic a out 3'), /invalid bridge QoS level '3'/);
    assert.match(refusal('connection c\naddress h\ntopic a/# out 0 x/+/'), /invalid bridge topic local prefix/);
  });

  test('addresses, restart_timeout forms, start_type, credentials and versions', () => {
    const [b] = bridges([
      'connection c', 'addresses h1:1884 h2 [::1]:1885', 'restart_timeout 2 60', 'start_type lazy', 'threshold 0',
      'bridge_protocol_version mqttv50', 'remote_clientid edge', 'local_clientid edge-local', 'username u', 'password p',
      'notification_topic state/edge', 'notifications_local_only true', 'round_robin true', 'topic x in',
    ].join('\n'));
    assert.deepEqual(b!.addresses, [{ host: 'h1', port: 1884 }, { host: 'h2', port: 1883 }, { host: '::1', port: 1885 }]);
    assert.deepEqual(b!.restart, { kind: 'backoff', base: 2, cap: 60 });
    assert.equal(b!.startType, 'lazy');
    assert.equal(b!.threshold, 1);
    assert.equal(b!.protocolVersion, 5);
    assert.equal(b!.remoteClientId, 'edge');
    assert.equal(b!.localClientId, 'edge-local');
    assert.equal(b!.remoteUsername, 'u');
    assert.equal(b!.remotePassword, 'p');
    assert.equal(b!.notificationTopic, 'state/edge');
    assert.equal(b!.roundRobin, true);
    assert.deepEqual(bridges('connection c\naddress h\nrestart_timeout 7\ntopic a')[0]!.restart, { kind: 'constant', seconds: 7 });
    assert.match(refusal('connection c\naddress h\nrestart_timeout 10 5\ntopic a'), /backoff cap is lower than the base/);
  });

  test('a bridge without address or topic, or two bridges with one local_clientid, are errors naming the connection line', () => {
    assert.match(refusal('connection c\ntopic a'), /b\.conf:2: bridge 'c' has no address/);
    assert.match(refusal('connection c\naddress h'), /b\.conf:2: bridge 'c' has no topic/);
    assert.match(refusal('connection a\naddress h\ntopic x\nlocal_clientid same\nconnection b\naddress h\ntopic x\nlocal_clientid same'), /b\.conf:6: bridge local_clientid 'same' is also used by bridge 'a'/);
  });

  test('bridge options culex does not implement are refused naming the line, never ignored', () => {
    for (const line of ['bridge_require_ocsp true', 'bridge_ciphers HIGH']) {
      assert.match(refusal(`connection c\naddress h\ntopic a\n${line}`), /b\.conf:5: .* is not implemented by culex/, line);
    }
  });
  test('bridge_bind_address: an address or a name the bridge connects from (resolved at each attempt, as Mosquitto)', () => {
    for (const value of ['127.0.0.2', '::1', 'localhost']) {
      const cfg = parseConfig(`listener 1883\nconnection c\naddress h\ntopic a/#\nbridge_bind_address ${value}\n`, 'b.conf');
      assert.equal(cfg.config.bridges![0]!.bindAddress, value);
    }
  });

  test('bridge_identity and bridge_psk: TLS-PSK, together only, hex only, never with certificates (Mosquitto\'s config__check)', () => {
    const cfg = parseConfig('listener 1883\nconnection c\naddress h\ntopic a/#\nbridge_identity edge\nbridge_psk 00ff\n', 'b.conf');
    assert.deepEqual(cfg.config.bridges![0]!.tls, { insecure: false, pskIdentity: 'edge', psk: '00ff' });
    assert.match(refusal('connection c\naddress h\ntopic a\nbridge_psk 0x12'), /b\.conf:5: .*bridge_psk must be hexadecimal/);
    assert.match(refusal('connection c\naddress h\ntopic a\nbridge_psk 12'), /bridge_identity and bridge_psk go together/);
    assert.match(refusal('connection c\naddress h\ntopic a\nbridge_identity e\nbridge_psk 12\nbridge_cafile /ca'), /bridge_psk and certificates .* cannot be used together/);
  });

  test('the connection and TLS options reach the bridge: keepalive_interval, clientid (the old name of remote_clientid), bridge_attempt_unsubscribe, bridge_outgoing_retain, bridge_capath, bridge_insecure, bridge_alpn, bridge_tls_version; local_username/local_password are warned (Mosquitto 2.0 gives them to plugins only)', () => {
    const cfg = parseConfig('listener 1883\nconnection c\naddress h\ntopic a/#\nkeepalive_interval 15\nclientid edge-1\nbridge_attempt_unsubscribe false\n' +
      'bridge_outgoing_retain false\nbridge_capath /etc/ssl/certs\nbridge_insecure true\nbridge_alpn mqtt\nbridge_tls_version tlsv1.3\nlocal_username u\nlocal_password p\n', 'b.conf');
    const [b] = cfg.config.bridges!;
    assert.equal(b!.keepalive, 15);
    assert.equal(b!.remoteClientId, 'edge-1');
    assert.equal(b!.attemptUnsubscribe, false);
    assert.equal(b!.outgoingRetain, false);
    assert.deepEqual({ capath: b!.tls?.capath, insecure: b!.tls?.insecure, alpn: b!.tls?.alpn, tlsVersion: b!.tls?.tlsVersion }, { capath: '/etc/ssl/certs', insecure: true, alpn: 'mqtt', tlsVersion: 'tlsv1.3' });
    assert.equal(cfg.warnings.filter((w) => /^b\.conf:1[34]: /.test(w)).length, 2, cfg.warnings.join('\n'));
  });
});

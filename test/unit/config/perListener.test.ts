import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.ts';
import { diffReloadable } from '../../../src/config/reload.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { anyAclFile, listenerSecurity, needsPasswordCheck } from '../../../src/config/listenerSecurity.ts';
import { expectConfigError } from './expectConfigError.ts';

function load(text: string) {
  return parseConfig(text, 'p.conf');
}

const lines = (...l: string[]) => l.join('\n');

describe('per_listener_settings (Mosquitto 2.0 conf.c)', () => {
  test('true: password_file, acl_file, allow_anonymous, allow_zero_length_clientid, auto_id_prefix apply to the listener they follow', () => {
    const { config, warnings } = load(lines(
      'per_listener_settings true',
      'listener 1883',
      'password_file /etc/a.passwd',
      'allow_anonymous false',
      'listener 1884',
      'allow_anonymous true',
      'acl_file /etc/b.acl',
      'allow_zero_length_clientid false',
      'auto_id_prefix b-',
    ));
    assert.deepEqual(warnings, []);
    assert.equal(config.perListenerSettings, true);
    assert.deepEqual(config.listeners.map((l) => l.security), [
      { allowAnonymous: false, allowZeroLengthClientId: true, autoIdPrefix: 'auto-', passwordFile: '/etc/a.passwd' },
      { allowAnonymous: true, allowZeroLengthClientId: false, autoIdPrefix: 'b-', aclFile: '/etc/b.acl' },
    ]);
    // the global fields keep their defaults
    assert.equal(config.passwordFile, undefined);
    assert.equal(config.aclFile, undefined);
  });

  test("true: a listener without security options gets Mosquitto's defaults (allow_anonymous false)", () => {
    const { config } = load(lines('per_listener_settings true', 'listener 1883'));
    assert.deepEqual(config.listeners[0]!.security, { allowAnonymous: false, allowZeroLengthClientId: true, autoIdPrefix: 'auto-' });
    assert.deepEqual(listenerSecurity(config, 0), config.listeners[0]!.security);
  });

  test('true with no listener: local-only mode allows anonymous clients, as Mosquitto', () => {
    const { config } = load('per_listener_settings true');
    assert.equal(config.listeners.length, 1);
    assert.equal(config.listeners[0]!.host, '127.0.0.1');
    assert.equal(config.listeners[0]!.security!.allowAnonymous, true);
  });

  test('false (the default): the options stay global wherever they are written', () => {
    const { config } = load(lines('listener 1883', 'listener 1884', 'password_file /p', 'allow_anonymous true', 'auto_id_prefix x-'));
    assert.equal(config.perListenerSettings, false);
    assert.equal(config.passwordFile, '/p');
    assert.equal(config.allowAnonymous, true);
    assert.ok(config.listeners.every((l) => l.security === undefined));
    for (const i of [0, 1]) {
      assert.deepEqual(listenerSecurity(config, i), { allowAnonymous: true, allowZeroLengthClientId: true, autoIdPrefix: 'x-', passwordFile: '/p' });
    }
  });

  test('"per_listener_settings must be set before any other security settings": an error naming both lines', () => {
    for (const first of ['allow_anonymous true', 'password_file /p', 'acl_file /a', 'allow_zero_length_clientid true', 'auto_id_prefix a-']) {
      const err = expectConfigError(() => load(lines('listener 1883', first, 'per_listener_settings true')));
      assert.equal(err.line, 3);
      assert.match(err.message, /must be set before any other security setting/);
      assert.match(err.message, new RegExp(`p\\.conf:2 \\(${first.split(' ')[0]}\\)`));
    }
  });

  test('per_listener_settings false after per-listener options would drop them: an error (Mosquitto drops them silently)', () => {
    const err = expectConfigError(() => load(lines('per_listener_settings true', 'listener 1883', 'acl_file /a', 'per_listener_settings false')));
    assert.equal(err.line, 4);
  });

  test('repeating per_listener_settings with the same value is harmless', () => {
    assert.equal(load(lines('per_listener_settings true', 'listener 1', 'password_file /p', 'per_listener_settings true')).config.perListenerSettings, true);
  });

  test('a second password_file / acl_file / auto_id_prefix in one listener is an error; in another listener it is not', () => {
    for (const key of ['password_file', 'acl_file', 'auto_id_prefix']) {
      const err = expectConfigError(() => load(lines('per_listener_settings true', 'listener 1', `${key} a`, `${key} b`)));
      assert.equal(err.line, 4);
      assert.match(err.message, new RegExp(`duplicate ${key}.*p\\.conf:3`));
      const ok = load(lines('per_listener_settings true', 'listener 1', `${key} a`, 'listener 2', `${key} b`));
      assert.equal(ok.config.listeners.length, 2);
    }
  });

  test('a repeated boolean: the last one wins, per listener', () => {
    const { config } = load(lines('per_listener_settings true', 'listener 1', 'allow_anonymous true', 'allow_anonymous false'));
    assert.equal(config.listeners[0]!.security!.allowAnonymous, false);
  });

  test('before any listener, password_file configures the default listener, which then exists (as in Mosquitto)', () => {
    const { config, warnings } = load(lines('per_listener_settings true', 'password_file /p', 'listener 8883'));
    assert.deepEqual(config.listeners.map((l) => [l.port, l.security!.passwordFile]), [[8883, undefined], [1883, '/p']]);
    assert.match(warnings.join('\n'), /p\.conf:2: 'password_file' before any 'listener' line configures the default listener/);
  });

  test('before any listener, allow_zero_length_clientid false configures the default listener; true does not', () => {
    assert.equal(load(lines('per_listener_settings true', 'allow_zero_length_clientid false', 'listener 8883')).config.listeners.length, 2);
    assert.equal(load(lines('per_listener_settings true', 'allow_zero_length_clientid true', 'listener 8883')).config.listeners.length, 1);
  });

  test('before any listener, allow_anonymous / auto_id_prefix of a default listener that does not exist have no effect: a warning', () => {
    const { config, warnings } = load(lines('per_listener_settings true', 'allow_anonymous true', 'listener 8883'));
    assert.equal(config.listeners[0]!.security!.allowAnonymous, false);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^p\.conf:2: allow_anonymous before any 'listener' line .* has no effect/);
  });

  test('before any listener, an acl_file of a default listener that does not exist is an error (Mosquitto drops it)', () => {
    const err = expectConfigError(() => load(lines('per_listener_settings true', 'acl_file /a', 'listener 8883', 'allow_anonymous true')));
    assert.equal(err.line, 2);
    assert.match(err.message, /acl_file .* default listener/);
  });

  test('options before the default listener exists apply to it once it does (port)', () => {
    const { config } = load(lines('per_listener_settings true', 'acl_file /a', 'allow_anonymous true', 'port 1884'));
    assert.deepEqual(config.listeners[0]!.security, { allowAnonymous: true, allowZeroLengthClientId: true, autoIdPrefix: 'auto-', aclFile: '/a' });
  });

  test('each include_dir file starts at the default listener', () => {
    const files: Record<string, string> = { 'd/a.conf': 'password_file /inc' };
    const { config } = parseConfig(
      lines('per_listener_settings true', 'listener 1', 'acl_file /main', 'include_dir d'),
      'p.conf',
      (path) => files[path]!,
      () => ['a.conf'],
    );
    assert.deepEqual(config.listeners.map((l) => [l.port, l.security!.aclFile, l.security!.passwordFile]), [[1, '/main', undefined], [1883, undefined, '/inc']]);
  });

  test('plugin lines are refused with per_listener_settings true, naming the line', () => {
    for (const key of ['plugin', 'auth_plugin']) {
      const err = expectConfigError(() => load(lines('per_listener_settings true', 'listener 1', `${key} /usr/lib/x.so`)));
      assert.equal(err.line, 3);
      assert.match(err.message, /per_listener_settings true/);
    }
  });

  test('bad values are errors naming the line', () => {
    assert.equal(expectConfigError(() => load(lines('per_listener_settings true', 'listener 1', 'allow_anonymous maybe'))).line, 3);
    assert.equal(expectConfigError(() => load('per_listener_settings perhaps')).line, 1);
  });

  test('needsPasswordCheck and anyAclFile look at every listener', () => {
    const open = load(lines('per_listener_settings true', 'listener 1', 'allow_anonymous true')).config;
    assert.equal(needsPasswordCheck(open), false);
    assert.equal(anyAclFile(open), false);
    const mixed = load(lines('per_listener_settings true', 'listener 1', 'allow_anonymous true', 'acl_file /a', 'listener 2', 'password_file /p')).config;
    assert.equal(needsPasswordCheck(mixed), true);
    assert.equal(anyAclFile(mixed), true);
    assert.equal(needsPasswordCheck(defaultConfig()), false);
    assert.equal(needsPasswordCheck(defaultConfig({ allowAnonymous: false })), true);
    assert.equal(anyAclFile(defaultConfig({ aclFile: '/a' })), true);
  });
});

describe('per_listener_settings and reload', () => {
  const base = (extra: string) => load(lines('per_listener_settings true', 'listener 1883', 'allow_anonymous true', extra)).config;

  test("a listener's security options are reloadable, by option name (Mosquitto re-reads them)", () => {
    const diff = diffReloadable(base(''), base('password_file /p\nacl_file /a\nauto_id_prefix z-'));
    assert.deepEqual(diff.reloadable.sort(), ['acl_file', 'auto_id_prefix', 'password_file']);
    assert.deepEqual(diff.notReloadable, []);
  });

  test('per_listener_settings itself needs a restart (Mosquitto 2.0.11 keeps the value it started with)', () => {
    const before = load(lines('listener 1883', 'allow_anonymous true')).config;
    const after = load(lines('per_listener_settings true', 'listener 1883', 'allow_anonymous true')).config;
    assert.ok(diffReloadable(before, after).notReloadable.includes('per_listener_settings'));
  });

  test('any other listener change still needs a restart', () => {
    assert.deepEqual(diffReloadable(base(''), base('max_connections 5')).notReloadable, ['listener']);
  });
});

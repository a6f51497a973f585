/**
 * `plugin` / `auth_plugin` lines and their options: Mosquitto's dynamic security plugin is built
 * into culex, every other plugin is refused naming its line (Mosquitto 2.0.11 src/conf.c and
 * plugins/dynamic-security/plugin.c).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.ts';
import { diffReloadable } from '../../../src/config/reload.ts';
import { expectConfigError } from './expectConfigError.ts';

function load(lines: string) {
  return parseConfig(`listener 1883\n${lines}\n`, 'm.conf');
}

function refusal(lines: string): string {
  return expectConfigError(() => load(lines)).message;
}

describe('the dynamic security plugin', () => {
  test('plugin …/mosquitto_dynamic_security.so + plugin_opt_config_file → BrokerConfig.dynamicSecurity', () => {
    const { config, warnings } = load(
      'plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\nplugin_opt_config_file /var/lib/mosquitto/dynamic-security.json',
    );
    assert.deepEqual(config.dynamicSecurity, { configFile: '/var/lib/mosquitto/dynamic-security.json' });
    assert.deepEqual(warnings, []);
  });

  test('any directory, a relative path, and the older auth_plugin / auth_opt_ spelling (Mosquitto reads both alike)', () => {
    const { config } = load('auth_plugin ./plugins/mosquitto_dynamic_security.so\nauth_opt_config_file dynsec.json');
    assert.deepEqual(config.dynamicSecurity, { configFile: 'dynsec.json' });
  });

  test('the option name is matched without regard to case, as the plugin does (strcasecmp)', () => {
    const { config } = load('plugin /p/mosquitto_dynamic_security.so\nplugin_opt_CONFIG_FILE /d.json');
    assert.deepEqual(config.dynamicSecurity, { configFile: '/d.json' });
  });

  test('a path with spaces takes the rest of the line, as Mosquitto reads it', () => {
    const { config } = load('plugin /p/mosquitto_dynamic_security.so\nplugin_opt_config_file /my dir/d.json');
    assert.deepEqual(config.dynamicSecurity, { configFile: '/my dir/d.json' });
  });

  test('without plugin_opt_config_file the plugin is inactive, with the warning Mosquitto gives', () => {
    const { config, warnings } = load('plugin /p/mosquitto_dynamic_security.so');
    assert.equal(config.dynamicSecurity, undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^m\.conf:2: .*no plugin_opt_config_file.*not be activated/);
  });

  test('auth_plugin_deny_special_chars after it is accepted with a warning: Mosquitto 2.0 applies it to version 2-4 auth plugins only, never to dynamic security', () => {
    const { config, warnings } = load('plugin /p/mosquitto_dynamic_security.so\nplugin_opt_config_file /d.json\nauth_plugin_deny_special_chars true');
    assert.deepEqual(config.dynamicSecurity, { configFile: '/d.json' });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^m\.conf:4: 'auth_plugin_deny_special_chars' has no effect on the dynamic security plugin/);
  });

  test('password_file and acl_file may stay next to it', () => {
    const { config } = load('password_file /etc/p\nacl_file /etc/a\nplugin /p/mosquitto_dynamic_security.so\nplugin_opt_config_file /d.json');
    assert.equal(config.passwordFile, '/etc/p');
    assert.equal(config.aclFile, '/etc/a');
    assert.deepEqual(config.dynamicSecurity, { configFile: '/d.json' });
  });

  test('the plugin cannot change on reload (Mosquitto: "Auth plugin not currently valid for reloading")', () => {
    const before = load('plugin /p/mosquitto_dynamic_security.so\nplugin_opt_config_file /d.json').config;
    const after = load('').config;
    assert.deepEqual(diffReloadable(before, after).notReloadable, ['plugin']);
  });
});

describe('refused plugin lines name the line', () => {
  const cases: [lines: string, line: number, pattern: RegExp][] = [
    ['plugin /usr/lib/mosquitto_go_auth.so', 2, /'plugin \/usr\/lib\/mosquitto_go_auth\.so' is not implemented by culex/],
    ['plugin /p/mosquitto_dynamic_security.so.bak', 2, /loads no Mosquitto plugins/],
    ['plugin', 2, /plugin: missing value/],
    ['plugin_opt_config_file /d.json', 2, /'plugin_opt_config_file' without a plugin line before it/],
    // Mosquitto: "An auth_plugin_deny_special_chars option exists in the config file without an auth_plugin."
    ['auth_plugin_deny_special_chars true', 2, /'auth_plugin_deny_special_chars' without a plugin line before it/],
    ['plugin /p/mosquitto_dynamic_security.so\nauth_plugin_deny_special_chars maybe', 3, /auth_plugin_deny_special_chars: invalid boolean 'maybe'/],
    ['plugin /p/mosquitto_dynamic_security.so\nplugin_opt_cache true', 3, /'plugin_opt_cache' is not implemented by culex: the dynamic security plugin reads only config_file/],
    ['plugin /p/mosquitto_dynamic_security.so\nplugin_opt_config_file', 3, /plugin_opt_config_file: missing value/],
    ['plugin /p/mosquitto_dynamic_security.so\nplugin_opt_config_file /a\nplugin_opt_config_file /b', 4, /duplicate plugin_opt_config_file value \(first set at m\.conf:3\)/],
    ['plugin /p/mosquitto_dynamic_security.so\nplugin /q/mosquitto_dynamic_security.so', 3, /already loaded at m\.conf:2/],
    ['plugin /p/mosquitto_dynamic_security.so\nplugin /q/other.so\nplugin_opt_config_file /d', 3, /other\.so/],
  ];
  for (const [lines, line, pattern] of cases) {
    test(`${JSON.stringify(lines)} → error at line ${line}`, () => {
      const message = refusal(lines);
      assert.ok(message.startsWith(`m.conf:${line}: `), message);
      assert.match(message, pattern);
    });
  }
});

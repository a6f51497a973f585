/**
 * culex's `persistent_subscription CLIENT_ID FILTER QOS` lines (a persistent session declared
 * before its client connects; Mosquitto has no such option): what they parse into, and the lines
 * refused naming file and line.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.ts';
import { diffReloadable } from '../../../src/config/reload.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { expectConfigError } from './expectConfigError.ts';

function load(lines: string) {
  return parseConfig(`listener 1883\n${lines}\n`, 'm.conf');
}

describe('persistent_subscription', () => {
  test('one line per filter, several per client, in file order; none by default', () => {
    assert.deepEqual(defaultConfig().persistentSubscriptions, []);
    const { config, warnings } = load([
      'persistent_subscription dev-1 sensors/# 1',
      'persistent_subscription dev-2 +/alarm 2 # a comment',
      'persistent_subscription\tdev-1\tcmd/dev-1\t0',
      'persistent_subscription dévice/ü $SYS/broker/uptime 1',
    ].join('\n'));
    assert.deepEqual(config.persistentSubscriptions, [
      { clientId: 'dev-1', filter: 'sensors/#', qos: 1 },
      { clientId: 'dev-2', filter: '+/alarm', qos: 2 },
      { clientId: 'dev-1', filter: 'cmd/dev-1', qos: 0 },
      { clientId: 'dévice/ü', filter: '$SYS/broker/uptime', qos: 1 },
    ]);
    assert.deepEqual(warnings, []);
    assert.ok(Object.isFrozen(config.persistentSubscriptions));
  });

  const refused: [string, string, RegExp][] = [
    ['missing QoS', 'persistent_subscription dev-1 a/b', /^m\.conf:3: persistent_subscription: 2 of 3 values \(expected CLIENT_ID FILTER QOS, got 'dev-1 a\/b'\)$/],
    ['an empty client id (the values are blank-separated)', 'persistent_subscription  a/b 1', /^m\.conf:3: persistent_subscription: 2 of 3 values/],
    ['no value at all', 'persistent_subscription', /^m\.conf:3: persistent_subscription: 0 of 3 values/],
    ['QoS 3', 'persistent_subscription dev-1 a/b 3', /^m\.conf:3: persistent_subscription: invalid QoS 3 \(expected 0, 1 or 2\)$/],
    ['QoS -1', 'persistent_subscription dev-1 a/b -1', /^m\.conf:3: persistent_subscription: invalid QoS -1/],
    ['a QoS that is not a number', 'persistent_subscription dev-1 a/b one', /^m\.conf:3: persistent_subscription: invalid QoS 'one'/],
    ['[MQTT-4.7.1-2] # not last', 'persistent_subscription dev-1 a/#/b 1', /^m\.conf:3: persistent_subscription: invalid topic filter 'a\/#\/b'$/],
    ['[MQTT-4.7.1-3] + not alone in its level', 'persistent_subscription dev-1 a/b+ 1', /^m\.conf:3: persistent_subscription: invalid topic filter 'a\/b\+'$/],
    ['a shared subscription', 'persistent_subscription dev-1 $share/g/a 1', /^m\.conf:3: persistent_subscription: '\$share\/g\/a': a shared subscription/],
    ['text after the QoS', 'persistent_subscription dev-1 a/b 1 extra', /^m\.conf:3: persistent_subscription: unexpected text after the QoS: 'extra'/],
    ['the same client and filter twice', 'persistent_subscription dev-1 a/b 1\npersistent_subscription dev-1 a/b 2', /^m\.conf:4: persistent_subscription: dev-1 a\/b is already declared at m\.conf:3$/],
  ];
  for (const [title, lines, message] of refused) {
    test(`refused naming file and line: ${title}`, () => {
      const err = expectConfigError(() => parseConfig(`listener 1883\n\n${lines}\n`, 'm.conf'));
      assert.match(err.message, message);
    });
  }

  test('in an include_dir file, the error names that file and line', () => {
    const err = expectConfigError(() =>
      parseConfig('listener 1883\ninclude_dir /conf.d\n', 'm.conf', () => '# declared\npersistent_subscription dev-1 a/b 3\n', () => ['a.conf']));
    assert.match(err.message, /^\/conf\.d\/a\.conf:2: persistent_subscription: invalid QoS 3/);
  });

  test('a QoS above max_qos is lowered to it, as a SUBSCRIBE would be granted, with a warning naming the line', () => {
    const { config, warnings } = load('max_qos 1\npersistent_subscription dev-1 a/b 2\npersistent_subscription dev-1 c 0');
    assert.deepEqual(config.persistentSubscriptions, [{ clientId: 'dev-1', filter: 'a/b', qos: 1 }, { clientId: 'dev-1', filter: 'c', qos: 0 }]);
    assert.deepEqual(warnings, ['m.conf:3: persistent_subscription dev-1 a/b: QoS 2 is above max_qos; using 1']);
  });

  test('not reloadable (yet): a change is named as needing a restart', () => {
    const before = load('persistent_subscription dev-1 a/b 1').config;
    const after = load('persistent_subscription dev-1 a/b 1\npersistent_subscription dev-2 a/b 1').config;
    assert.deepEqual(diffReloadable(before, after), { reloadable: [], notReloadable: ['persistent_subscription'] });
    assert.deepEqual(diffReloadable(before, load('persistent_subscription dev-1 a/b 1').config), { reloadable: [], notReloadable: [] });
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.ts';
import { diffReloadable } from '../../../src/config/reload.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { GLOBAL_OPTIONS } from '../../../src/config/schema.ts';

function config(text: string) {
  return parseConfig(`listener 1883\nallow_anonymous true\n${text}\n`, 'r.conf').config;
}

describe('diffReloadable', () => {
  test('identical configurations differ in nothing', () => {
    assert.deepEqual(diffReloadable(config('workers 2'), config('workers 2')), { reloadable: [], notReloadable: [] });
  });

  test('security, limits and logging changes are reloadable, by option name', () => {
    const diff = diffReloadable(
      config(''),
      config('password_file /p\nacl_file /a\nmax_queued_messages 5\nlog_type debug\nlog_dest stdout\nsys_interval 0'),
    );
    assert.deepEqual(diff.reloadable.sort(), [
      'acl_file',
      'log_dest',
      'log_type',
      'max_queued_messages',
      'password_file',
      'sys_interval',
    ]);
    assert.deepEqual(diff.notReloadable, []);
  });

  test('listeners, workers, persistence and CONNACK-announced limits need a restart', () => {
    const diff = diffReloadable(
      config(''),
      config('listener 8883\nworkers 4\npersistence_location /x\npersistence_durability batch\nmax_qos 1\nmetrics_listener 9000'),
    );
    assert.deepEqual(diff.notReloadable.sort(), [
      'listener',
      'max_qos',
      'metrics_listener',
      'persistence_durability',
      'persistence_location',
      'workers',
    ]);
    assert.deepEqual(diff.reloadable, []);
  });

  test('a change inside one listener is a listener change', () => {
    const diff = diffReloadable(config('max_connections 10'), config('max_connections 11'));
    assert.deepEqual(diff, { reloadable: [], notReloadable: ['listener'] });
  });

  test('an optional field that appears is a change (password_file added)', () => {
    assert.deepEqual(diffReloadable(defaultConfig(), defaultConfig({ passwordFile: '/p' })).reloadable, ['password_file']);
  });

  test('every global option has a reloadability decision and its own field', () => {
    const fields = new Set(GLOBAL_OPTIONS.map((o) => o.field));
    assert.equal(fields.size, GLOBAL_OPTIONS.length);
  });
});

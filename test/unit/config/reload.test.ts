import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.ts';
import { applyReloadable, diffReloadable } from '../../../src/config/reload.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { GLOBAL_OPTIONS } from '../../../src/config/schema.ts';

function config(text: string) {
  return parseConfig(`listener 1883\nallow_anonymous true\n${text}\n`, 'r.conf').config;
}

describe('diffReloadable', () => {
  test('identical configurations differ in nothing', () => {
    assert.deepEqual(diffReloadable(config('workers 2'), config('workers 2')), { reloadable: [], notReloadable: [] });
  });

  test('security and limits changes are reloadable, by option name', () => {
    const diff = diffReloadable(
      config(''),
      config('password_file /p\nacl_file /a\nmax_queued_messages 5\nsys_interval 0\nallow_anonymous false'),
    );
    assert.deepEqual(diff.reloadable.sort(), ['acl_file', 'allow_anonymous', 'max_queued_messages', 'password_file', 'sys_interval']);
    assert.deepEqual(diff.notReloadable, []);
  });

  test('logging options reload, as in Mosquitto (each thread\'s Logger takes the new settings)', () => {
    const diff = diffReloadable(config(''), config('log_type debug\nlog_dest stdout\nconnection_messages false\nlog_timestamp_format %H:%M:%S'));
    assert.deepEqual(diff.reloadable.sort(), ['connection_messages', 'log_dest', 'log_timestamp_format', 'log_type']);
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

describe('applyReloadable', () => {
  test('takes the reloadable options of the new file and keeps the others as they run', () => {
    const old = config('workers 2\nmax_queued_messages 10\nlog_type error');
    const next = config('workers 4\nmax_queued_messages 20\npassword_file /p\nlog_type debug');
    const merged = applyReloadable(old, next);
    assert.equal(merged.maxQueuedMessages, 20);
    assert.equal(merged.passwordFile, '/p');
    assert.equal(merged.workers, 2, 'workers needs a restart');
    assert.deepEqual(merged.logTypes, next.logTypes, 'log_type reloads');
    assert.deepEqual(diffReloadable(merged, next).reloadable, [], 'nothing reloadable is left to apply');
    assert.ok(Object.isFrozen(merged));
  });

  test('an option removed from the file goes back to its default (password_file removed)', () => {
    const merged = applyReloadable(config('password_file /p\nacl_file /a'), config(''));
    assert.equal(merged.passwordFile, undefined);
    assert.equal(merged.aclFile, undefined);
    assert.equal(Object.hasOwn(merged, 'passwordFile'), false);
  });

  test('per_listener_settings: each listener takes its new security options, by position', () => {
    const text = (acl: string) =>
      `per_listener_settings true\nlistener 1883\nallow_anonymous true\nlistener 1884\nallow_anonymous false\nacl_file ${acl}\n`;
    const old = parseConfig(text('/a1'), 'r.conf').config;
    const merged = applyReloadable(old, parseConfig(text('/a2'), 'r.conf').config);
    assert.equal(merged.listeners[1]!.security?.aclFile, '/a2');
    assert.equal(merged.listeners[0]!.security?.allowAnonymous, true);
    assert.equal(merged.listeners[1]!.port, 1884);
  });

  test('changed listeners stay as they run, with their security options', () => {
    const old = parseConfig('per_listener_settings true\nlistener 1883\nacl_file /a1\n', 'r.conf').config;
    const next = parseConfig('per_listener_settings true\nlistener 1884\nacl_file /a2\n', 'r.conf').config;
    assert.deepEqual(applyReloadable(old, next).listeners, old.listeners);
  });
});

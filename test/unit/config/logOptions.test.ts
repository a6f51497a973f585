/**
 * The logging options as Mosquitto 2.0.11 reads them (src/conf.c): log_dest, log_timestamp,
 * log_timestamp_format, log_facility. A destination culex cannot write to is refused naming the
 * line, never accepted and ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.ts';
import { expectConfigError } from './expectConfigError.ts';

const load = (lines: string) => parseConfig(`listener 1883\n${lines}\n`, 'm.conf');

test('Mosquitto log_dest syslog / dlt: refused naming the line', () => {
  for (const dest of ['syslog', 'dlt']) {
    const message = expectConfigError(() => load(`log_dest stderr\nlog_dest ${dest}`)).message;
    assert.match(message, /^m\.conf:3: /, dest);
    assert.match(message, new RegExp(`'log_dest ${dest}'.* is not supported by culex`), dest);
  }
});

test('Mosquitto log_dest: several destinations; none drops those before it; a second file is a duplicate', () => {
  assert.deepEqual(load('log_dest stdout\nlog_dest file /tmp/x.log\nlog_dest stderr').config.logDest, ['stdout', 'file /tmp/x.log', 'stderr']);
  assert.deepEqual(load('log_dest stdout\nlog_dest none').config.logDest, []);
  assert.deepEqual(load('log_dest none\nlog_dest stdout').config.logDest, ['stdout']);
  assert.deepEqual(load('log_dest topic\nlog_dest topic').config.logDest, ['topic']);
  assert.match(expectConfigError(() => load('log_dest file /a\nlog_dest file /b')).message, /^m\.conf:3: duplicate log_dest file/);
});

test('Mosquitto log_timestamp / log_timestamp_format: read into the configuration (default: stamped, epoch seconds)', () => {
  const plain = load('').config;
  assert.equal(plain.logTimestamp, true);
  assert.equal(plain.logTimestampFormat, undefined);
  assert.equal(load('log_timestamp false').config.logTimestamp, false);
  assert.equal(load('log_timestamp_format %Y-%m-%d %H:%M:%S').config.logTimestampFormat, '%Y-%m-%d %H:%M:%S');
  assert.match(expectConfigError(() => load('log_timestamp maybe')).message, /^m\.conf:2: log_timestamp/);
  assert.match(expectConfigError(() => load('log_timestamp_format %s\nlog_timestamp_format %F')).message, /^m\.conf:3: /);
});

test('Mosquitto log_facility: 0-7 accepted with a warning that it needs syslog; anything else refused', () => {
  const { warnings } = load('log_facility 5');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^m\.conf:2: 'log_facility' ignored: it applies to 'log_dest syslog' only/);
  assert.match(expectConfigError(() => load('log_facility 8')).message, /^m\.conf:2: log_facility/);
});

/**
 * The logging options as Mosquitto 2.0.11 reads them (src/conf.c): log_dest, log_timestamp,
 * log_timestamp_format, log_facility. A destination culex cannot write to (dlt) is refused naming the
 * line, never accepted and ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.ts';
import { expectConfigError } from './expectConfigError.ts';

const load = (lines: string) => parseConfig(`listener 1883\n${lines}\n`, 'm.conf');

test('Mosquitto log_dest dlt: refused naming the line', () => {
  const message = expectConfigError(() => load('log_dest stderr\nlog_dest dlt')).message;
  assert.match(message, /^m\.conf:3: /);
  assert.match(message, /'log_dest dlt'.* is not supported by culex/);
});

test('Mosquitto log_dest syslog: accepted with the others (src/log/syslog.ts)', () => {
  assert.deepEqual(load('log_dest stderr\nlog_dest syslog\nlog_dest syslog').config.logDest, ['stderr', 'syslog']);
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

test('Mosquitto log_facility: 0-7 (local0-local7) sets the syslog facility; without log_dest syslog, a warning that it is ignored; anything else refused', () => {
  const withSyslog = load('log_facility 5\nlog_dest syslog');
  assert.equal(withSyslog.config.logFacility, 5);
  assert.deepEqual(withSyslog.warnings, []);
  const { warnings } = load('log_facility 5');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^m\.conf:2: 'log_facility' ignored: it applies to 'log_dest syslog' only/);
  assert.match(expectConfigError(() => load('log_facility 8')).message, /^m\.conf:2: log_facility/);
});

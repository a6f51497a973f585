/**
 * log_timestamp_format: the strftime(3) conversions, compared with what glibc's strftime prints
 * for the same instant in UTC and in a zone with an offset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { compileStrftime, strftime } from '../../../src/log/strftime.ts';

// 1700000000 = Tuesday 2023-11-14 22:13:20 UTC
const T = new Date(1700000000 * 1000);

function inZone<R>(tz: string, f: () => R): R {
  const saved = process.env.TZ;
  process.env.TZ = tz;
  try {
    return f();
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
}

test('Mosquitto log_timestamp_format: each conversion prints as strftime(3) in the C locale (UTC)', () => {
  inZone('UTC', () => {
    const cases: [string, string][] = [
      ['%Y-%m-%dT%H:%M:%S', '2023-11-14T22:13:20'],
      ['%F %T', '2023-11-14 22:13:20'],
      ['%s', '1700000000'],
      ['%j', '318'],
      ['%e', '14'],
      ['%z %Z', '+0000 UTC'],
      ['%a %A %b %B %h', 'Tue Tuesday Nov November Nov'],
      ['%y %C %D %R', '23 20 11/14/23 22:13'],
      ['%I %l %p %r', '10 10 PM 10:13:20 PM'],
      ['%u %w %k', '2 2 22'],
      ['%c', 'Tue Nov 14 22:13:20 2023'],
      ['100%% %n%t', '100% \n\t'],
      ['%Q stays', '%Q stays'],
      ['trailing %', 'trailing %'],
      ['no conversions', 'no conversions'],
    ];
    for (const [format, expected] of cases) assert.equal(strftime(format, T), expected, format);
  });
});

test('Mosquitto log_timestamp_format: local time and offset follow TZ', () => {
  inZone('Asia/Kolkata', () => {
    assert.equal(strftime('%F %T %z', T), '2023-11-15 03:43:20 +0530');
    assert.equal(strftime('%e %j', T), '15 319');
  });
  inZone('America/New_York', () => {
    assert.equal(strftime('%H:%M %z', T), '17:13 -0500');
  });
});

test('Mosquitto log_timestamp_format: single-digit day padded with a space (%e), day of year with zeros (%j)', () => {
  inZone('UTC', () => {
    const d = new Date(Date.UTC(2024, 0, 5, 3, 4, 5));
    assert.equal(compileStrftime('%e|%j|%d|%k|%l')(d), ' 5|005|05| 3| 3');
  });
});

test('Mosquitto log_timestamp_format: same text as the date(1) command for the same format and instant', { skip: process.platform !== 'linux' }, () => {
  const format = '%Y-%m-%d %H:%M:%S %z %j %e %a %b %s %u %y';
  const expected = execFileSync('date', ['-d', '@1700000000', `+${format}`], { env: { ...process.env, TZ: 'Europe/Berlin', LC_ALL: 'C' } }).toString().trim();
  inZone('Europe/Berlin', () => assert.equal(strftime(format, T), expected));
});

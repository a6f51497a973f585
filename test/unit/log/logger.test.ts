/**
 * createLogger: Mosquitto's line format ("<stamp>: <message>"), log_type levels, log_dest
 * destinations (several, none, file) and reopen() after the file was moved (logrotate).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { createLogger } from '../../../src/log.ts';
import { tempDir } from '../../helpers/broker.ts';

function logFile(): { file: string; cleanup(): void } {
  const { dir, cleanup } = tempDir('culex-log-');
  return { file: path.join(dir, 'culex.log'), cleanup };
}

const lines = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');

test('Mosquitto log_dest file: lines "<epoch seconds>: <message>" appended to the file; Error:/Warning: prefixes', async () => {
  const { file, cleanup } = logFile();
  try {
    const before = Math.floor(Date.now() / 1000);
    const log = createLogger({ types: ['error', 'warning', 'notice', 'information'], dest: [`file ${file}`], connectionMessages: true });
    log.notice('Client a closed its connection.');
    log.error('bad');
    log.warning('careful');
    log.info('info');
    log.debug('not shown');
    await turn();
    const got = lines(file);
    assert.equal(got.length, 4);
    for (const l of got) {
      const m = /^(\d+): /.exec(l);
      assert.ok(m !== null, l);
      assert.ok(Number(m[1]) >= before && Number(m[1]) <= before + 5, l);
    }
    assert.deepEqual(got.map((l) => l.replace(/^\d+: /, '')), ['Client a closed its connection.', 'Error: bad', 'Warning: careful', 'info']);
  } finally {
    cleanup();
  }
});

test('Mosquitto log_type: subscribe/unsubscribe/debug only when named; all = every type; none = nothing', async () => {
  const { file, cleanup } = logFile();
  try {
    const sub = createLogger({ types: ['subscribe'], dest: [`file ${file}`], connectionMessages: true });
    assert.equal(sub.subscribeEnabled, true);
    assert.equal(sub.unsubscribeEnabled, false);
    sub.subscribe('c 1 a/#');
    sub.unsubscribe('c a/#');
    sub.notice('no');
    const all = createLogger({ types: ['all'], dest: [`file ${file}`], connectionMessages: true });
    assert.equal(all.debugEnabled, true);
    all.debug('dbg');
    all.unsubscribe('c a/#');
    const none = createLogger({ types: ['none'], dest: [`file ${file}`], connectionMessages: true });
    none.error('never');
    const verbose = createLogger({ types: ['error'], dest: [`file ${file}`], connectionMessages: true, verbose: true });
    verbose.debug('verbose dbg');
    await turn();
    assert.deepEqual(lines(file).map((l) => l.replace(/^\d+: /, '')), ['c 1 a/#', 'dbg', 'c a/#', 'verbose dbg']);
  } finally {
    cleanup();
  }
});

test('Mosquitto log_dest none: nothing is written anywhere, and no file is created', async () => {
  const { file, cleanup } = logFile();
  try {
    const log = createLogger({ types: ['all'], dest: [], connectionMessages: true });
    assert.equal(log.debugEnabled, false);
    log.error('x');
    const none = createLogger({ types: ['all'], dest: ['none'], connectionMessages: true });
    none.error('x');
    await turn();
    assert.equal(existsSync(file), false);
  } finally {
    cleanup();
  }
});

test('Mosquitto log_timestamp false: no stamp; log_timestamp_format: the strftime text then ": "', async () => {
  const { file, cleanup } = logFile();
  try {
    createLogger({ types: ['notice'], dest: [`file ${file}`], connectionMessages: true, timestamp: false }).notice('bare');
    createLogger({ types: ['notice'], dest: [`file ${file}`], connectionMessages: true, timestampFormat: '%Y-%m-%dT%H:%M:%S' }).notice('iso');
    await turn();
    const [bare, iso] = lines(file);
    assert.equal(bare, 'bare');
    assert.match(iso!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: iso$/);
  } finally {
    cleanup();
  }
});

test('Mosquitto "New client connected" line: p1/p2/p5 are Mosquitto\'s protocol numbers, u\'name\' only with a username', async () => {
  const { file, cleanup } = logFile();
  try {
    const log = createLogger({ types: ['notice'], dest: [`file ${file}`], connectionMessages: true });
    log.connection({ clientId: 'c1', username: undefined, remoteAddress: '127.0.0.1', remotePort: 5000, version: 4, keepalive: 60 }, { cmd: 'connect', clientId: 'c1', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60 });
    log.connection({ clientId: 'c2', username: 'u1', remoteAddress: '127.0.0.1', remotePort: 5001, version: 5, keepalive: 30 }, { cmd: 'connect', clientId: 'c2', protocolId: 'MQTT', protocolVersion: 5, clean: false, keepalive: 30, username: 'u1' });
    const quiet = createLogger({ types: ['notice'], dest: [`file ${file}`], connectionMessages: false });
    quiet.connection({ clientId: 'c3', username: undefined, remoteAddress: '127.0.0.1', remotePort: 5002, version: 3, keepalive: 0 }, { cmd: 'connect', clientId: 'c3', protocolId: 'MQIsdp', protocolVersion: 3, clean: true, keepalive: 0 });
    await turn();
    assert.deepEqual(lines(file).map((l) => l.replace(/^\d+: /, '')), [
      'New client connected from 127.0.0.1:5000 as c1 (p2, c1, k60).',
      "New client connected from 127.0.0.1:5001 as c2 (p5, c0, k30, u'u1').",
    ]);
  } finally {
    cleanup();
  }
});

test('reopen(): after logrotate moved the file, lines go to a new file at the configured path', async () => {
  const { file, cleanup } = logFile();
  try {
    const log = createLogger({ types: ['notice'], dest: [`file ${file}`], connectionMessages: true });
    log.notice('before');
    await turn();
    renameSync(file, `${file}.1`);
    log.notice('pending at the move');
    log.reopen();
    log.notice('after');
    await turn();
    assert.deepEqual(lines(`${file}.1`).map((l) => l.replace(/^\d+: /, '')), ['before', 'pending at the move']);
    assert.deepEqual(lines(file).map((l) => l.replace(/^\d+: /, '')), ['after']);
  } finally {
    cleanup();
  }
});

test('Mosquitto: a log file that cannot be opened is reported on stderr; the other destinations still get lines', async () => {
  const { file, cleanup } = logFile();
  try {
    const log = createLogger({ types: ['notice'], dest: ['file /nonexistent-dir/x.log', `file ${file}`], connectionMessages: true });
    log.notice('still logged');
    await turn();
    assert.deepEqual(lines(file).map((l) => l.replace(/^\d+: /, '')), ['still logged']);
  } finally {
    cleanup();
  }
});

/**
 * log_dest syslog (src/log/syslog.ts): the `<PRI>` of each log type and log_facility as
 * Mosquitto's logging.c and conf.c give them, and the lines util-linux logger delivers to a
 * syslog socket (a python3 receiver, through the CULEX_SYSLOG_SOCKET test hook): ident
 * "mosquitto", the process id, the line as the other destinations get it; a full pipe drops
 * lines and counts them instead of blocking.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, type Logger, type LogOptions } from '../../../src/log.ts';
import { SYSLOG_IDENT, SYSLOG_SEVERITY, syslogFacility, syslogPri } from '../../../src/log/syslog.ts';
import { tempDir } from '../../helpers/broker.ts';
import { startSyslogReceiver, type SyslogReceiver } from '../../helpers/syslogReceiver.ts';

describe('syslog priorities (Mosquitto logging.c log__vprintf, conf.c log_facility)', () => {
  test('log_facility 0-7 is local0-local7 (facility 16-23); not set: daemon (3), as Mosquitto', () => {
    assert.equal(syslogFacility(undefined), 3);
    for (let n = 0; n <= 7; n++) assert.equal(syslogFacility(n), 16 + n);
  });

  test('severities: error LOG_ERR, warning LOG_WARNING, notice/subscribe/unsubscribe LOG_NOTICE, information LOG_INFO, debug/websockets LOG_DEBUG, internal LOG_ERR (the default case)', () => {
    assert.deepEqual({ ...SYSLOG_SEVERITY }, {
      error: 3, warning: 4, notice: 5, information: 6, debug: 7, subscribe: 5, unsubscribe: 5, websockets: 7, internal: 3,
    });
  });

  test('PRI = facility * 8 + severity (RFC 3164): local3 notice is <157>, daemon error <27>, local7 debug <191>', () => {
    assert.equal(syslogPri(syslogFacility(3), 'notice'), 157);
    assert.equal(syslogPri(syslogFacility(undefined), 'error'), 27);
    assert.equal(syslogPri(syslogFacility(7), 'debug'), 191);
    assert.equal(syslogPri(syslogFacility(0), 'subscribe'), 133);
  });
});

describe('log_dest syslog through logger', () => {
  const { dir, cleanup } = tempDir('culex-syslog-');
  let receiver: SyslogReceiver;
  let log: Logger;
  const opts = (extra: Partial<LogOptions>): LogOptions => ({ types: ['all'], dest: ['syslog'], connectionMessages: true, ...extra });

  before(async () => {
    receiver = await startSyslogReceiver(dir);
    process.env.CULEX_SYSLOG_SOCKET = receiver.path;
  });
  after(() => {
    log?.reconfigure(opts({ dest: [] })); // closes the sink: logger ends
    delete process.env.CULEX_SYSLOG_SOCKET;
    receiver.close();
    cleanup();
  });

  test('each log type arrives with its <PRI> at log_facility 3 (local3), ident "mosquitto", this process id, the Mosquitto line text', async () => {
    log = createLogger(opts({ facility: 3, timestamp: false }));
    log.error('e1');
    log.warning('w1');
    log.notice('n1');
    log.info('i1');
    log.debug('d1');
    log.subscribe('c1 1 a/b');
    log.unsubscribe('c1 a/b');
    const expect: [string, number][] = [['Error: e1', 3], ['Warning: w1', 4], ['n1', 5], ['i1', 6], ['d1', 7], ['c1 1 a/b', 5], ['c1 a/b', 5]];
    for (const [text, severity] of expect) {
      const m = await receiver.waitFor((x) => x.message === text, text);
      assert.equal(m.facility, 19, m.raw);
      assert.equal(m.severity, severity, m.raw);
      assert.equal(m.ident, SYSLOG_IDENT);
      assert.equal(m.pid, process.pid);
    }
  });

  test('a multi-line message (an error with its stack): every line carries the priority', async () => {
    log.error('multi', new Error('first\nsecond'));
    const m = await receiver.waitFor((x) => x.message === 'second', 'the second line of the error');
    assert.equal(m.pri, 19 * 8 + 3);
  });

  test('Mosquitto writes its time stamp into the syslog line too (log_timestamp); a reload to the default facility gives daemon', async () => {
    log.reconfigure(opts({ timestamp: true }));
    log.notice('stamped');
    const m = await receiver.waitFor((x) => x.message.endsWith(': stamped'), 'stamped');
    assert.match(m.message, /^\d+: stamped$/);
    assert.equal(m.pri, 3 * 8 + 5);
  });

  test('while logger cannot keep up, lines are dropped and counted, never buffered without bound; the count is logged once it drains', async () => {
    const paused = await startSyslogReceiver(dir, { name: 'paused.sock', paused: true });
    process.env.CULEX_SYSLOG_SOCKET = paused.path;
    log.reconfigure(opts({ dest: [] })); // the thread's last syslog sink closes: the next one starts a new logger
    log.reconfigure(opts({ facility: 1, timestamp: false }));
    try {
      const line = 'x'.repeat(200);
      const sent = 40;
      for (let turn = 0; turn < sent; turn++) {
        for (let i = 0; i < 1000; i++) log.info(`${turn} ${i} ${line}`);
        await sleep(5);
      }
      paused.release();
      const warning = await paused.waitFor((x) => /^Warning: \d+ log lines were dropped: logger could not keep up\.$/.test(x.message), 'about dropped lines', 30000);
      assert.equal(warning.pri, 17 * 8 + 4);
      const dropped = Number(/\d+/.exec(warning.message)![0]);
      assert.ok(dropped > 0 && dropped < sent * 1000, `dropped ${dropped}`);
      // the first lines went through: nothing before the pipe filled up is lost
      await paused.waitFor((x) => x.message.startsWith('0 0 '), 'the first line');
    } finally {
      log.reconfigure(opts({ dest: [] }));
      process.env.CULEX_SYSLOG_SOCKET = receiver.path;
      paused.close();
    }
  });
});

/**
 * `log_dest syslog` and `log_facility` of a broker process (2 workers): the datagrams a syslog
 * daemon would receive on /dev/log (here a python3 receiver's socket, through the test hook
 * CULEX_SYSLOG_SOCKET) carry `<PRI>` = facility * 8 + severity as Mosquitto's logging.c gives
 * them, ident "mosquitto" with the broker's process id (openlog("mosquitto", LOG_PID, …)), and
 * Mosquitto's line texts, from the main thread and from the workers; log_facility reloads on
 * SIGHUP in every thread; without a syslog socket, logger's failure is said on stderr and the
 * lines go there.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brokerDir, cleanupBrokerProcesses, connectTo, startBrokerProcess } from '../helpers/brokerProcess.ts';
import { culexOnly, tempDir, type CliProcess } from '../helpers/broker.ts';
import { sleep } from '../helpers/clients.ts';
import { startSyslogReceiver, type SyslogMessage, type SyslogReceiver } from '../helpers/syslogReceiver.ts';

const { dir: tmp, cleanup } = tempDir('culex-syslog-');
let receiver: SyslogReceiver | undefined;
after(() => {
  cleanupBrokerProcesses();
  receiver?.close();
  delete process.env.CULEX_SYSLOG_SOCKET;
  cleanup();
});

const LOCAL3 = 19;
const LOCAL5 = 21;
const [ERR, WARNING, NOTICE, INFO, DEBUG] = [3, 4, 5, 6, 7];

describe('Mosquitto log_dest syslog with log_facility', { skip: culexOnly }, () => {
  let broker: CliProcess;
  let conf = '';
  let port = 0;
  const from = (pred: (m: SyslogMessage) => boolean) => (m: SyslogMessage) => m.pid === broker.proc.pid && pred(m);

  test('broker process: log_dest syslog, log_facility 3, connection_messages true, log_type all, an ACL that denies publishing', async () => {
    receiver = await startSyslogReceiver(tmp);
    process.env.CULEX_SYSLOG_SOCKET = receiver.path;
    const acl = path.join(tmp, 'acl');
    writeFileSync(acl, 'topic read #\n');
    const b = await brokerDir(['log_dest syslog', 'log_facility 3', 'connection_messages true', 'log_type all', 'log_timestamp false', `acl_file ${acl}`]);
    conf = b.conf;
    port = b.port;
    broker = await startBrokerProcess(b.conf, b.dir, b.port);
  });

  test('main thread: "… version … starting" and "Config loaded from FILE." are LOG_NOTICE at local3, ident mosquitto, the broker\'s pid', async () => {
    const r = receiver!;
    const start = await r.waitFor(from((m) => /^culex version \S+ starting$/.test(m.message)), 'start-up line');
    assert.equal(start.ident, 'mosquitto');
    assert.equal(start.pri, LOCAL3 * 8 + NOTICE);
    const loaded = await r.waitFor(from((m) => m.message === `Config loaded from ${conf}.`), 'Config loaded');
    assert.equal(loaded.pri, LOCAL3 * 8 + NOTICE);
  });

  test('worker threads: "New client connected from … as C (p2, c1, k60)." LOG_NOTICE, subscribe LOG_NOTICE, "Denied PUBLISH" LOG_DEBUG, at local3', async () => {
    const r = receiver!;
    // connections are served by the workers (the main thread owns no client socket)
    const clients = [];
    for (let i = 0; i < 4; i++) clients.push((await connectTo(port, { clientId: `sl-${i}` })).client);
    for (let i = 0; i < 4; i++) {
      const m = await r.waitFor(from((x) => new RegExp(`^New client connected from 127\\.0\\.0\\.1:\\d+ as sl-${i} \\(p2, c1, k60\\)\\.$`).test(x.message)), `connect of sl-${i}`);
      assert.equal(m.pri, LOCAL3 * 8 + NOTICE, m.raw);
    }
    await clients[0]!.subscribeAsync('a/b', { qos: 1 });
    const sub = await r.waitFor(from((x) => x.message === 'sl-0 1 a/b'), 'the subscribe line');
    assert.equal(sub.pri, LOCAL3 * 8 + NOTICE);
    clients[1]!.publish('x/y', 'p', { qos: 0 });
    const denied = await r.waitFor(from((x) => x.message.startsWith("Denied PUBLISH from sl-1 (d0, q0, r0, m0, 'x/y'")), 'Denied PUBLISH');
    assert.equal(denied.pri, LOCAL3 * 8 + DEBUG);
    for (const c of clients) await c.endAsync();
  });

  test('SIGHUP with log_facility 5: "Reloading config." LOG_INFO, a restart-only change LOG_WARNING, then every worker logs at local5', async () => {
    const r = receiver!;
    const text = readFileSync(conf, 'utf8').replace('log_facility 3', 'log_facility 5').replace('workers 2', 'workers 3');
    writeFileSync(conf, text);
    broker.proc.kill('SIGHUP');
    const reloading = await r.waitFor(from((x) => x.message === 'Reloading config.'), 'Reloading config.');
    assert.equal(reloading.pri, LOCAL3 * 8 + INFO); // logged before the new configuration is read
    const warning = await r.waitFor(from((x) => x.message === 'Warning: reload: workers changed; takes effect after a restart'), 'the restart warning');
    // both are logged while the running configuration's logger is still in force (as Mosquitto,
    // which reads the file before log__init)
    assert.equal(warning.pri, LOCAL3 * 8 + WARNING);
    // after every worker's reload, at local5 from the main thread; reloadable options named
    const done = await r.waitFor(from((x) => x.message.startsWith('reload: done;')), 'reload: done');
    assert.equal(done.pri, LOCAL5 * 8 + NOTICE);
    assert.match(done.message, /options changed: .*log_facility/);
    const clients = [];
    for (let i = 0; i < 4; i++) clients.push((await connectTo(port, { clientId: `sl5-${i}` })).client);
    for (let i = 0; i < 4; i++) {
      const m = await r.waitFor(from((x) => x.message.includes(` as sl5-${i} (p2`)), `connect of sl5-${i}`);
      assert.equal(m.pri, LOCAL5 * 8 + NOTICE, m.raw);
    }
    for (const c of clients) await c.endAsync();
  });

  test('a reload that fails is LOG_ERR, at local5 from the main thread since the last reload: "Error: reload failed, the running configuration stays: FILE:LINE …"', async () => {
    const r = receiver!;
    appendFileSync(conf, 'no_such_option 1\n');
    broker.proc.kill('SIGHUP');
    const err = await r.waitFor(from((x) => x.message.startsWith('Error: reload failed, the running configuration stays:')), 'the reload error');
    assert.equal(err.pri, LOCAL5 * 8 + ERR);
    assert.ok(err.message.includes(`${conf}:`), err.message);
  });
});

describe('log_dest syslog without a syslog socket', { skip: culexOnly }, () => {
  test('logger\'s failure is said on stderr with its reason, and the lines go to stderr instead; the broker runs on', async () => {
    process.env.CULEX_SYSLOG_SOCKET = path.join(tmp, 'nobody-listens.sock');
    const b = await brokerDir(['log_dest syslog', 'log_timestamp false']);
    const broker = await startBrokerProcess(b.conf, b.dir, b.port);
    const { client } = await connectTo(b.port, { clientId: 'no-syslog' });
    const deadline = Date.now() + 10000;
    while (!/New client connected from .* as no-syslog/.test(broker.output()) && Date.now() < deadline) await sleep(50);
    await client.endAsync();
    const out = broker.output();
    assert.match(out, /Error: log_dest syslog: logger exited with code 1 \(logger: socket .*nobody-listens\.sock: No such file or directory\); syslog lines go to stderr instead\./);
    assert.match(out, /^culex version \S+ starting$/m);
    assert.match(out, /^New client connected from 127\.0\.0\.1:\d+ as no-syslog \(p2, c1, k60\)\.$/m);
    // once per thread that logs (main and each of the 2 workers), each with its own logger
    assert.ok(out.split('Error: log_dest syslog:').length - 1 <= 3, out);
  });
});

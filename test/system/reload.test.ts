/**
 * Configuration reload on SIGHUP, as Mosquitto 2.0.11 does it (loop.c flag_reload →
 * config__read(reload) → mosquitto_security_init → mosquitto_security_apply): culex runs as its
 * own process with a configuration, password and acl file; the test edits them, sends SIGHUP and
 * checks with real clients that the running broker follows — new users get in, removed users are
 * refused and their connections closed, new ACLs govern what is delivered — while a broken
 * configuration or an option that needs a restart leaves the running broker as it was.
 * Workers: CULEX_TEST_WORKERS (1 by default; 4 puts clients on different workers).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { culexOnly, freePort, spreadWorkers, startCli, tempDir, waitForPort, writePasswordFile, type CliProcess } from '../helpers/broker.ts';
import { cleanupBrokerProcesses, startBrokerProcess } from '../helpers/brokerProcess.ts';
import { closeReason, connackCode as connackCodeOf, Harness, Inbox, pubackCode, sleep, uniqueId, type MqttClient } from '../helpers/clients.ts';

const mosquittoPasswd = spawnSync('mosquitto_passwd', ['-h']).error === undefined;

describe(`SIGHUP reloads the configuration (Mosquitto 2.0.11), ${spreadWorkers} worker${spreadWorkers > 1 ? 's' : ''}`, { skip: culexOnly }, () => {
  const h = new Harness();
  const tmp = tempDir('culex-reload-');
  const conf = join(tmp.dir, 'culex.conf');
  const passwd = join(tmp.dir, 'passwd');
  const acl = join(tmp.dir, 'acl');
  let port: number;
  let broker: CliProcess;

  /** the configuration file: the base options, allow_anonymous and `extra` lines */
  const writeConf = (anonymous: boolean, extra: readonly string[] = [], opts: { port?: number; passwordFile?: string } = {}): void => {
    writeFileSync(conf, [`listener ${opts.port ?? port} 127.0.0.1`, `workers ${spreadWorkers}`, 'persistence false',
      `password_file ${opts.passwordFile ?? passwd}`, `acl_file ${acl}`, `allow_anonymous ${anonymous}`, ...extra].join('\n') + '\n');
  };
  const writeAcl = (lines: readonly string[]): void => writeFileSync(acl, lines.join('\n') + '\n');
  /** every user may read and write everything; anonymous clients too */
  const openAcl = ['topic readwrite #', 'pattern readwrite #'];

  /** lines the broker logged that end a reload, one per SIGHUP */
  const reloadsLogged = (): string[] => broker.output().split('\n').filter((l) => /: (reload: done|Error: reload failed)/.test(l));
  /** Sends SIGHUP and waits until the broker has logged the end of that reload; returns that line. */
  const hup = async (): Promise<string> => {
    const n = reloadsLogged().length;
    broker.proc.kill('SIGHUP');
    const deadline = Date.now() + 15000;
    while (reloadsLogged().length === n) {
      if (Date.now() > deadline) throw new Error(`no end of reload logged:\n${broker.output()}`);
      if (broker.proc.exitCode !== null || broker.proc.signalCode !== null) throw new Error(`broker exited:\n${broker.output()}`);
      await sleep(20);
    }
    return reloadsLogged()[n]!;
  };
  const connect = (username: string | undefined, password?: string, opts: Parameters<Harness['connect']>[1] = {}): Promise<MqttClient> =>
    h.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: uniqueId(username ?? 'anon'), username, password, ...opts });
  const connackCode = (username: string | undefined, password?: string): Promise<number> => connackCodeOf(connect(username, password));
  const closed = (c: MqttClient): Promise<number> => closeReason(c, 15000);

  before(async () => {
    port = await freePort();
    writePasswordFile(tmp.dir, { alice: 'apw', carol: 'cpw' });
    writeAcl(openAcl);
    writeConf(true);
    broker = await startBrokerProcess(conf, tmp.dir, port);
  });
  after(async () => {
    await h.teardown();
    cleanupBrokerProcesses();
    tmp.cleanup();
  });

  test('a user added to the password file (mosquitto_passwd -b) connects after SIGHUP, without a restart', async () => {
    assert.equal(await connackCode('alice', 'apw'), 0);
    assert.equal(await connackCode('bob', 'bpw'), 0x87, 'bob is not in the file yet');
    if (mosquittoPasswd) assert.equal(spawnSync('mosquitto_passwd', ['-b', passwd, 'bob', 'bpw']).status, 0);
    else writePasswordFile(tmp.dir, { alice: 'apw', carol: 'cpw', bob: 'bpw' });
    assert.match(await hup(), /reload: done; options changed: none; 0 clients no longer authorised/);
    assert.equal(await connackCode('bob', 'bpw'), 0);
    assert.equal(await connackCode('bob', 'wrong'), 0x87);
  });

  test('a user removed from the password file is refused after SIGHUP, and its connected client is closed (v5 0x87) without its will', async () => {
    const watcher = await connect('carol', 'cpw');
    const wills = new Inbox(watcher);
    await watcher.subscribeAsync('will/#', { qos: 1 });
    const alice = await connect('alice', 'apw', { will: { topic: 'will/alice', payload: Buffer.from('gone'), qos: 1, retain: false } });
    const aliceClosed = closed(alice);
    writePasswordFile(tmp.dir, { carol: 'cpw', bob: 'bpw' });
    assert.match(await hup(), /1 client no longer authorised, disconnected/);
    // Mosquitto closes such a client in state "disconnecting": no will [security_default.c, context.c context__send_will]
    assert.equal(await aliceClosed, 0x87);
    assert.equal(await connackCode('alice', 'apw'), 0x87);
    await wills.expectNone(300, 0);
    assert.ok(watcher.connected, 'a client whose user is still in the file stays connected');
    assert.match(broker.output(), /Client alice-\S+ disconnected\./, "Mosquitto 2.0.11's line");
    watcher.end(true);
  });

  test('a changed password closes the client that logged in with the old one; allow_anonymous false closes anonymous clients', async () => {
    const carol = await connect('carol', 'cpw');
    const bob = await connect('bob', 'bpw');
    const anon = await connect(undefined);
    const carolClosed = closed(carol);
    const anonClosed = closed(anon);
    writePasswordFile(tmp.dir, { carol: 'new', bob: 'bpw' });
    writeConf(false);
    assert.match(await hup(), /options changed: allow_anonymous; 2 clients no longer authorised/);
    assert.equal(await carolClosed, 0x87);
    assert.equal(await anonClosed, 0x87);
    assert.equal(await connackCode(undefined), 0x87, 'anonymous: Not authorized');
    assert.equal(await connackCode('carol', 'cpw'), 0x87);
    assert.equal(await connackCode('carol', 'new'), 0);
    // bob is untouched: his messages still flow
    const inbox = new Inbox(bob);
    await bob.subscribeAsync('still/#', { qos: 1 });
    await bob.publishAsync('still/here', 'x', { qos: 1 });
    assert.equal((await inbox.next()).topic, 'still/here');
  });

  test('a bad line in the configuration at SIGHUP: the broker keeps running with the old configuration and logs file:line', async () => {
    writeConf(true, ['no_such_option 1']);
    const line = await hup();
    assert.match(line, new RegExp(`Error: reload failed, the running configuration stays: ${conf.replace(/[.]/g, '\\.')}:7: unknown option 'no_such_option'`));
    assert.equal(await connackCode(undefined), 0x87, 'allow_anonymous true of the broken file did not apply');
    assert.equal(await connackCode('carol', 'new'), 0);
  });

  test('a password file that cannot be read at SIGHUP: the old users stay, the log names the file', async () => {
    writeConf(false, [], { passwordFile: join(tmp.dir, 'missing') });
    const line = await hup();
    assert.match(line, new RegExp(`Error: reload failed, the running configuration stays: ${join(tmp.dir, 'missing').replace(/[.]/g, '\\.')}:0: cannot read password file`));
    assert.equal(await connackCode('carol', 'new'), 0);
    writeConf(false);
    assert.match(await hup(), /reload: done; options changed: none/);
  });

  test('a changed listener is logged as taking effect after a restart; the broker keeps its port', async () => {
    const other = await freePort();
    writeConf(false, [], { port: other });
    assert.match(await hup(), /reload: done/);
    assert.match(broker.output(), /Warning: reload: listener changed; takes effect after a restart/);
    assert.equal(await connackCode('carol', 'new'), 0, 'still listening on the old port');
    writeConf(false);
    await hup();
  });

  test('a reloadable limit applies in every worker after SIGHUP (max_keepalive → v5 Server Keep Alive)', async () => {
    const keepalive = async (): Promise<number | undefined> => {
      const { client, connack } = await h.connectWithConnack(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, username: 'carol', password: 'new', keepalive: 600 });
      client.end(true);
      return connack.properties?.serverKeepAlive;
    };
    assert.equal(await keepalive(), undefined, 'the default max_keepalive (65535) lets 600 stand');
    writeConf(false, ['max_keepalive 60']);
    assert.match(await hup(), /options changed: max_keepalive;/);
    for (let i = 0; i < 2 * spreadWorkers; i++) assert.equal(await keepalive(), 60);
    writeConf(false);
    await hup();
  });

  test('a shorter max_connect_time at SIGHUP applies to the connections already waiting for their CONNECT', async () => {
    writeConf(false, ['max_connect_time 120']);
    assert.match(await hup(), /options changed: max_connect_time;/);
    // silent sockets, a few per worker: none sends a CONNECT
    const sockets = await Promise.all(Array.from({ length: 2 * spreadWorkers }, () => new Promise<Socket>((resolve, reject) => {
      const s = createConnection({ port, host: '127.0.0.1' }, () => resolve(s));
      s.on('error', reject);
    })));
    const closedAt = sockets.map((s) => new Promise<number>((resolve) => s.on('close', () => resolve(Date.now()))));
    writeConf(false, ['max_connect_time 1']);
    await hup();
    const reloaded = Date.now();
    for (const at of await Promise.all(closedAt)) assert.ok(at - reloaded < 30000, `closed ${at - reloaded} ms after the reload, not at the old 120 s`);
    writeConf(false);
    await hup();
  });

  test('logging options reload in every thread (Mosquitto does): a log_dest file and connection_messages added at SIGHUP get the connect lines of every worker', async () => {
    const logFile = join(tmp.dir, 'after-hup.log');
    writeConf(false, ['log_dest stderr', `log_dest file ${logFile}`, 'connection_messages true']);
    assert.match(await hup(), /options changed: .*log_dest/);
    const clients = 2 * spreadWorkers;
    for (let i = 0; i < clients; i++) (await connect('carol', 'new')).end(true);
    const connected = (): number => {
      try {
        return (readFileSync(logFile, 'utf8').match(/New client connected from \S+ as carol-\S+ \(p5, c1, k60, u'carol'\)\./g) ?? []).length;
      } catch {
        return 0;
      }
    };
    const deadline = Date.now() + 10000;
    while (connected() < clients && Date.now() < deadline) await sleep(50);
    assert.equal(connected(), clients);
    writeConf(false);
    await hup();
  });

  test('an ACL change applies after SIGHUP: a topic newly denied for reading stops reaching a connected subscriber, a newly denied write is refused', async () => {
    writeAcl(['user bob', 'topic readwrite #', 'user carol', 'topic readwrite #']);
    await hup();
    const sub = await connect('carol', 'new');
    const inbox = new Inbox(sub);
    await sub.subscribeAsync('acl/#', { qos: 1 });
    const pub = await connect('bob', 'bpw');
    assert.equal(await pubackCode(pub, 'acl/open'), 0);
    assert.equal(await pubackCode(pub, 'acl/secret'), 0);
    await inbox.waitFor(2);

    writeAcl(['user bob', 'topic write acl/#', 'user carol', 'topic read acl/open', 'topic write other/#']);
    assert.match(await hup(), /0 clients no longer authorised/);
    assert.equal(await pubackCode(pub, 'acl/secret'), 0, 'bob may still write it…');
    assert.equal(await pubackCode(pub, 'acl/open'), 0);
    assert.equal((await inbox.waitFor(3))[2]!.topic, 'acl/open');
    await inbox.expectNone(300, 3);
    assert.deepEqual(inbox.messages.map((m) => m.topic), ['acl/open', 'acl/secret', 'acl/open'], '…but carol no longer reads acl/secret');
    assert.equal(await pubackCode(sub, 'acl/open'), 0x87, 'carol lost the right to write acl/…');
    assert.equal(await pubackCode(sub, 'other/x'), 0);
  });
});

describe('SIGHUP, then a client at once: it gets the reloaded rules (Mosquitto reloads before it reads another packet)', { skip: culexOnly }, () => {
  const h = new Harness();
  const tmp = tempDir('culex-reload-gate-');
  after(async () => {
    await h.teardown();
    cleanupBrokerProcesses();
    tmp.cleanup();
  });

  test(`a CONNECT that arrives while a slow reload is applied waits for it, at ${spreadWorkers} worker${spreadWorkers > 1 ? 's' : ''}: carol's write is refused at once`, async () => {
    const port = await freePort();
    const conf = join(tmp.dir, 'culex.conf');
    const acl = join(tmp.dir, 'acl');
    // 40,000 lines for someone else: each thread takes a while to read them again
    const filler = ['user zed', ...Array.from({ length: 40_000 }, (_, i) => `topic read filler/${i}/#`)];
    writeFileSync(acl, [...filler, 'user carol', 'topic readwrite gate/#'].join('\n') + '\n');
    writeFileSync(conf, [`listener ${port} 127.0.0.1`, `workers ${spreadWorkers}`, 'persistence false', 'allow_anonymous true', `acl_file ${acl}`].join('\n') + '\n');
    const broker = await startBrokerProcess(conf, tmp.dir, port);
    const carol = (): Promise<MqttClient> => h.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: uniqueId('carol'), username: 'carol' });
    const before = await carol();
    assert.equal(await pubackCode(before, 'gate/x'), 0);
    before.end(true);

    writeFileSync(acl, [...filler, 'user carol', 'topic read gate/#'].join('\n') + '\n');
    const reloads = (): number => (broker.output().match(/Reloading config\./g) ?? []).length;
    const asked = reloads();
    broker.proc.kill('SIGHUP');
    // the main thread has the signal (it logs this first); the files are still being read and applied
    while (reloads() === asked) await sleep(1);
    assert.equal(await pubackCode(await carol(), 'gate/x'), 0x87);
  });
});

describe('SIGHUP without a configuration file', { skip: culexOnly }, () => {
  test('culex -p PORT: SIGHUP reloads nothing, says so, and the broker runs on (Mosquitto: config__read returns at once)', async () => {
    const tmp = tempDir('culex-reload-noconf-');
    const port = await freePort();
    const p = startCli(['-p', String(port)], tmp.dir);
    try {
      await waitForPort(port, 30000);
      p.proc.kill('SIGHUP');
      const deadline = Date.now() + 15000;
      while (!p.output().includes('nothing to reload')) {
        if (Date.now() > deadline || p.proc.exitCode !== null || p.proc.signalCode !== null) assert.fail(`no reload line:\n${p.output()}`);
        await sleep(20);
      }
      assert.match(p.output(), /Warning: reload: no configuration file; nothing to reload/);
      await waitForPort(port, 5000);
      assert.equal(p.proc.exitCode, null);
    } finally {
      p.kill();
      await p.exit;
      tmp.cleanup();
    }
  });
});

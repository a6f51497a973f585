/**
 * Options of mosquitto.conf seen from outside the process, with `culex -c FILE` and real clients:
 * pid_file, user, persistence (off unless the file says so) and persistence_file, and the default listener's port / bind_address. test/unit/config/optionTable.test.ts points here.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { IConnackPacket } from 'mqtt';
import path from 'node:path';
import { Harness, Inbox, once, publish, sleep, subscribe, uniqueId } from '../helpers/clients.ts';
import { culexOnly, freePort, startCli, tempDir, type CliProcess } from '../helpers/broker.ts';
import { untilListening } from '../helpers/brokerProcess.ts';

const h = new Harness();
const tmp = tempDir('culex-process-options-');
const procs: CliProcess[] = [];

after(async () => {
  await h.teardown();
  for (const p of procs) p.kill();
  await Promise.all(procs.map((p) => p.exit));
  tmp.cleanup();
});

/** Writes a configuration (a listener on a fresh port, anonymous clients, then `lines`) and starts culex on it. */
async function start(name: string, lines: readonly string[]): Promise<{ p: CliProcess; port: number; conf: string }> {
  const port = await freePort();
  const conf = path.join(tmp.dir, `${name}.conf`);
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'workers 2', ...lines].join('\n') + '\n');
  const p = startCli(['-c', conf], tmp.dir);
  procs.push(p);
  return { p, port, conf };
}

/** A message goes through the broker on `port` (QoS 1, subscriber and publisher on their own connections). */
async function roundTrip(port: number): Promise<void> {
  const url = `mqtt://127.0.0.1:${port}`;
  const sub = await h.connect(url, { protocolVersion: 4 });
  const inbox = new Inbox(sub);
  const topic = `proc/${uniqueId()}`;
  await subscribe(sub, topic, { qos: 1 });
  const pub = await h.connect(url, { protocolVersion: 5 });
  await publish(pub, topic, 'through', { qos: 1 });
  assert.equal((await inbox.waitFor(1))[0]!.payload.toString(), 'through');
  await h.closeClients();
}

describe('pid_file', { skip: culexOnly }, () => {
  test('the pid is written at start and the file removed on a clean stop (Mosquitto)', async () => {
    const pidFile = path.join(tmp.dir, 'culex.pid');
    const { p, port } = await start('pid', ['persistence false', `pid_file ${pidFile}`]);
    await untilListening(p, port);
    assert.equal(readFileSync(pidFile, 'utf8'), `${p.proc.pid}\n`);
    await roundTrip(port);
    p.proc.kill('SIGTERM');
    assert.deepEqual(await p.exit, { code: 0, signal: null });
    assert.equal(existsSync(pidFile), false);
  });

  test('a pid_file that cannot be written stops the start, naming it (Mosquitto: "Unable to write pid file")', async () => {
    const pidFile = path.join(tmp.dir, 'no-such-dir', 'culex.pid');
    const { p } = await start('pid-bad', ['persistence false', `pid_file ${pidFile}`]);
    const { code } = await p.exit;
    assert.equal(code, 1);
    assert.match(p.output(), /cannot write pid_file .*no-such-dir/);
  });
});

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

describe('user', { skip: culexOnly }, () => {
  test('started as root with `user nobody`, every thread of the process runs as nobody once the listener is open (Mosquitto drop_privileges)', { skip: asRoot ? false : 'needs root' }, async () => {
    const { p, port } = await start('user', ['persistence false', 'user nobody']);
    await untilListening(p, port);
    // the workers serve as soon as they listen; the main thread switches once the start is complete
    for (const deadline = Date.now() + 20_000; !/switched to user nobody/.test(p.output()); await sleep(50)) {
      assert.ok(Date.now() < deadline, `no "switched to user nobody" line:\n${p.output()}`);
    }
    await roundTrip(port);
    const tasks = readdirSync(`/proc/${p.proc.pid}/task`);
    assert.ok(tasks.length > 2, 'main thread and workers');
    for (const t of tasks) {
      const status = readFileSync(`/proc/${p.proc.pid}/task/${t}/status`, 'utf8');
      assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m, `thread ${t}`);
      assert.match(status, /^Gid:\s+65534\s+/m, `thread ${t}`);
    }
    assert.match(p.output(), /switched to user nobody/);
    p.proc.kill('SIGTERM');
    assert.deepEqual(await p.exit, { code: 0, signal: null });
  });

  test('an unknown user stops the start, naming it (Mosquitto: "Invalid user")', { skip: asRoot ? false : 'needs root' }, async () => {
    const { p, port } = await start('user-bad', ['persistence false', 'user no-such-user-culex']);
    const exit = await p.exit;
    assert.equal(exit.code, 1, p.output());
    assert.match(p.output(), /invalid user 'no-such-user-culex'/);
    void port;
  });

  test('`user root` keeps the process as it is', { skip: asRoot ? false : 'needs root' }, async () => {
    const { p, port } = await start('user-root', ['persistence false', 'user root']);
    await untilListening(p, port);
    assert.match(readFileSync(`/proc/${p.proc.pid}/status`, 'utf8'), /^Uid:\s+0\s+0\s+0\s+0$/m);
    p.proc.kill('SIGTERM');
    assert.deepEqual(await p.exit, { code: 0, signal: null });
  });
});

describe('persistence (a configuration file keeps Mosquitto\'s default: off)', { skip: culexOnly }, () => {
  test('without a persistence line nothing is stored: no ./data, a retained message and a persistent session do not outlive a restart', async () => {
    const cwd = path.join(tmp.dir, 'no-persistence-cwd');
    mkdirSync(cwd);
    const port = await freePort();
    const conf = path.join(tmp.dir, 'mosquitto-plain.conf');
    writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence_location data/'].join('\n') + '\n');
    const run = async (check: (url: string) => Promise<void>): Promise<string> => {
      const p = startCli(['-c', conf], cwd);
      procs.push(p);
      await untilListening(p, port);
      await check(`mqtt://127.0.0.1:${port}`);
      await h.closeClients();
      p.proc.kill('SIGTERM');
      assert.equal((await p.exit).code, 0);
      return p.output();
    };
    const topic = `np/${uniqueId()}`;
    const clientId = `np-${uniqueId()}`;
    const first = await run(async (url) => {
      const keeper = await h.connect(url, { protocolVersion: 4, clientId, clean: false });
      await subscribe(keeper, `${topic}/queued`, { qos: 1 });
      await h.closeClients();
      const pub = await h.connect(url, { protocolVersion: 4 });
      await publish(pub, topic, 'retained', { qos: 1, retain: true });
      await publish(pub, `${topic}/queued`, 'queued', { qos: 1 });
    });
    assert.match(first, /conf:3: 'persistence_location' has no effect: persistence is off/);
    assert.match(first, /persistence off \(memory only\)/);
    assert.equal(existsSync(path.join(cwd, 'data')), false, 'no store was created');
    await run(async (url) => {
      const keeper = h.client(url, { protocolVersion: 4, clientId, clean: false });
      const inbox = new Inbox(keeper);
      const connack = await once<IConnackPacket>(keeper, 'connect');
      assert.equal(connack.sessionPresent, false, 'the session did not outlive the restart');
      await subscribe(keeper, topic, { qos: 1 });
      await inbox.expectNone(300, 0); // neither the queued nor the retained message came back
    });
  });
});

describe('persistence_file', { skip: culexOnly }, () => {
  test('accepted with a warning that the name is not used: the store stays in persistence_location, a Mosquitto file of that name is neither read nor written', async () => {
    const data = path.join(tmp.dir, 'pf-data');
    mkdirSync(data);
    const mosquittoDb = path.join(data, 'mosquitto.db');
    const foreign = Buffer.from('\x00\xB5\x00mosquitto db\x00 not LMDB');
    writeFileSync(mosquittoDb, foreign);
    const lines = ['persistence true', `persistence_location ${data}`, 'persistence_file mosquitto.db'];
    const first = await start('pf', lines);
    await untilListening(first.p, first.port);
    assert.match(first.p.output(), /persistence_file' ignored: .*not used/);
    const topic = `pf/${uniqueId()}`;
    const pub = await h.connect(`mqtt://127.0.0.1:${first.port}`, { protocolVersion: 4 });
    await publish(pub, topic, 'kept', { qos: 1, retain: true });
    await h.closeClients();
    first.p.proc.kill('SIGTERM');
    assert.equal((await first.p.exit).code, 0);
    // the same configuration again: the retained message came back from the LMDB store
    const port = first.port;
    const conf = first.conf;
    const again = startCli(['-c', conf], tmp.dir);
    procs.push(again);
    await untilListening(again, port);
    const sub = await h.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4 });
    const inbox = new Inbox(sub);
    await subscribe(sub, topic, { qos: 1 });
    assert.equal((await inbox.waitFor(1))[0]!.payload.toString(), 'kept');
    await h.closeClients();
    again.proc.kill('SIGTERM');
    assert.equal((await again.exit).code, 0);
    assert.deepEqual(readFileSync(mosquittoDb), foreign);
  });
});

describe('port and bind_address (the default listener)', { skip: culexOnly }, () => {
  test('`port N` with `bind_address 127.0.0.1` listens on 127.0.0.1:N only (Mosquitto)', async () => {
    const port = await freePort();
    const conf = path.join(tmp.dir, 'default-listener.conf');
    writeFileSync(conf, ['allow_anonymous true', 'persistence false', `port ${port}`, 'bind_address 127.0.0.1'].join('\n') + '\n');
    const p = startCli(['-c', conf], tmp.dir);
    procs.push(p);
    await untilListening(p, port);
    await roundTrip(port);
    // another loopback address of the same host: nothing listens there
    const other = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.2', port });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    assert.equal(other, false);
    p.proc.kill('SIGTERM');
    assert.equal((await p.exit).code, 0);
  });
});

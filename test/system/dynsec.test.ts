/**
 * Mosquitto's dynamic security plugin in culex, driven by the real `mosquitto_ctrl` (Mosquitto
 * 2.0.11) against a running broker whose configuration loads
 * `plugin …/mosquitto_dynamic_security.so` with a file made by `mosquitto_ctrl dynsec init`,
 * and checked with MQTT.js clients: new users log in at once, their ACLs apply, disabled and
 * deleted users are kicked (v5 DISCONNECT 0x98, as Mosquitto's kick) and refused, only the admin
 * role reaches `$CONTROL`, and every change is in the file, which a restarted broker loads.
 * Runs with 1 worker and with 4, where mosquitto_ctrl talks to worker 0 and the clients to the
 * others: the rules reach every worker before the answer reaches mosquitto_ctrl.
 * Subscriptions are judged by delivery, not by the SUBACK code.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeReason, connackCode as connackCodeOf, Harness, Inbox, pubackCode, uniqueId, type MqttClient } from '../helpers/clients.ts';
import { culexOnly, freePort, tempDir, waitForPort, type TestBroker } from '../helpers/broker.ts';
import { ctrl, ctrlSkip, DYNSEC_PLUGIN as PLUGIN, mosquittoDynsecSkip as mosquittoSkip } from '../helpers/mosquittoCtrl.ts';

const skip = culexOnly || ctrlSkip;

function suite(workers: 1 | 4): void {
  describe(`dynamic security with the real mosquitto_ctrl, ${workers} worker${workers > 1 ? 's' : ''}`, { skip }, () => {
    const h = new Harness();
    const tmp = tempDir('culex-dynsec-');
    const file = join(tmp.dir, 'dynamic-security.json');
    let broker: TestBroker;
    /** one port per worker (test placement), or the listener's */
    let ports: readonly number[];
    let nextClientPort = 1;

    const start = async (): Promise<void> => {
      broker = await h.broker(
        { workers, allowAnonymous: false, dynamicSecurity: { configFile: file } },
        { placement: workers > 1 },
      );
      ports = workers > 1 ? broker.running!.workerPorts : broker.running!.ports;
    };
    /** mosquitto_ctrl as the admin, always through worker 0 */
    const admin = (...args: string[]) => ctrl(ports[0]!, 'admin', 'secret', ...args);
    /** the URL of the next worker other than 0 (with one worker, the listener) */
    const clientUrl = (): string => `mqtt://127.0.0.1:${ports[ports.length === 1 ? 0 : 1 + (nextClientPort++ % (ports.length - 1))]!}`;
    const connect = (username: string, password: string, clientId = uniqueId(username)): Promise<MqttClient> =>
      h.connect(clientUrl(), { protocolVersion: 5, username, password, clientId });
    const connackCode = (username: string, password: string): Promise<number> => connackCodeOf(connect(username, password));
    const closed = (c: MqttClient): Promise<number> => closeReason(c);

    before(async () => {
      const init = spawnSync('mosquitto_ctrl', ['dynsec', 'init', file, 'admin', 'secret'], { encoding: 'utf8' });
      assert.match(init.stdout, /The client 'admin' has been created/);
      await start();
    });
    after(async () => {
      await h.teardown();
      tmp.cleanup();
    });

    test('createClient: the new user can connect at once, on any worker; a wrong password is refused', async () => {
      const r = await admin('createClient', 'sensor1', '-p', 'pw1');
      assert.deepEqual(r, { code: 0, output: '' });
      assert.equal(await connackCode('sensor1', 'pw1'), 0);
      assert.equal(await connackCode('sensor1', 'wrong'), 0x87);
      assert.equal(await connackCode('nobody', 'pw1'), 0x87);
    });

    test('mosquitto_ctrl sees Mosquitto\'s error strings', async () => {
      assert.equal((await admin('createClient', 'sensor1', '-p', 'again')).output, 'createClient: Error: Client already exists');
      assert.equal((await admin('getClient', 'nobody')).output, 'getClient: Error: Client not found');
      assert.equal((await admin('addClientRole', 'sensor1', 'norole')).output, 'addClientRole: Error: Role not found');
    });

    test('createRole + addRoleACL + addClientRole: allowed publishes are delivered, others refused (PUBACK 0x87) and not delivered', async () => {
      const before = await connect('sensor1', 'pw1');
      assert.equal(await pubackCode(before, 'sensors/early'), 0x87, 'no role yet: default publishClientSend is deny');
      const kicked = closed(before);
      for (const args of [
        ['createRole', 'sensors'],
        ['addRoleACL', 'sensors', 'publishClientSend', 'sensors/#', 'allow', '5'],
        ['addRoleACL', 'sensors', 'publishClientSend', 'sensors/secret', 'deny', '10'],
        ['addRoleACL', 'sensors', 'subscribePattern', 'sensors/#', 'allow'],
        ['addRoleACL', 'sensors', 'publishClientReceive', 'sensors/private/#', 'deny'],
        ['addClientRole', 'sensor1', 'sensors'],
      ]) {
        assert.deepEqual(await admin(...args), { code: 0, output: '' }, args.join(' '));
      }
      // Mosquitto kicks a client whose roles changed, so that it subscribes again under the new rules
      assert.equal(await kicked, 0x98);

      const sub = await connect('sensor1', 'pw1');
      const inbox = new Inbox(sub);
      // the SUBACK, whatever its codes
      await new Promise<void>((resolve) => sub.subscribe(['sensors/#', 'other/#'], { qos: 1 }, () => resolve()));
      const pub = await connect('sensor1', 'pw1');
      assert.equal(await pubackCode(pub, 'sensors/t1'), 0);
      assert.equal(await pubackCode(pub, 'sensors/secret'), 0x87, 'the deny of priority 10 comes before the allow of priority 5');
      assert.equal(await pubackCode(pub, 'other/t'), 0x87);
      assert.equal(await pubackCode(pub, 'sensors/private/x'), 0, 'publishing is allowed…');
      assert.equal(await pubackCode(pub, 'sensors/t2'), 0);
      await inbox.waitFor(2);
      await inbox.expectNone(300);
      assert.deepEqual(inbox.messages.map((m) => m.topic), ['sensors/t1', 'sensors/t2'], '…but receiving sensors/private/x is not');
    });

    test('a client without the admin role cannot use $CONTROL: its request is refused and changes nothing', async () => {
      const r = await ctrl(ports[ports.length - 1]!, 'sensor1', 'pw1', 'createClient', 'intruder', '-p', 'x');
      assert.match(r.output, /Subscribe error: Not authorized/);
      const c = await connect('sensor1', 'pw1');
      const request = JSON.stringify({ commands: [{ command: 'createClient', username: 'intruder', password: 'x' }] });
      assert.equal(await pubackCode(c, '$CONTROL/dynamic-security/v1'), 0x87);
      await c.publishAsync('$CONTROL/dynamic-security/v1', request, { qos: 0 });
      assert.equal((await admin('getClient', 'intruder')).output, 'getClient: Error: Client not found');
      assert.equal(await connackCode('intruder', 'x'), 0x87);
    });

    test('setClientPassword: the connected client is kicked, the old password stops working, the new one works', async () => {
      const c = await connect('sensor1', 'pw1');
      const kicked = closed(c);
      assert.deepEqual(await admin('setClientPassword', 'sensor1', 'pw2'), { code: 0, output: '' });
      assert.equal(await kicked, 0x98);
      assert.equal(await connackCode('sensor1', 'pw1'), 0x87);
      assert.equal(await connackCode('sensor1', 'pw2'), 0);
    });

    test('disableClient kicks the connected client (DISCONNECT 0x98, no will) and refuses new connections; enableClient lets it back', async () => {
      const watcher = await connect('admin', 'secret');
      const inbox = new Inbox(watcher);
      await watcher.subscribeAsync('sensors/#', { qos: 1 });
      const c = await h.connect(clientUrl(), {
        protocolVersion: 5,
        username: 'sensor1',
        password: 'pw2',
        clientId: uniqueId('sensor1'),
        will: { topic: 'sensors/will', payload: Buffer.from('gone'), qos: 1, retain: false },
      });
      const kicked = closed(c);
      assert.deepEqual(await admin('disableClient', 'sensor1'), { code: 0, output: '' });
      assert.equal(await kicked, 0x98);
      assert.equal(await connackCode('sensor1', 'pw2'), 0x87);
      await inbox.expectNone(300);
      assert.deepEqual(await admin('enableClient', 'sensor1'), { code: 0, output: '' });
      assert.equal(await connackCode('sensor1', 'pw2'), 0);
    });

    test('setDefaultACLAccess publishClientSend allow: a topic no role matches becomes publishable', async () => {
      const c = await connect('sensor1', 'pw2');
      assert.equal(await pubackCode(c, 'anywhere/t'), 0x87);
      assert.deepEqual(await admin('setDefaultACLAccess', 'publishClientSend', 'allow'), { code: 0, output: '' });
      assert.match((await admin('getDefaultACLAccess')).output, /publishClientSend\s+: allow/);
      assert.equal(await pubackCode(c, 'anywhere/t'), 0);
      assert.equal(await pubackCode(c, 'sensors/secret'), 0x87, 'an explicit deny still wins');
      assert.equal(await pubackCode(c, '$CONTROL/dynamic-security/v1'), 0x87, 'the default never opens $CONTROL');
    });

    test('deleteClient kicks the client and refuses it afterwards', async () => {
      assert.deepEqual(await admin('createClient', 'temp', '-p', 'tpw'), { code: 0, output: '' });
      const c = await connect('temp', 'tpw');
      const kicked = closed(c);
      assert.deepEqual(await admin('deleteClient', 'temp'), { code: 0, output: '' });
      assert.equal(await kicked, 0x98);
      assert.equal(await connackCode('temp', 'tpw'), 0x87);
    });

    test('the file on disk holds every change, and a restarted broker loads it', async () => {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { clients: { username: string; roles: { rolename: string }[] }[]; defaultACLAccess: Record<string, boolean> };
      assert.deepEqual(saved.clients.map((c) => c.username), ['admin', 'sensor1']);
      assert.deepEqual(saved.clients[1]!.roles, [{ rolename: 'sensors' }]);
      assert.equal(saved.defaultACLAccess.publishClientSend, true);
      await broker.stop();
      await start();
      assert.equal(await connackCode('sensor1', 'pw2'), 0);
      assert.equal(await connackCode('sensor1', 'pw1'), 0x87);
      const c = await connect('sensor1', 'pw2');
      assert.equal(await pubackCode(c, 'sensors/secret'), 0x87);
      assert.equal(await pubackCode(c, 'sensors/ok'), 0);
      assert.match((await admin('listClients')).output, /^admin\nsensor1$/);
    });

    test('the real Mosquitto with its plugin loads the file culex wrote: same users, same passwords, same rules', { skip: mosquittoSkip }, async () => {
      const copy = join(tmp.dir, 'for-mosquitto.json');
      copyFileSync(file, copy);
      const port = await freePort();
      const conf = join(tmp.dir, 'mosquitto.conf');
      writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous false\nuser root\nplugin ${PLUGIN}\nplugin_opt_config_file ${copy}\n`);
      const proc = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore' });
      try {
        await waitForPort(port);
        assert.match((await ctrl(port, 'admin', 'secret', 'getClient', 'sensor1')).output, /^Username: sensor1\n.*\nRoles: +sensors/s);
        const c = await h.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, username: 'sensor1', password: 'pw2' });
        assert.equal(await pubackCode(c, 'sensors/secret'), 0x87);
        assert.equal(await pubackCode(c, 'anywhere/t'), 0);
        c.end(true);
      } finally {
        proc.kill('SIGKILL');
      }
    });
  });
}

suite(1);
suite(4);

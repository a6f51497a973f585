/**
 * check_retain_source, as Mosquitto 2.0.11 does it (retain.c retain__process): a retained message
 * goes to a new subscription only while the client that published it may still publish it —
 * username, client id and the listener it came in through, checked against the ACL in force now.
 * Off unless the configuration says `check_retain_source true` (Mosquitto's manual says true is
 * the default, but 2.0 never sets it: the zeroed config leaves it false).
 *
 * Each case runs against the real Mosquitto and against culex (1 and 2 workers, processes with
 * their own configuration): the ACL is edited and SIGHUP sent, then the broker restarted on its
 * store, or a role removed with mosquitto_ctrl, and each time new subscribers must get exactly
 * what Mosquitto's get.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { culexOnly, freePort, startCli, startMosquittoCli, tempDir, type CliProcess } from '../helpers/broker.ts';
import { untilListening } from '../helpers/brokerProcess.ts';
import { ctrl, ctrlSkip, DYNSEC_PLUGIN, mosquittoDynsecSkip } from '../helpers/mosquittoCtrl.ts';
import { Harness, Inbox, pubackCode, publish, sleep, subscribe, uniqueId, type MqttClient } from '../helpers/clients.ts';

const haveMosquitto = spawnSync('/usr/sbin/mosquitto', ['-h']).error === undefined;
const kinds = [
  { name: 'Mosquitto 2.0.11', workers: 0, skip: haveMosquitto ? false : 'mosquitto not installed (apt-get install mosquitto)' },
  { name: 'culex, 1 worker', workers: 1, skip: culexOnly },
  { name: 'culex, 2 workers', workers: 2, skip: culexOnly },
] as const;

for (const kind of kinds) {
  describe(`check_retain_source: ${kind.name}`, { skip: kind.skip }, () => {
    const h = new Harness();
    const tmp = tempDir('culex-retain-source-');
    let broker: CliProcess | undefined;
    after(async () => {
      await h.teardown();
      broker?.kill();
      tmp.cleanup();
    });

    /** Starts the broker of this kind on `lines` (plus persistence in `dir`) and waits for `ports`. */
    const start = async (dir: string, lines: readonly string[], ports: readonly number[]): Promise<void> => {
      const conf = join(dir, 'broker.conf');
      // user root: Mosquitto started as root keeps access to the test's temporary files
      const own = kind.workers === 0 ? ['log_dest stderr', 'log_type all', 'user root'] : [`workers ${kind.workers}`];
      writeFileSync(conf, [...lines, 'persistence true', `persistence_location ${join(dir, 'data')}/`, ...own].join('\n') + '\n');
      broker = kind.workers === 0 ? startMosquittoCli(conf) : startCli(['-c', conf], dir);
      for (const port of ports) await untilListening(broker, port);
    };
    /** Stops the broker cleanly (Mosquitto writes its database then) and starts it again on the same files. */
    const restart = async (dir: string, ports: readonly number[]): Promise<void> => {
      const old = broker!;
      old.proc.kill('SIGTERM');
      assert.equal((await old.exit).code, 0, old.output());
      broker = kind.workers === 0 ? startMosquittoCli(join(dir, 'broker.conf')) : startCli(['-c', join(dir, 'broker.conf')], dir);
      for (const port of ports) await untilListening(broker, port);
    };
    /** every user's password is `pw-USER` (dynamic security checks it; without a password file any goes) */
    const connect = (port: number, username: string): Promise<MqttClient> =>
      h.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: uniqueId(username), username, password: `pw-${username}` });
    /**
     * The retained topics that new subscribers to `sensors/#` get, sorted: three of them, so that
     * with several workers some land on a worker other than the publishers'.
     */
    const retainedFor = async (port: number, username: string): Promise<string[][]> => {
      const got: string[][] = [];
      for (let i = 0; i < 3; i++) {
        const c = await connect(port, username);
        const inbox = new Inbox(c);
        await subscribe(c, 'sensors/#', { qos: 1 });
        // the retained messages are sent with the SUBACK; a message sent after them marks their end
        const marker = await connect(port, 'carol');
        await publish(marker, 'sensors/end', 'end', { qos: 1 });
        await inbox.waitFor(1);
        while (!inbox.messages.some((m) => m.topic === 'sensors/end')) await inbox.waitFor(inbox.messages.length + 1);
        got.push(inbox.messages.filter((m) => m.packet.retain).map((m) => m.topic).sort());
        c.end(true);
        marker.end(true);
      }
      return got;
    };
    /** SIGHUP, then waits until the new ACL is in force: alice's publishes are refused (v5 0x87). */
    const reloadUntilAliceRefused = async (port: number): Promise<void> => {
      broker!.proc.kill('SIGHUP');
      const alice = await connect(port, 'alice');
      const deadline = Date.now() + 15000;
      while ((await pubackCode(alice, 'sensors/probe')) !== 0x87) {
        if (Date.now() > deadline) throw new Error(`the ACL was not reloaded:\n${broker!.output()}`);
        await sleep(50);
      }
      alice.end(true);
    };

    for (const setting of ['true', 'false', undefined] as const) {
      const named = setting === undefined ? 'not set (false, as Mosquitto 2.0 does)' : setting;
      const expectAfter = setting === 'true' ? ['sensors/c'] : ['sensors/a', 'sensors/c'];
      test(`check_retain_source ${named}: once alice may no longer publish sensors/#, ${setting === 'true' ? 'her retained message is withheld from new subscribers, also after a restart' : 'her retained message is still sent'}`, async () => {
        const dir = join(tmp.dir, `case-${setting ?? 'unset'}`);
        spawnSync('mkdir', ['-p', join(dir, 'data')]);
        const port = await freePort();
        const acl = join(dir, 'acl');
        writeFileSync(acl, 'user alice\ntopic write sensors/#\nuser carol\ntopic write sensors/#\nuser bob\ntopic read sensors/#\n');
        await start(dir, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', `acl_file ${acl}`,
          ...(setting === undefined ? [] : [`check_retain_source ${setting}`])], [port]);
        const alice = await connect(port, 'alice');
        const carol = await connect(port, 'carol');
        await publish(alice, 'sensors/a', 'from alice', { qos: 1, retain: true });
        await publish(carol, 'sensors/c', 'from carol', { qos: 1, retain: true });
        alice.end(true);
        carol.end(true);
        assert.deepEqual(await retainedFor(port, 'bob'), [['sensors/a', 'sensors/c'], ['sensors/a', 'sensors/c'], ['sensors/a', 'sensors/c']]);

        writeFileSync(acl, 'user alice\ntopic read sensors/#\nuser carol\ntopic write sensors/#\nuser bob\ntopic read sensors/#\n');
        await reloadUntilAliceRefused(port);
        assert.deepEqual(await retainedFor(port, 'bob'), [expectAfter, expectAfter, expectAfter]);

        await h.closeClients();
        await restart(dir, [port]);
        assert.deepEqual(await retainedFor(port, 'bob'), [expectAfter, expectAfter, expectAfter], 'after a restart on the store');
        await h.closeClients();
        broker!.proc.kill('SIGTERM');
        await broker!.exit;
      });
    }

    test('dynamic security: once mosquitto_ctrl removes the role that let alice publish sensors/#, her retained message is withheld', { skip: ctrlSkip || (kind.workers === 0 && mosquittoDynsecSkip) }, async () => {
      const dir = join(tmp.dir, 'dynsec');
      spawnSync('mkdir', ['-p', join(dir, 'data')]);
      const file = join(dir, 'dynamic-security.json');
      assert.equal(spawnSync('mosquitto_ctrl', ['dynsec', 'init', file, 'admin', 'pw-admin']).status, 0);
      const port = await freePort();
      await start(dir, [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `plugin ${DYNSEC_PLUGIN}`, `plugin_opt_config_file ${file}`, 'check_retain_source true'], [port]);
      const admin = async (...args: string[]): Promise<void> => {
        const r = await ctrl(port, 'admin', 'pw-admin', ...args);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.output}`);
      };
      await admin('createRole', 'writer');
      await admin('addRoleACL', 'writer', 'publishClientSend', 'sensors/#', 'allow');
      await admin('createRole', 'reader');
      await admin('addRoleACL', 'reader', 'subscribePattern', 'sensors/#', 'allow');
      for (const [user, role] of [['alice', 'writer'], ['carol', 'writer'], ['bob', 'reader']] as const) {
        await admin('createClient', user, '-p', `pw-${user}`);
        await admin('addClientRole', user, role);
      }
      const alice = await connect(port, 'alice');
      const carol = await connect(port, 'carol');
      await publish(alice, 'sensors/a', 'from alice', { qos: 1, retain: true });
      await publish(carol, 'sensors/c', 'from carol', { qos: 1, retain: true });
      await h.closeClients();
      assert.deepEqual(await retainedFor(port, 'bob'), [['sensors/a', 'sensors/c'], ['sensors/a', 'sensors/c'], ['sensors/a', 'sensors/c']]);
      await admin('removeClientRole', 'alice', 'writer');
      assert.deepEqual(await retainedFor(port, 'bob'), [['sensors/c'], ['sensors/c'], ['sensors/c']]);
      await h.closeClients();
      broker!.proc.kill('SIGTERM');
      await broker!.exit;
    });

    test('per_listener_settings: the publisher is checked against the ACL of the listener it published through, also after a restart', async () => {
      const dir = join(tmp.dir, 'per-listener');
      spawnSync('mkdir', ['-p', join(dir, 'data')]);
      const [inPort, outPort] = [await freePort(), await freePort()];
      const aclIn = join(dir, 'acl-in');
      const aclOut = join(dir, 'acl-out');
      // alice may publish through the first listener only; bob reads through the second
      writeFileSync(aclIn, 'user alice\ntopic write sensors/#\nuser carol\ntopic write sensors/#\n');
      writeFileSync(aclOut, 'user bob\ntopic read sensors/#\nuser carol\ntopic write sensors/#\n');
      await start(dir, ['per_listener_settings true', 'check_retain_source true',
        `listener ${inPort} 127.0.0.1`, 'allow_anonymous true', `acl_file ${aclIn}`,
        `listener ${outPort} 127.0.0.1`, 'allow_anonymous true', `acl_file ${aclOut}`], [inPort, outPort]);
      const alice = await connect(inPort, 'alice');
      await publish(alice, 'sensors/a', 'from alice', { qos: 1, retain: true });
      alice.end(true);
      assert.deepEqual(await retainedFor(outPort, 'bob'), [['sensors/a'], ['sensors/a'], ['sensors/a']]);
      await h.closeClients();
      await restart(dir, [inPort, outPort]);
      assert.deepEqual(await retainedFor(outPort, 'bob'), [['sensors/a'], ['sensors/a'], ['sensors/a']], 'after a restart on the store');
      await h.closeClients();
      broker!.proc.kill('SIGTERM');
      await broker!.exit;
    });
  });
}

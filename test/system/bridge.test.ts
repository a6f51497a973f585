/**
 * Bridges (Mosquitto `connection` blocks) between real brokers: culex and the real Mosquitto
 * 2.0.11 (/usr/sbin/mosquitto) in both directions at 3.1.1 and 5.0, topic prefix remapping,
 * remote credentials, TLS with a client certificate, the state notifications, culex ↔ culex
 * without loops, a remote that goes away and comes back, and kill -9 of culex while QoS 1
 * messages flow out.
 */
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import mqtt from 'mqtt';
import { parseConfig } from '../../src/config/load.ts';
import type { BridgeConfig } from '../../src/config/types.ts';
import { freePort, startCli, startMosquittoCli, tempDir, waitForPort, writePasswordFile, type CliProcess } from '../helpers/broker.ts';
import { Harness, Inbox, sleep, uniqueId, type MqttClient } from '../helpers/clients.ts';
import { brokerDir, cleanupBrokerProcesses, startBrokerProcess } from '../helpers/brokerProcess.ts';
import { makePki } from '../helpers/certs.ts';

const hasMosquitto = spawnSync('/usr/sbin/mosquitto', ['-h']).error === undefined;
const skip = hasMosquitto ? false : 'mosquitto not installed';

interface Mosquitto {
  readonly port: number;
  readonly url: string;
  /** SIGSTOP / SIGCONT: a remote that stops answering without closing its sockets */
  pause(paused: boolean): void;
  stop(): Promise<void>;
  /** its log (stderr) so far */
  log(): string;
}

const mosquittos = new Set<Mosquitto>();
const cleanups: (() => void)[] = [];

/** Starts /usr/sbin/mosquitto with a listener on `port` (a free one by default) and `lines`. */
async function startMosquitto(lines: readonly string[] = ['allow_anonymous true'], port?: number, dir?: string): Promise<Mosquitto> {
  const p = port ?? (await freePort());
  let d = dir;
  if (d === undefined) {
    const tmp = tempDir('culex-bridge-mosq-');
    cleanups.push(tmp.cleanup);
    d = tmp.dir;
  }
  const conf = path.join(d, 'mosquitto.conf');
  writeFileSync(conf, [`listener ${p} 127.0.0.1`, 'user root', ...lines].join('\n') + '\n');
  const proc: ChildProcess = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'], cwd: d });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await Promise.race([waitForPort(p), exited.then(() => { throw new Error(`mosquitto exited: ${stderr}`); })]);
  const m: Mosquitto = {
    port: p,
    url: `mqtt://127.0.0.1:${p}`,
    pause: (paused) => { proc.kill(paused ? 'SIGSTOP' : 'SIGCONT'); },
    log: () => stderr,
    stop: async () => {
      proc.kill('SIGCONT');
      mosquittos.delete(m);
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
  mosquittos.add(m);
  return m;
}

/** The BridgeConfig of a `connection` block, read as culex reads mosquitto.conf. */
function bridgesOf(lines: readonly string[]): readonly BridgeConfig[] {
  return parseConfig(['listener 0 127.0.0.1', ...lines].join('\n') + '\n', 'bridge.conf').config.bridges!;
}

function bridgeBlock(port: number, extra: readonly string[]): string[] {
  return ['connection b1', `address 127.0.0.1:${port}`, `remote_clientid ${uniqueId('bridge')}`, 'restart_timeout 1', ...extra];
}

const h = new Harness();
afterEach(async () => {
  await h.teardown();
  await Promise.all([...mosquittos].map((m) => m.stop()));
});
after(() => {
  cleanupBrokerProcesses();
  for (const c of cleanups) c();
});

/** Waits for the retained state `payload` on `topic` of the broker at `url`. */
async function waitState(url: string, topic: string, payload: string, timeoutMs = 10000): Promise<void> {
  const c = await h.connect(url);
  const inbox = new Inbox(c);
  await c.subscribeAsync(topic);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (inbox.messages.some((m) => m.payload.toString() === payload)) return;
    if (Date.now() > deadline) throw new Error(`${topic} never became ${payload}: ${inbox.messages.map((m) => m.payload.toString()).join(',')}`);
    await sleep(50);
  }
}

/** Subscribes `client` and waits until a probe published by `probe` to `probeTopic` arrives (the bridge's subscriptions are in place). */
async function settled(client: MqttClient, probe: MqttClient, probeTopic: string, arrivesAs = probeTopic): Promise<void> {
  const inbox = new Inbox(client);
  for (let i = 0; i < 100; i++) {
    await probe.publishAsync(probeTopic, 'probe', { qos: 1 });
    await sleep(100);
    if (inbox.messages.some((m) => m.topic === arrivesAs)) return;
  }
  throw new Error('the bridge never carried the probe');
}

/**
 * `sub` subscribes to `prefix/#`; once a probe from `pub` crosses the bridge, `pub` sends 20 QoS 1
 * messages `<tag><i>` on `prefix/x`: the payloads `sub` got on that topic, in arrival order.
 */
async function twentyAcross(sub: MqttClient, pub: MqttClient, prefix: string, tag: string): Promise<string[]> {
  await sub.subscribeAsync(`${prefix}/#`, { qos: 1 });
  await settled(sub, pub, `${prefix}/probe`);
  const inbox = new Inbox(sub);
  for (let i = 0; i < 20; i++) await pub.publishAsync(`${prefix}/x`, `${tag}${i}`, { qos: 1 });
  const got = await inbox.waitFor(20);
  return got.filter((m) => m.topic === `${prefix}/x`).map((m) => m.payload.toString());
}

describe('bridges to the real Mosquitto 2.0.11', { skip }, () => {
  for (const version of ['mqttv31', 'mqttv311', 'mqttv50'] as const) {
    test(`${version}: \`topic # out 1\` carries culex's messages to Mosquitto, \`in\` carries Mosquitto's to culex`, async () => {
      const remote = await startMosquitto();
      const local = await h.broker({
        bridges: bridgesOf(bridgeBlock(remote.port, [`bridge_protocol_version ${version}`, 'topic up/# out 1', 'topic down/# in 1'])),
      });
      const up = await twentyAcross(await h.connect(remote.url), await h.connect(local.url), 'up', 'm');
      assert.deepEqual(up, Array.from({ length: 20 }, (_, i) => `m${i}`));
      const down = await twentyAcross(await h.connect(local.url), await h.connect(remote.url), 'down', 'n');
      assert.deepEqual(down, Array.from({ length: 20 }, (_, i) => `n${i}`));
      // per-bridge counters (on /metrics as culex_bridge_b1_messages_out_total …)
      const stats = await local.stats();
      assert.ok(stats.bridge_b1_messagesOut! >= 20 && stats.bridge_b1_messagesIn! >= 20 && stats.bridge_b1_connects === 1, JSON.stringify(stats));
      assert.equal(stats.bridge_b1_up, 1, 'connected');
      assert.equal(stats.bridge_b1_queued, 0, 'the remote acknowledged everything');
    });
  }

  test('topic prefixes are remapped as Mosquitto does (local-prefix / remote-prefix), both directions', async () => {
    const remote = await startMosquitto();
    const local = await h.broker({
      bridges: bridgesOf(bridgeBlock(remote.port, ['topic sensors/# out 1 site/ cloud/site1/', 'topic cmd/# in 1 local/ cloud/site1/'])),
    });
    const remoteSub = await h.connect(remote.url);
    await remoteSub.subscribeAsync('cloud/#', { qos: 1 });
    const localPub = await h.connect(local.url);
    await settled(remoteSub, localPub, 'site/sensors/probe', 'cloud/site1/sensors/probe');
    const up = new Inbox(remoteSub);
    await localPub.publishAsync('site/sensors/t1', '21.5', { qos: 1 });
    await localPub.publishAsync('site/other', 'not bridged', { qos: 1 });
    const [m] = await up.waitFor(1);
    assert.equal(m!.topic, 'cloud/site1/sensors/t1');
    assert.equal(m!.payload.toString(), '21.5');

    const localSub = await h.connect(local.url);
    await localSub.subscribeAsync('local/#', { qos: 1 });
    const remotePub = await h.connect(remote.url);
    await settled(localSub, remotePub, 'cloud/site1/cmd/probe', 'local/cmd/probe');
    const down = new Inbox(localSub);
    await remotePub.publishAsync('cloud/site1/cmd/reboot', 'now', { qos: 1 });
    const [d] = await down.waitFor(1);
    assert.equal(d!.topic, 'local/cmd/reboot');
    await sleep(200);
    assert.ok(!up.messages.some((x) => x.topic.includes('other')), 'a topic no line maps is not bridged');
  });

  test('remote_username / remote_password log in to a Mosquitto that refuses anonymous clients', async () => {
    const tmp = tempDir('culex-bridge-auth-');
    cleanups.push(tmp.cleanup);
    const passwd = writePasswordFile(tmp.dir, { edge: 's3cret' });
    const remote = await startMosquitto(['allow_anonymous false', `password_file ${passwd}`], undefined, tmp.dir);
    const id = uniqueId('bridge');
    const local = await h.broker({
      bridges: bridgesOf(['connection auth', `address 127.0.0.1:${remote.port}`, `remote_clientid ${id}`, 'remote_username edge', 'remote_password s3cret', 'restart_timeout 1', 'topic a/# out 1']),
    });
    await waitState(remote.url.replace('mqtt://', 'mqtt://edge:s3cret@'), `$SYS/broker/connection/${id}/state`, '1');
    await waitState(local.url, `$SYS/broker/connection/${id}/state`, '1');
  });

  test('a remote that refuses the bridge (wrong remote_password): culex logs Mosquitto\'s lines, "Connecting bridge NAME (HOST:PORT)" and "Connection Refused: not authorised", as a Mosquitto bridge does', async () => {
    const tmp = tempDir('culex-bridge-refused-');
    cleanups.push(tmp.cleanup);
    const passwd = writePasswordFile(tmp.dir, { edge: 's3cret' });
    const remote = await startMosquitto(['allow_anonymous false', `password_file ${passwd}`], undefined, tmp.dir);
    const lines = async (start: (conf: string) => CliProcess, extra: string[]): Promise<string[]> => {
      const conf = path.join(tmp.dir, `local-${extra.length}.conf`);
      writeFileSync(conf, [`listener ${await freePort()} 127.0.0.1`, 'allow_anonymous true', 'log_dest stderr', ...extra,
        'connection refused', `address 127.0.0.1:${remote.port}`, `remote_clientid ${uniqueId('refused')}`, 'remote_username edge',
        'remote_password wrong', 'restart_timeout 1', 'topic a/# out 1', ''].join('\n'));
      const broker = start(conf);
      try {
        const deadline = Date.now() + 15_000;
        while (!broker.output().includes('Connection Refused')) {
          assert.ok(Date.now() < deadline, `no refusal logged:\n${broker.output()}`);
          await sleep(100);
        }
        // Debian's Mosquitto (built with asynchronous name lookups) logs "Connecting bridge (step 1) …"
        // and "(step 2) …" where its plain build logs "Connecting bridge …" once, as culex does
        const found = broker.output().split('\n').map((l) => l.replace(/^\d+: /, '').replace(/^Connecting bridge \(step \d\) /, 'Connecting bridge '))
          .filter((l) => /^(Connecting bridge|Connection Refused)/.test(l));
        return found.filter((l, i) => l !== found[i - 1]).slice(0, 2);
      } finally {
        broker.kill();
        await broker.exit;
      }
    };
    const expected = await lines((conf) => startMosquittoCli(conf), ['user root']);
    assert.deepEqual(expected, [`Connecting bridge refused (127.0.0.1:${remote.port})`, 'Connection Refused: not authorised']);
    assert.deepEqual(await lines((conf) => startCli(['-c', conf], tmp.dir), []), expected);
  });

  test('$SYS/broker/connection/<remote_clientid>/state: 1 on both brokers while connected; 0 locally when the remote goes, 0 on the remote (the will) when culex stops', async () => {
    const remote = await startMosquitto();
    const id = uniqueId('bridge');
    const topic = `$SYS/broker/connection/${id}/state`;
    const local = await h.broker({ bridges: bridgesOf(['connection n', `address 127.0.0.1:${remote.port}`, `remote_clientid ${id}`, 'restart_timeout 1', 'topic a/# out 0']) });
    await waitState(remote.url, topic, '1');
    await waitState(local.url, topic, '1');
    await local.stop();
    await waitState(remote.url, topic, '0');

    const other = await startMosquitto();
    const local2 = await h.broker({ bridges: bridgesOf(['connection n', `address 127.0.0.1:${other.port}`, `remote_clientid ${id}`, 'restart_timeout 1', 'topic a/# out 0']) });
    await waitState(local2.url, topic, '1');
    await other.stop();
    await waitState(local2.url, topic, '0');
  });

  test('the remote goes away: QoS 1 messages queue in culex and all arrive once it is back (persistent remote session)', async () => {
    const port = await freePort();
    const tmp = tempDir('culex-bridge-restart-');
    cleanups.push(tmp.cleanup);
    let remote = await startMosquitto(['allow_anonymous true', 'persistence true', `persistence_location ${tmp.dir}/`], port, tmp.dir);
    const local = await h.broker({ bridges: bridgesOf(bridgeBlock(port, ['cleansession false', 'topic q/# out 1'])) });
    const subId = uniqueId('sub');
    const remoteSub = await h.connect(remote.url, { clientId: subId, clean: false });
    await remoteSub.subscribeAsync('q/#', { qos: 1 });
    const pub = await h.connect(local.url);
    await settled(remoteSub, pub, 'q/probe');
    remoteSub.end(true);
    await remote.stop();
    for (let i = 0; i < 50; i++) await pub.publishAsync('q/x', `${i}`, { qos: 1 });
    remote = await startMosquitto(['allow_anonymous true', 'persistence true', `persistence_location ${tmp.dir}/`], port, tmp.dir);
    const back = h.client(remote.url, { clientId: subId, clean: false }); // listening before CONNACK: stored messages may share its read
    const inbox = new Inbox(back);
    await inbox.waitFor(50, 20000);
    const got = new Set(inbox.messages.filter((m) => m.topic === 'q/x').map((m) => m.payload.toString()));
    for (let i = 0; i < 50; i++) assert.ok(got.has(`${i}`), `message ${i} arrived`);
  });

  test('local_cleansession true: nothing is kept for the remote while it is away (Mosquitto drops it)', async () => {
    const port = await freePort();
    const tmp = tempDir('culex-bridge-clean-');
    cleanups.push(tmp.cleanup);
    const conf = ['allow_anonymous true', 'persistence true', `persistence_location ${tmp.dir}/`];
    let remote = await startMosquitto(conf, port, tmp.dir);
    const local = await h.broker({ bridges: bridgesOf(bridgeBlock(port, ['local_cleansession true', 'topic q/# out 1'])) });
    const subId = uniqueId('sub');
    const remoteSub = await h.connect(remote.url, { clientId: subId, clean: false });
    await remoteSub.subscribeAsync('q/#', { qos: 1 });
    const pub = await h.connect(local.url);
    await settled(remoteSub, pub, 'q/probe');
    remoteSub.end(true);
    await remote.stop();
    await waitState(local.url, `$SYS/broker/connection/${local.config.bridges![0]!.remoteClientId}/state`, '0');
    for (let i = 0; i < 5; i++) await pub.publishAsync('q/x', `away${i}`, { qos: 1 });
    remote = await startMosquitto(conf, port, tmp.dir);
    const back = h.client(remote.url, { clientId: subId, clean: false }); // listening before CONNACK: stored messages may share its read
    const inbox = new Inbox(back);
    await settled(back, pub, 'q/probe');
    await pub.publishAsync('q/x', 'after', { qos: 1 });
    await sleep(300);
    const got = inbox.messages.filter((m) => m.topic === 'q/x').map((m) => m.payload.toString());
    assert.deepEqual(got, ['after']);
  });

  test('max_queued_messages bounds what waits for an absent remote; the drops are counted', async () => {
    const port = await freePort();
    const tmp = tempDir('culex-bridge-limit-');
    cleanups.push(tmp.cleanup);
    const conf = ['allow_anonymous true', 'persistence true', `persistence_location ${tmp.dir}/`];
    let remote = await startMosquitto(conf, port, tmp.dir);
    const local = await h.broker({ maxQueuedMessages: 10, bridges: bridgesOf(bridgeBlock(port, ['topic q/# out 1'])) });
    const subId = uniqueId('sub');
    const remoteSub = await h.connect(remote.url, { clientId: subId, clean: false });
    await remoteSub.subscribeAsync('q/#', { qos: 1 });
    const pub = await h.connect(local.url);
    await settled(remoteSub, pub, 'q/probe');
    remoteSub.end(true);
    await remote.stop();
    await waitState(local.url, `$SYS/broker/connection/${local.config.bridges![0]!.remoteClientId}/state`, '0');
    const before = (await local.stats()).messagesDroppedQueueFull ?? 0;
    for (let i = 0; i < 30; i++) await pub.publishAsync('q/x', `${i}`, { qos: 1 });
    const stats = await local.stats();
    assert.equal((stats.messagesDroppedQueueFull ?? 0) - before, 20);
    assert.equal(stats.bridge_b1_dropped, 20, 'counted for the bridge too');
    assert.equal(stats.bridge_b1_queued, 10);
    remote = await startMosquitto(conf, port, tmp.dir);
    const back = h.client(remote.url, { clientId: subId, clean: false }); // listening before CONNACK: stored messages may share its read
    const inbox = new Inbox(back);
    await inbox.waitFor(10, 15000);
    await sleep(300);
    assert.deepEqual(inbox.messages.filter((m) => m.topic === 'q/x').map((m) => m.payload.toString()), Array.from({ length: 10 }, (_, i) => `${i}`));
  });

  test('address A B: an unreachable first address fails over to the next one', async () => {
    const dead = await freePort();
    const remote = await startMosquitto();
    const id = uniqueId('bridge');
    const local = await h.broker({
      bridges: bridgesOf(['connection f', `address 127.0.0.1:${dead} 127.0.0.1:${remote.port}`, `remote_clientid ${id}`, 'restart_timeout 1', 'topic a/# out 1']),
    });
    await waitState(local.url, `$SYS/broker/connection/${id}/state`, '1');
    await waitState(remote.url, `$SYS/broker/connection/${id}/state`, '1');
  });

  test('start_type lazy: connects once `threshold` messages wait, and leaves after `idle_timeout` without traffic', async () => {
    const remote = await startMosquitto();
    const id = uniqueId('bridge');
    const state = `$SYS/broker/connection/${id}/state`;
    const local = await h.broker({
      bridges: bridgesOf(['connection lazy', `address 127.0.0.1:${remote.port}`, `remote_clientid ${id}`, 'start_type lazy', 'threshold 3', 'idle_timeout 2', 'topic z/# out 1']),
    });
    const remoteSub = await h.connect(remote.url);
    const inbox = new Inbox(remoteSub);
    await remoteSub.subscribeAsync('z/#', { qos: 1 });
    const pub = await h.connect(local.url);
    for (let i = 0; i < 2; i++) await pub.publishAsync('z/x', `${i}`, { qos: 1 });
    await sleep(1500);
    assert.equal(inbox.messages.length, 0, 'below the threshold the bridge stays down');
    await pub.publishAsync('z/x', '2', { qos: 1 });
    await inbox.waitFor(3);
    assert.deepEqual(inbox.messages.map((m) => m.payload.toString()), ['0', '1', '2']);
    await waitState(local.url, state, '1');
    await sleep(4500);
    const watcher = await h.connect(local.url);
    const seen = new Inbox(watcher);
    await watcher.subscribeAsync(state);
    const [last] = await seen.waitFor(1);
    assert.equal(last!.payload.toString(), '0', 'idle for idle_timeout: disconnected');
  });

  test('bridge_max_packet_size: a larger message from the remote is acknowledged and not routed', async () => {
    const remote = await startMosquitto();
    const local = await h.broker({ bridges: bridgesOf(bridgeBlock(remote.port, ['bridge_max_packet_size 200', 'topic big/# in 1'])) });
    const localSub = await h.connect(local.url);
    await localSub.subscribeAsync('big/#', { qos: 1 });
    const remotePub = await h.connect(remote.url);
    await settled(localSub, remotePub, 'big/probe');
    const inbox = new Inbox(localSub);
    await remotePub.publishAsync('big/x', Buffer.alloc(500), { qos: 1 });
    await remotePub.publishAsync('big/x', 'small', { qos: 1 });
    await inbox.waitFor(1);
    await sleep(200);
    assert.deepEqual(inbox.messages.filter((m) => m.topic === 'big/x').map((m) => m.payload.toString()), ['small']);
  });

  test('round_robin false: connected to a backup address, the bridge returns to the primary once it answers', async () => {
    const primaryPort = await freePort();
    const backup = await startMosquitto();
    const id = uniqueId('bridge');
    const state = `$SYS/broker/connection/${id}/state`;
    await h.broker({
      bridges: bridgesOf(['connection rr', `address 127.0.0.1:${primaryPort} 127.0.0.1:${backup.port}`, `remote_clientid ${id}`, 'restart_timeout 1', 'topic a/# out 1']),
    });
    await waitState(backup.url, state, '1');
    const primary = await startMosquitto(['allow_anonymous true'], primaryPort);
    await waitState(primary.url, state, '1', 20000);
  });

  test('TLS to the remote with a client certificate (bridge_cafile / bridge_certfile / bridge_keyfile)', async () => {
    const tmp = tempDir('culex-bridge-tls-');
    cleanups.push(tmp.cleanup);
    const pki = makePki(tmp.dir, { bridge: '/CN=edge-bridge' });
    const remote = await startMosquitto([
      'allow_anonymous true', `cafile ${pki.cafile}`, `certfile ${pki.server.certfile}`, `keyfile ${pki.server.keyfile}`,
      'require_certificate true', 'use_identity_as_username true',
    ], undefined, tmp.dir);
    const id = uniqueId('bridge');
    const local = await h.broker({
      bridges: bridgesOf([
        'connection tls', `address 127.0.0.1:${remote.port}`, `remote_clientid ${id}`, 'restart_timeout 1', 'topic t/# out 1',
        `bridge_cafile ${pki.cafile}`, `bridge_certfile ${pki.clients.bridge!.certfile}`, `bridge_keyfile ${pki.clients.bridge!.keyfile}`,
      ]),
    });
    const sub = mqtt.connect(`mqtts://127.0.0.1:${remote.port}`, { ca: pki.ca, cert: pki.clients.bridge!.cert, key: pki.clients.bridge!.key, reconnectPeriod: 0, clientId: uniqueId() });
    try {
      await new Promise<void>((resolve, reject) => { sub.once('connect', () => resolve()); sub.once('error', reject); });
      await sub.subscribeAsync('t/#', { qos: 1 });
      const pub = await h.connect(local.url);
      await settled(sub, pub, 't/probe');
    } finally {
      sub.end(true);
    }
  });
});

describe('TLS-PSK to the real Mosquitto 2.0.11 (bridge_identity / bridge_psk)', { skip }, () => {
  test('the bridge connects with the identity\'s key (Mosquitto logs the identity as its username) and carries messages; with a wrong key the handshake fails and nothing is connected', async () => {
    const tmp = tempDir('culex-bridge-psk-');
    cleanups.push(tmp.cleanup);
    const keys = path.join(tmp.dir, 'psk');
    writeFileSync(keys, 'edge:0123456789\n');
    const pskPort = await freePort();
    const remote = await startMosquitto([
      'allow_anonymous true', `listener ${pskPort} 127.0.0.1`, 'psk_hint remote', 'use_identity_as_username true', `psk_file ${keys}`,
    ], undefined, tmp.dir);
    const block = (name: string, psk: string): string[] => [
      `connection ${name}`, `address 127.0.0.1:${pskPort}`, `remote_clientid ${uniqueId(name)}`, 'restart_timeout 1', 'topic t/# out 1',
      'bridge_identity edge', `bridge_psk ${psk}`,
    ];
    const local = await h.broker({ bridges: bridgesOf(block('good', '0123456789')) });
    const sub = await h.connect(remote.url);
    await sub.subscribeAsync('t/#', { qos: 1 });
    await settled(sub, await h.connect(local.url), 't/probe');
    assert.match(remote.log(), /New bridge connected from 127\.0\.0\.1:\d+ as good\S+ \(.*u'edge'\)/);
    const wrong = await h.broker({ bridges: bridgesOf(block('wrong', '0123456788')) });
    const deadline = Date.now() + 10_000;
    while (!/OpenSSL Error\[0\]: .*binder does not verify|failed: .*binder does not verify/.test(remote.log())) {
      assert.ok(Date.now() < deadline, `Mosquitto never refused the wrong key:\n${remote.log()}`);
      await sleep(100);
    }
    assert.equal((await wrong.stats()).bridge_wrong_up, 0, 'the bridge with the wrong key is not connected');
  });
});

describe('bridge_bind_address', { skip }, () => {
  test('the bridge connects from the address given: the real Mosquitto logs the bridge coming from 127.0.0.2', async () => {
    const remote = await startMosquitto();
    const local = await h.broker({ bridges: bridgesOf(bridgeBlock(remote.port, ['bridge_bind_address 127.0.0.2', 'topic b/# out 1'])) });
    const sub = await h.connect(remote.url);
    await sub.subscribeAsync('b/#', { qos: 1 });
    await settled(sub, await h.connect(local.url), 'b/probe');
    assert.match(remote.log(), /New bridge connected from 127\.0\.0\.2:\d+ as bridge-/);
  });

  test('names on either side are resolved, as by Mosquitto: `address localhost:PORT` reaches the IPv4 listener from 127.0.0.2, `bridge_bind_address localhost` connects from 127.0.0.1', async () => {
    const remote = await startMosquitto();
    const sub = await h.connect(remote.url);
    await sub.subscribeAsync('b/#', { qos: 1 });
    // where `localhost` resolves to ::1 first, the IPv4 bind address still pairs with 127.0.0.1 (Mosquitto listens there only)
    const byName = ['connection b1', `address localhost:${remote.port}`, `remote_clientid ${uniqueId('bridge')}`, 'restart_timeout 1', 'bridge_bind_address 127.0.0.2', 'topic b/# out 1'];
    const first = await h.broker({ bridges: bridgesOf(byName) });
    await settled(sub, await h.connect(first.url), 'b/first');
    assert.match(remote.log(), /New bridge connected from 127\.0\.0\.2:\d+ as bridge-/);
    await first.stop();
    const bindByName = await h.broker({ bridges: bridgesOf(bridgeBlock(remote.port, ['bridge_bind_address localhost', 'topic b/# out 1'])) });
    await settled(sub, await h.connect(bindByName.url), 'b/second');
    assert.match(remote.log(), /New bridge connected from 127\.0\.0\.1:\d+ as bridge-/);
  });
});

describe('try_private', () => {
  test('a remote that refuses the bridge bit (CONNACK 1) is tried again without it, as Mosquitto', async () => {
    const levels: number[] = [];
    const server = net.createServer((socket) => {
      socket.once('data', (connect: Buffer) => {
        // fixed header (1 byte + 1-byte length here), protocol name "MQTT" (2 + 4), then the level
        const level = connect[8]!;
        levels.push(level);
        socket.write(Buffer.from([0x20, 2, 0, (level & 0x80) !== 0 ? 1 : 0]));
        if ((level & 0x80) !== 0) socket.end();
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => server.close());
    const port = (server.address() as net.AddressInfo).port;
    await h.broker({ bridges: bridgesOf(bridgeBlock(port, ['topic a/# out 0'])) });
    const deadline = Date.now() + 10000;
    while (levels.length < 2 && Date.now() < deadline) await sleep(50);
    assert.deepEqual(levels.slice(0, 2), [0x84, 0x04]);
  });
});

/** A remote that is a raw socket: records every packet the bridge writes, as bytes, and lets the test answer. */
async function rawRemote(): Promise<{ port: number; frames: Buffer[]; send(bytes: number[]): void; next(type: number): Promise<Buffer> }> {
  const frames: Buffer[] = [];
  let socket: net.Socket | undefined;
  let pending = Buffer.alloc(0);
  const server = net.createServer((s) => {
    socket = s;
    s.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        // fixed header, then the remaining length (a varint of up to 4 bytes)
        let len = 0;
        let i = 1;
        for (let mul = 1; i < pending.length; i++, mul *= 128) {
          len += (pending[i]! & 0x7f) * mul;
          if ((pending[i]! & 0x80) === 0) break;
        }
        if (i >= pending.length || pending.length < i + 1 + len) break;
        frames.push(pending.subarray(0, i + 1 + len));
        pending = pending.subarray(i + 1 + len);
      }
    });
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => { socket?.destroy(); server.close(); });
  let seen = 0;
  return {
    port: (server.address() as net.AddressInfo).port,
    frames,
    send: (bytes) => socket!.write(Buffer.from(bytes)),
    next: async (type) => {
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(20)) {
        const at = frames.findIndex((f, i) => i >= seen && f[0]! >> 4 === type);
        if (at >= 0) {
          seen = at + 1;
          return frames[at]!;
        }
      }
      throw new Error(`no packet of type ${type} from the bridge; got ${frames.map((f) => f.toString('hex')).join(' ')}`);
    },
  };
}

describe('the wire towards the remote, as Mosquitto 2.0.11 writes it (its test/broker 06 group)', () => {
  const CONNACK_V5 = [0x20, 3, 0, 0, 0];
  for (const clean of [true, false]) {
    test(`v5 CONNECT with cleansession ${clean}: Receive Maximum${clean ? ' only' : ', and Session Expiry 0xFFFFFFFF so that the remote keeps the session (Mosquitto 2.0.11 sends none)'}`, async () => {
      const remote = await rawRemote();
      await h.broker({ bridges: bridgesOf(bridgeBlock(remote.port, ['bridge_protocol_version mqttv50', `cleansession ${clean}`, 'notifications false', 'topic a/# out 0'])) });
      const connect = await remote.next(1);
      // 10 LL 00 04 MQTT 05 flags 00 3c, then the properties
      assert.equal(connect[9], clean ? 0x02 : 0x00);
      const props = connect.subarray(13, 13 + connect[12]!);
      assert.deepEqual([...props], clean ? [0x21, 0x00, 20] : [0x11, 0xff, 0xff, 0xff, 0xff, 0x21, 0x00, 20]);
    });
  }

  test('one SUBSCRIBE per in/both topic line and one UNSUBSCRIBE per out line, in the file order; success acks in their short form; an unknown PUBREC gets a PUBREL, a PINGREQ a PINGRESP', async () => {
    const remote = await rawRemote();
    await h.broker({ bridges: bridgesOf(bridgeBlock(remote.port, ['bridge_protocol_version mqttv50', 'notifications false',
      'topic a/# in 1', 'topic b/# out 0', 'topic c/# both 1', 'topic d/# in 0'])) });
    await remote.next(1);
    remote.send(CONNACK_V5);
    for (const deadline = Date.now() + 10_000; remote.frames.length < 5 && Date.now() < deadline;) await sleep(20);
    // each one filter: its length at byte 5 (after the 2-byte header, the id and the v5 property length)
    const packets = remote.frames.slice(1, 6).map((f) => `${f[0]! >> 4 === 8 ? 'SUBSCRIBE' : 'UNSUBSCRIBE'} ${f.subarray(7, 7 + f[6]!).toString()}`);
    assert.deepEqual(packets, ['SUBSCRIBE a/#', 'UNSUBSCRIBE b/#', 'SUBSCRIBE c/#', 'SUBSCRIBE d/#']);
    // a QoS 1 PUBLISH from the remote: PUBACK 40 02 00 b4 (no reason code, no properties)
    remote.send([0x32, 9, 0, 3, 0x61, 0x2f, 0x78, 0x00, 0xb4, 0, 0x21]);
    assert.equal((await remote.next(4)).toString('hex'), '400200b4');
    remote.send([0x50, 2, 0x07, 0xd1]);
    assert.equal((await remote.next(6)).toString('hex'), '620207d1');
    remote.send([0xc0, 0]);
    assert.equal((await remote.next(13)).toString('hex'), 'd000');
  });
});

describe('culex ↔ culex', () => {
  for (const version of ['mqttv311', 'mqttv50'] as const) test(`a \`both\` bridge at ${version} carries messages each way and forms no loop (No Local on both sides; at 3.1.1 the bridge bit, as Mosquitto)`, async () => {
    const b = await h.broker();
    const a = await h.broker({ bridges: bridgesOf(bridgeBlock(b.port, [`bridge_protocol_version ${version}`, 'topic shared/# both 1'])) });
    const onA = await h.connect(a.url);
    const onB = await h.connect(b.url);
    const inboxA = new Inbox(onA);
    const inboxB = new Inbox(onB);
    await onA.subscribeAsync('shared/#', { qos: 1 });
    await onB.subscribeAsync('shared/#', { qos: 1 });
    await settled(onB, onA, 'shared/probe-a');
    await settled(onA, onB, 'shared/probe-b');
    inboxA.messages.length = 0;
    inboxB.messages.length = 0;
    await onA.publishAsync('shared/x', 'from-a', { qos: 1 });
    await onB.publishAsync('shared/y', 'from-b', { qos: 1 });
    await inboxA.waitFor(2);
    await inboxB.waitFor(2);
    await sleep(500);
    // each broker's subscriber sees each message exactly once: nothing came back round
    assert.deepEqual(inboxA.messages.map((m) => m.payload.toString()).sort(), ['from-a', 'from-b']);
    assert.deepEqual(inboxB.messages.map((m) => m.payload.toString()).sort(), ['from-a', 'from-b']);
  });
});

describe('durability', { skip }, () => {
  for (const qos of [1, 2] as const) {
    test(`kill -9 of culex while QoS ${qos} messages flow out: every message culex acknowledged reaches the remote after the restart${qos === 2 ? ', once' : ''}`, async () => {
      const tmp = tempDir('culex-bridge-kill-');
      cleanups.push(tmp.cleanup);
      // Both brokers queue without limit: while the remote is paused the flow outruns Mosquitto's
      // default max_queued_messages (1000), and a full queue drops messages (culex as Mosquitto does)
      const remote = await startMosquitto(['allow_anonymous true', 'max_queued_messages 0'], undefined, tmp.dir);
      const subId = uniqueId('sub');
      const remoteSub = await h.connect(remote.url, { clientId: subId, clean: false });
      const received = new Inbox(remoteSub);
      await remoteSub.subscribeAsync('k/#', { qos });
      const { dir, port, conf } = await brokerDir([
        'max_queued_messages 0',
        'connection k', `address 127.0.0.1:${remote.port}`, `remote_clientid ${uniqueId('bridge')}`, 'restart_timeout 1',
        'cleansession false', `topic k/# out ${qos}`,
      ]);
      let broker = await startBrokerProcess(conf, dir, port);
      const pub = await h.connect(`mqtt://127.0.0.1:${port}`);
      await settled(remoteSub, pub, 'k/probe');
      const acked: string[] = [];
      // an unanswered publish never settles once the connection is gone: the close ends the flow
      const gone = new Promise<'gone'>((resolve) => pub.once('close', () => resolve('gone')));
      const flowing = (async () => {
        for (let i = 0; ; i++) {
          const r = await Promise.race([pub.publishAsync('k/x', `${i}`, { qos }).then(() => 'acked' as const, () => 'gone' as const), gone]);
          if (r === 'gone') return;
          acked.push(`${i}`);
        }
      })();
      await sleep(300);
      // the remote stops answering: messages wait in culex, some sent and unacknowledged
      remote.pause(true);
      await sleep(500);
      broker.proc.kill('SIGKILL');
      await broker.exit;
      await flowing;
      remote.pause(false);
      assert.ok(acked.length > 10, `only ${acked.length} messages were acknowledged before the kill`);
      const killed = broker;
      broker = await startBrokerProcess(conf, dir, port);
      const deadline = Date.now() + 30000;
      const arrived = (): string[] => received.messages.filter((m) => m.topic === 'k/x').map((m) => m.payload.toString());
      while (acked.some((x) => !arrived().includes(x)) && Date.now() < deadline) await sleep(100);
      const missing = acked.filter((x) => !arrived().includes(x));
      assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged messages never arrived; culex's log before the kill:\n${killed.output()}\nthe remote's log:\n${remote.log()}`);
      if (qos === 2) {
        await sleep(500);
        const seen = arrived();
        assert.equal(new Set(seen).size, seen.length, 'a QoS 2 message arrived twice');
      }
      broker.kill();
    });
  }

  for (const qos of [1, 2] as const) test(`kill -9 of culex while QoS ${qos} messages flow in: every message Mosquitto published reaches a persistent subscriber on culex after the restart${qos === 2 ? ', once' : ''}`, async () => {
    const tmp = tempDir('culex-bridge-kill-in-');
    cleanups.push(tmp.cleanup);
    const remote = await startMosquitto(['allow_anonymous true'], undefined, tmp.dir);
    const { dir, port, conf } = await brokerDir([
      'connection k', `address 127.0.0.1:${remote.port}`, `remote_clientid ${uniqueId('bridge')}`, 'restart_timeout 1',
      'cleansession false', `topic in/# in ${qos}`,
    ]);
    let broker = await startBrokerProcess(conf, dir, port);
    const subId = uniqueId('sub');
    const localSub = await h.connect(`mqtt://127.0.0.1:${port}`, { clientId: subId, clean: false });
    await localSub.subscribeAsync('in/#', { qos });
    const remotePub = await h.connect(remote.url);
    await settled(localSub, remotePub, 'in/probe');
    localSub.end(true);
    const sent: string[] = [];
    const flowing = (async () => {
      for (let i = 0; i < 400; i++) {
        await remotePub.publishAsync('in/x', `${i}`, { qos });
        sent.push(`${i}`);
        if (i % 20 === 0) await sleep(5);
      }
    })();
    await sleep(300);
    broker.proc.kill('SIGKILL');
    await broker.exit;
    await flowing;
    broker = await startBrokerProcess(conf, dir, port);
    // the inbox listens before CONNACK: the stored messages may come in the same read
    const back = h.client(`mqtt://127.0.0.1:${port}`, { clientId: subId, clean: false });
    const inbox = new Inbox(back);
    const deadline = Date.now() + 30000;
    const arrived = (): Set<string> => new Set(inbox.messages.filter((m) => m.topic === 'in/x').map((m) => m.payload.toString()));
    while (sent.some((x) => !arrived().has(x)) && Date.now() < deadline) await sleep(100);
    const missing = sent.filter((x) => !arrived().has(x));
    assert.deepEqual(missing, [], `${missing.length} of ${sent.length} messages never arrived: ${missing.join(',')} / got ${inbox.messages.length}`);
    if (qos === 2) {
      await sleep(500);
      const seen = inbox.messages.filter((m) => m.topic === 'in/x').map((m) => m.payload.toString());
      assert.equal(new Set(seen).size, seen.length, 'a QoS 2 message arrived twice');
    }
    broker.kill();
  });
});

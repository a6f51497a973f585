/**
 * Observability against a running broker with real clients: /metrics (every metric the shipped
 * alert rules and Grafana dashboard name is in a live scrape; gauges follow clients, sessions,
 * queues and retained messages; runtime metrics per worker thread), /healthz (503 while a worker
 * is down or the store refuses writes), and the `$SYS` tree under Mosquitto 2.0's names.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { startBroker, type RunningBroker } from '../../src/server.ts';
import { defaultConfig } from '../../src/config/defaults.ts';
import type { BrokerConfig } from '../../src/config/types.ts';
import { fillUp, mountTmpfs, unmountAll } from '../helpers/disk.ts';
import { PacketType, pk, RawClient } from '../helpers/raw.ts';
import { culexOnly, freePort } from '../helpers/broker.ts';
import { brokerDir, cleanupBrokerProcesses, startBrokerProcess } from '../helpers/brokerProcess.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const RULES = path.join(ROOT, 'config/prometheus/culex-alerts.yml');
const DASHBOARD = path.join(ROOT, 'config/grafana/culex-dashboard.json');

const dirs: string[] = [];
const mounts: string[] = [];
after(() => {
  unmountAll(mounts);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  cleanupBrokerProcesses();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Started {
  readonly broker: RunningBroker;
  readonly url: string;
  readonly metrics: string;
  readonly dir: string;
}

async function start(overrides: Partial<BrokerConfig> = {}): Promise<Started> {
  const metricsPort = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'culex-metrics-'));
  dirs.push(dir);
  const broker = await startBroker(defaultConfig({
    listeners: [{ port: 0, host: '127.0.0.1', protocol: 'mqtt', maxConnections: 50 }],
    workers: 2, persistence: true, persistenceLocation: dir, sysInterval: 1,
    logTypes: [], logDest: ['none'], connectionMessages: false,
    metricsListener: { host: '127.0.0.1', port: metricsPort },
    ...overrides,
  }));
  return { broker, url: `mqtt://127.0.0.1:${broker.ports[0]}`, metrics: `http://127.0.0.1:${metricsPort}`, dir };
}

/** One scrape: sample name (with labels as written) → value. */
async function scrape(base: string): Promise<{ text: string; samples: Map<string, number>; names: Set<string> }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const samples = new Map<string, number>();
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    names.add(m[1]!);
    samples.set(m[1]! + (m[2] ?? ''), Number(m[3]));
  }
  return { text, samples, names };
}

/** Scrapes until `pred` holds (gauges are read on scrape; clients' packets may still be in flight). */
async function scrapeUntil(base: string, pred: (s: Map<string, number>) => boolean, ms = 10000): Promise<Map<string, number>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { samples } = await scrape(base);
    if (pred(samples) || Date.now() > deadline) return samples;
    await sleep(100);
  }
}

/** Metric names used by the alert rules and the dashboard. */
function referencedNames(): Set<string> {
  const names = new Set<string>();
  const rules = readFileSync(RULES, 'utf8').split('\n').filter((l) => !l.trim().startsWith('#')).join('\n');
  const exprs = [rules];
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  for (const p of dash.panels) for (const t of p.targets ?? []) exprs.push(t.expr);
  for (const e of exprs) for (const m of e.matchAll(/\b((?:culex|nodejs|process)_[a-z0-9_]+)\b/g)) names.add(m[1]!);
  return names;
}

test('every metric named by config/prometheus/culex-alerts.yml and config/grafana/culex-dashboard.json is in a live scrape; HELP texts say what each counts', { skip: culexOnly }, async () => {
  const b = await start();
  const c = await mqtt.connectAsync(b.url, { reconnectPeriod: 0 });
  try {
    await c.subscribeAsync('$share/g/t/#', { qos: 1 });
    await c.publishAsync('t/1', 'x', { qos: 1, retain: true });
    const { text, names } = await scrape(b.metrics);
    const referenced = referencedNames();
    assert.ok(referenced.size > 30, `found ${referenced.size} names in the rules and dashboard`);
    // the culex_cluster_* metrics exist only on a node joined to others: test/system/nats-cluster.test.ts scrapes one
    const missing = [...referenced].filter((n) => !names.has(n) && !n.startsWith('culex_cluster_'));
    assert.deepEqual(missing, [], 'named in the rules or dashboard, absent from /metrics');
    for (const m of text.matchAll(/^# HELP (culex_\S+) (.*)$/gm)) {
      assert.match(m[2]!, / .*\.$/, `${m[1]}: HELP is a sentence, not a field name`);
    }
    for (const m of text.matchAll(/^# TYPE (culex_\S+) counter$/gm)) assert.match(m[1]!, /_total$/, 'counters end in _total');
  } finally {
    await c.endAsync();
    await b.broker.stop();
  }
});

test('promtool check rules accepts config/prometheus/culex-alerts.yml', async (t) => {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
  } catch {
    t.skip('promtool not installed (Debian/Ubuntu package: prometheus)');
    return;
  }
  const out = execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
  assert.match(out, /SUCCESS: \d+ rules found/);
});

test('/metrics follows real clients: connections against max_connections, sessions online and offline, subscriptions, users\' retained messages (once, without $SYS), queues, drops by reason; runtime metrics for every thread labelled by worker', { skip: culexOnly }, async () => {
  const b = await start({ maxQueuedMessages: 3 });
  const clients: mqtt.MqttClient[] = [];
  try {
    // an offline persistent subscriber: what is published for it is queued (3 at most, the rest dropped)
    const sub = await mqtt.connectAsync(b.url, { reconnectPeriod: 0, clientId: 'metrics-offline', clean: false, protocolVersion: 4 });
    await sub.subscribeAsync('q/#', { qos: 1 });
    await sub.endAsync();
    for (let i = 0; i < 3; i++) clients.push(await mqtt.connectAsync(b.url, { reconnectPeriod: 0 }));
    const [pub, watcher] = clients as [mqtt.MqttClient, mqtt.MqttClient];
    await watcher.subscribeAsync(['a/#', 'b/#']);
    await pub.publishAsync('r/1', 'one', { qos: 1, retain: true });
    await pub.publishAsync('r/2', 'two', { qos: 1, retain: true });
    for (let i = 0; i < 8; i++) await pub.publishAsync('q/x', `m${i}`, { qos: 1 });

    // the offline persistent session's queue is held in the store only, once committed
    const s = await scrapeUntil(b.metrics, (x) => x.get('culex_queued_messages') === 3 && (x.get('culex_messages_dropped_total{reason="queue_full"}') ?? 0) >= 5 && x.get('culex_queued_messages_held{where="disk"}') === 3);
    assert.equal(s.get('culex_queued_messages_held{where="memory"}'), 0);
    assert.equal(s.get('culex_queued_bytes_held{where="disk"}'), 6);
    assert.equal(s.get('culex_clients_connected'), 3);
    assert.equal(s.get(`culex_listener_connections{listener="0",port="${b.broker.ports[0]}"}`), 3);
    assert.equal(s.get(`culex_listener_max_connections{listener="0",port="${b.broker.ports[0]}"}`), 50);
    assert.equal(s.get('culex_sessions{state="online"}'), 3);
    assert.equal(s.get('culex_sessions{state="offline"}'), 1);
    assert.equal(s.get('culex_subscriptions'), 3);
    // $SYS is retained too (sys_interval 1) and every worker holds every retained message
    assert.equal(s.get('culex_retained_messages'), 2);
    assert.equal(s.get('culex_queued_messages'), 3);
    assert.equal(s.get('culex_session_queue_max_messages'), 3);
    assert.equal(s.get('culex_queued_bytes'), 6);
    assert.equal(s.get('culex_messages_dropped_total{reason="queue_full"}'), 5);
    assert.equal(s.get('culex_publish_received_total{qos="1"}'), 10);
    assert.equal(s.get('culex_store_healthy'), 1);
    assert.ok(s.get('culex_store_file_bytes')! > 0);
    assert.ok(s.get('culex_store_free_disk_bytes')! > 0);
    assert.equal(s.get('culex_workers'), 2);
    for (const w of ['main', '0', '1']) {
      assert.ok(s.get(`nodejs_heap_size_used_bytes{worker="${w}"}`)! > 0, `heap of thread ${w}`);
      assert.ok(s.has(`nodejs_eventloop_lag_p99_seconds{worker="${w}"}`), `event-loop lag of thread ${w}`);
    }
    assert.ok(s.get('process_resident_memory_bytes')! > 0, 'process-wide metrics once, without a worker label');
    assert.ok(s.has('culex_ring_fill_ratio{from="0",to="1"}'));

    // the subscriber comes back: its queue drains
    const back = await mqtt.connectAsync(b.url, { reconnectPeriod: 0, clientId: 'metrics-offline', clean: false, protocolVersion: 4 });
    clients.push(back);
    const drained = await scrapeUntil(b.metrics, (x) => x.get('culex_queued_messages') === 0 && x.get('culex_sessions{state="offline"}') === 0);
    assert.equal(drained.get('culex_queued_messages'), 0);
    assert.equal(drained.get('culex_queued_messages_held{where="disk"}'), 0);
    assert.equal(drained.get('culex_sessions{state="online"}'), 4);

    // a GC histogram series appears with its thread's first GC of that kind: 8 MB of payloads make one
    const big = Buffer.alloc(32 * 1024, 7);
    for (let i = 0; i < 256; i++) pub.publish('gc/x', big, { qos: 0 });
    await pub.publishAsync('gc/x', 'last', { qos: 1 });
    const gc = await scrapeUntil(b.metrics, (x) => [...x.keys()].some((k) => k.startsWith('nodejs_gc_duration_seconds_count{') && /worker="(0|1)"/.test(k)));
    assert.ok([...gc.keys()].some((k) => k.startsWith('nodejs_gc_duration_seconds_count{') && /worker="(0|1)"/.test(k)), 'GC pauses, by worker thread');
  } finally {
    for (const c of clients) await c.endAsync();
    await b.broker.stop();
  }
});

/** $SYS topics Mosquitto 2.0.11 publishes (mosquitto -c with sys_interval 1, `mosquitto_sub -t '$SYS/#' -v`). */
const MOSQUITTO_SYS = [
  'bytes/received', 'bytes/sent',
  'clients/active', 'clients/connected', 'clients/disconnected', 'clients/expired', 'clients/inactive', 'clients/maximum', 'clients/total',
  'heap/current', 'heap/maximum',
  ...['bytes/received', 'bytes/sent', 'connections', 'messages/received', 'messages/sent', 'publish/dropped', 'publish/received', 'publish/sent', 'sockets']
    .flatMap((l) => ['1min', '5min', '15min'].map((w) => `load/${l}/${w}`)),
  'messages/received', 'messages/sent', 'messages/stored',
  'publish/bytes/received', 'publish/bytes/sent', 'publish/messages/dropped', 'publish/messages/received', 'publish/messages/sent',
  'retained messages/count', 'shared_subscriptions/count', 'store/messages/bytes', 'store/messages/count', 'subscriptions/count',
  'uptime', 'version',
].map((t) => `$SYS/broker/${t}`).sort();

test('$SYS: mosquitto_sub gets Mosquitto 2.0\'s $SYS/broker tree (same topic names), retained, every sys_interval', { skip: culexOnly }, async () => {
  const b = await start({ workers: 1, persistence: false });
  try {
    const out = await new Promise<string>((resolve) => {
      execFile('mosquitto_sub', ['-p', String(b.broker.ports[0]), '-t', '$SYS/#', '-v', '-W', '3'], { encoding: 'utf8' }, (_err, stdout) => resolve(stdout));
    });
    const seen = new Map<string, string>();
    for (const line of out.split('\n')) {
      const m = /^(\$SYS\/broker\/(?:retained messages\/count|\S+)) (.*)$/.exec(line);
      if (m) seen.set(m[1]!, m[2]!);
    }
    assert.deepEqual([...seen.keys()].sort(), MOSQUITTO_SYS);
    assert.match(seen.get('$SYS/broker/uptime')!, /^\d+ seconds$/);
    assert.match(seen.get('$SYS/broker/load/bytes/received/1min')!, /^\d+\.\d\d$/);
    assert.match(seen.get('$SYS/broker/heap/current')!, /^[1-9]\d*$/);
  } finally {
    await b.broker.stop();
  }
});

test('$SYS values follow MQTT.js clients: clients connected/disconnected/total/maximum, subscriptions, retained messages, messages stored, publish received', { skip: culexOnly, timeout: 30000 }, async () => {
  const b = await start({ workers: 2 });
  const clients: mqtt.MqttClient[] = [];
  try {
    const gone = await mqtt.connectAsync(b.url, { reconnectPeriod: 0, clientId: 'sys-offline', clean: false, protocolVersion: 4 });
    await gone.subscribeAsync('s/#', { qos: 1 });
    await gone.endAsync();
    const c = await mqtt.connectAsync(b.url, { reconnectPeriod: 0 });
    clients.push(c);
    await c.publishAsync('s/retained', 'r', { qos: 1, retain: true });
    const seen = new Map<string, { value: string; retain: boolean }>();
    const want = (t: string, v: string) => seen.get(`$SYS/broker/${t}`)?.value === v;
    const done = new Promise<void>((resolve) => {
      c.on('message', (topic, payload, packet) => {
        seen.set(topic, { value: payload.toString(), retain: packet.retain });
        if (want('clients/connected', '1') && want('clients/disconnected', '1') && want('clients/total', '2') && want('subscriptions/count', '3') && want('publish/messages/received', '1')) resolve();
      });
    });
    await c.subscribeAsync('$SYS/#');
    await c.subscribeAsync('x/y');
    await done;
    assert.equal(seen.get('$SYS/broker/clients/active')!.value, '1');
    assert.equal(seen.get('$SYS/broker/clients/inactive')!.value, '1');
    assert.equal(seen.get('$SYS/broker/clients/maximum')!.value, '2');
    // the offline session's queued message and the retained ones ($SYS's own included, as Mosquitto)
    const retained = Number(seen.get('$SYS/broker/retained messages/count')!.value);
    assert.ok(retained > 40, `retained messages/count ${retained} counts $SYS too`);
    assert.equal(Number(seen.get('$SYS/broker/messages/stored')!.value), retained + 1);
    assert.equal(seen.get('$SYS/broker/publish/bytes/received')!.value, '1');
    assert.equal(seen.get('$SYS/broker/version')!.retain, true, 'delivered from the retained store on subscribe');
  } finally {
    for (const c of clients) await c.endAsync();
    await b.broker.stop();
  }
});

test('/healthz is 503 naming the worker while a killed worker is being replaced, 200 once it serves; counters do not go down across the replacement', { skip: culexOnly, timeout: 60000 }, async () => {
  const b = await start({ persistence: false });
  try {
    const c = await mqtt.connectAsync(b.url, { reconnectPeriod: 0 });
    await c.endAsync();
    const before = (await scrape(b.metrics)).samples.get('culex_connections_accepted_total')!;
    assert.equal((await fetch(`${b.metrics}/healthz`)).status, 200);
    const replaced = b.broker.killWorker(1);
    let down: { status: number; body: string } | undefined;
    let served = false;
    void replaced.then(() => (served = true));
    while (!served && down === undefined) {
      const r = await fetch(`${b.metrics}/healthz`);
      if (r.status === 503) down = { status: r.status, body: await r.text() };
      else await r.text();
    }
    assert.ok(down, 'a 503 between the kill and the replacement');
    assert.match(down.body, /worker 1/);
    await replaced;
    const r = await fetch(`${b.metrics}/healthz`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'ok\n');
    const s = (await scrape(b.metrics)).samples;
    assert.equal(s.get('culex_worker_restarts_total'), 1);
    assert.equal(s.get('culex_worker_up{worker="1"}'), 1);
    assert.ok(s.get('culex_connections_accepted_total')! >= before, 'a counter never goes down when a worker is replaced');
  } finally {
    await b.broker.stop();
  }
});

// as a process (test/restart/full-disk.test.ts does the same): lmdb-js can corrupt its heap
// reporting a failed write, which must not take the test runner down with it
test('/healthz is 503 and culex_store_healthy 0 while the persistent store refuses writes (full disk), 200 again once there is room', { skip: culexOnly, timeout: 120000 }, async (t) => {
  const metricsPort = await freePort();
  const { dir, port, conf } = await brokerDir(['max_queued_messages 0', `metrics_listener 127.0.0.1:${metricsPort}`]);
  const mnt = path.join(dir, 'data');
  if (!mountTmpfs(mnt, '6m')) {
    t.skip('cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)');
    return;
  }
  mounts.push(mnt);
  const broker = await startBrokerProcess(conf, dir, port);
  const metrics = `http://127.0.0.1:${metricsPort}`;
  // an offline persistent subscriber: every QoS 1 message is written for it
  const sub = (await RawClient.connected(port, { version: 5, clientId: 'disk-sub', clean: false, properties: [{ id: pk.Prop.SessionExpiryInterval, value: 3600 }] })).client;
  sub.send(pk.subscribe(1, [{ filter: 'full/#', qos: 1 }], 5));
  await sub.expect(PacketType.SUBACK);
  sub.socket.destroy();
  const pub = (await RawClient.connected(port, { version: 5, clientId: 'disk-pub' })).client;
  // the metrics listener opens just after the MQTT listeners
  const up = Date.now() + 10000;
  let first: Response | undefined;
  while (first === undefined) first = await fetch(`${metrics}/healthz`).catch(async (err: unknown) => (Date.now() > up ? Promise.reject(err) : sleep(50).then(() => undefined)));
  assert.equal(first.status, 200);
  const filler = fillUp(mnt);
  const payload = Buffer.alloc(2000, 7);
  let refused = false;
  for (let id = 1; id < 20000 && !refused; id++) {
    pub.send(pk.publish({ version: 5, topic: 'full/x', payload, qos: 1, packetId: id }));
    refused = ((await pub.expect(PacketType.PUBACK, 10000)).reasonCode ?? 0) >= 0x80;
  }
  assert.ok(refused, 'the store filled up');
  const r = await fetch(`${metrics}/healthz`);
  assert.equal(r.status, 503);
  assert.match(await r.text(), /store .* refuses writes/);
  assert.equal((await scrape(metrics)).samples.get('culex_store_healthy'), 0);

  rmSync(filler);
  const deadline = Date.now() + 90000;
  let status = 503;
  for (let id = 30000; status !== 200 && Date.now() < deadline; id++) {
    await sleep(500);
    // a write lets the store find out it can write again
    pub.send(pk.publish({ version: 5, topic: 'full/x', payload: 'again', qos: 1, packetId: id }));
    await pub.expect(PacketType.PUBACK, 10000);
    const h = await fetch(`${metrics}/healthz`);
    await h.text();
    status = h.status;
  }
  assert.equal(status, 200, 'healthy again once there is room');
  pub.socket.destroy();
  broker.proc.kill('SIGTERM');
  await broker.exit;
});

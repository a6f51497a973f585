/**
 * Bridge benchmark: publishers on broker A, one subscriber on broker B, A bridging `bench/#` out
 * to B. A is culex or Mosquitto (same mosquitto.conf lines), B is always Mosquitto, so the two
 * runs differ only in the bridging broker. Prints msg/s (delivered at B) and the p50/p99 latency
 * publisher → subscriber (each payload carries its send time).
 *
 *   node native-bench/bridge.ts [--brokers culex,mosquitto] [--qos 0|1|2] [--pubs P] [--window W]
 *                               [--count N] [--rounds R] [--workers N] [--mqtt 3|5]
 * The load is MQTT.js in this process: compare the two rows, not the absolute numbers.
 * called from: main
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { MOSQUITTO_PATH } from './runner/brokers.ts';
import { freePort, installCleanupHandlers, startChild, stopChild, waitForPort, type Child } from './runner/processes.ts';

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values: opts } = parseArgs({
  options: {
    brokers: { type: 'string', default: 'culex,mosquitto' },
    qos: { type: 'string', default: '1' },
    pubs: { type: 'string', default: '8' },
    window: { type: 'string', default: '32' },
    count: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '1' },
    workers: { type: 'string' },
    mqtt: { type: 'string', default: '3' },
  },
});
const qos = Number(opts.qos) as 0 | 1 | 2;
const pubs = Number(opts.pubs);
const window = Number(opts.window);
const perPub = Math.ceil(Number(opts.count) / pubs);
const total = perPub * pubs;
const version = opts.mqtt === '5' ? 5 : 4;

function start(name: 'culex' | 'mosquitto', port: number, lines: readonly string[], dir: string): Child {
  const conf = path.join(dir, `${name}-${port}.conf`);
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'user root', 'max_inflight_messages 0', 'max_queued_messages 1000000',
    'set_tcp_nodelay true', 'log_dest none', ...lines].join('\n') + '\n');
  const [cmd, args] = name === 'mosquitto' ? [MOSQUITTO_PATH, ['-c', conf]] : [process.execPath, [path.join(repoRoot, 'src/cli/main.ts'), '-c', conf]];
  return startChild(cmd, args, { cwd: dir, stdio: 'ignore' });
}

function connect(port: number, clientId: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId, protocolVersion: version, reconnectPeriod: 0 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

async function round(name: 'culex' | 'mosquitto'): Promise<{ rate: number; p50: number; p99: number; lost: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-bridge-'));
  const [portA, portB] = [await freePort(), await freePort()];
  const b = start('mosquitto', portB, [], dir);
  await waitForPort(portB, 15000, b.exited);
  const bridge = ['connection bench', `address 127.0.0.1:${portB}`, 'remote_clientid bench-bridge', 'restart_timeout 1',
    `bridge_protocol_version ${version === 5 ? 'mqttv50' : 'mqttv311'}`, `topic bench/# out ${qos}`];
  const a = start(name, portA, [...(name === 'culex' && opts.workers !== undefined ? [`workers ${opts.workers}`] : []), ...bridge], dir);
  try {
    await waitForPort(portA, 30000, a.exited);
    const sub = await connect(portB, 'bench-sub');
    await sub.subscribeAsync('bench/#', { qos });
    const latencies: number[] = [];
    let first = 0;
    let last = 0;
    let done: () => void = () => {};
    const all = new Promise<void>((resolve) => { done = resolve; });
    sub.on('message', (topic, payload) => {
      if (topic === 'bench/probe') return;
      const now = performance.now();
      if (first === 0) first = now;
      last = now;
      latencies.push(now - payload.readDoubleBE(0));
      if (latencies.length === total) done();
    });
    // the bridge is up once a probe crosses it
    const probe = await connect(portA, 'bench-probe');
    const seen = new Promise<void>((resolve) => sub.on('message', (t) => { if (t === 'bench/probe') resolve(); }));
    const timer = setInterval(() => probe.publish('bench/probe', 'p', { qos: 1 }), 200);
    await seen;
    clearInterval(timer);
    probe.end(true);
    const publishers = await Promise.all(Array.from({ length: pubs }, (_, i) => connect(portA, `bench-pub${i}`)));
    await Promise.all(publishers.map(async (p, i) => {
      let sent = 0;
      const one = async (): Promise<void> => {
        while (sent < perPub) {
          sent++;
          const payload = Buffer.alloc(64);
          payload.writeDoubleBE(performance.now(), 0);
          await p.publishAsync(`bench/${i}`, payload, { qos });
        }
      };
      await Promise.all(Array.from({ length: window }, one));
    }));
    await Promise.race([all, new Promise((r) => setTimeout(r, 30000))]);
    for (const p of publishers) p.end(true);
    sub.end(true);
    latencies.sort((x, y) => x - y);
    const q = (f: number): number => latencies[Math.min(latencies.length - 1, Math.floor(f * latencies.length))] ?? NaN;
    return { rate: latencies.length / ((last - first) / 1000), p50: q(0.5), p99: q(0.99), lost: total - latencies.length };
  } finally {
    await stopChild(a);
    await stopChild(b);
    rmSync(dir, { recursive: true, force: true });
  }
}

installCleanupHandlers();
console.log(`| bridging broker | QoS | msgs | msg/s at B | p50 ms | p99 ms | not delivered |`);
console.log(`|---|---|---|---|---|---|---|`);
for (let r = 0; r < Number(opts.rounds); r++) {
  for (const name of opts.brokers.split(',') as ('culex' | 'mosquitto')[]) {
    const res = await round(name);
    console.log(`| ${name} | ${qos} | ${total} | ${Math.round(res.rate)} | ${res.p50.toFixed(2)} | ${res.p99.toFixed(2)} | ${res.lost} |`);
  }
}
process.exit(0);

/**
 * What a broker keeps of what it acknowledged when it is killed with SIGKILL: the same experiment
 * against culex and Mosquitto, each with `persistence true` on a fresh data directory.
 *   node native-bench/crash.ts [retained messages, default 2000] [queued messages, default 1000]
 * For each broker: acknowledged retained messages (QoS 1) on distinct topics; a persistent
 * session subscribed to q/# that goes offline; QoS 1 messages queued for it (acknowledged to
 * their publisher); then kill -9, restart on the same directory, and count what is still there.
 * called from: main (a command-line script)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { freePort, waitForPort } from './runner/processes.ts';
import { MOSQUITTO_PATH } from './runner/brokers.ts';

const retainedCount = Number(process.argv[2] ?? 2000);
const queuedCount = Number(process.argv[3] ?? 1000);
const repoRoot = path.resolve(new URL('..', import.meta.url).pathname);

interface Outcome {
  broker: string;
  retainedAcked: number;
  retainedKept: number;
  sessionKept: boolean;
  queuedAcked: number;
  queuedKept: number;
}

function start(name: 'culex' | 'mosquitto', conf: string, cwd: string): ChildProcess {
  return name === 'culex'
    ? spawn(process.execPath, [path.join(repoRoot, 'src/cli/main.ts'), '-c', conf], { cwd, stdio: 'ignore' })
    : spawn(MOSQUITTO_PATH, ['-c', conf], { cwd, stdio: 'ignore' });
}

/** `onMessage` is attached before the CONNACK: a resumed session's queue can arrive in the same read. */
function connect(port: number, opts: IClientOptions = {}, onMessage?: () => void): Promise<{ client: MqttClient; present: boolean }> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, protocolVersion: 4, ...opts });
    if (onMessage !== undefined) client.on('message', onMessage);
    client.once('connect', (c) => resolve({ client, present: c.sessionPresent }));
    client.once('error', reject);
  });
}

/** Publishes `n` QoS 1 messages with at most 50 unacknowledged; resolves with how many were acknowledged. */
async function publishAll(client: MqttClient, n: number, topic: (i: number) => string, retain: boolean): Promise<number> {
  let next = 0;
  let acked = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      await client.publishAsync(topic(i), `m${i}`, { qos: 1, retain });
      acked++;
    }
  };
  await Promise.all(Array.from({ length: 50 }, lane));
  return acked;
}

/** Counts messages; `quiet()` resolves once nothing has come for `quietMs`. */
function counter(quietMs = 1500): { count: () => number; onMessage: () => void; quiet: () => Promise<void> } {
  let count = 0;
  let last = Date.now();
  return {
    count: () => count,
    onMessage: () => {
      count++;
      last = Date.now();
    },
    quiet: async () => {
      while (Date.now() - last < quietMs) await new Promise((r) => setTimeout(r, 100));
    },
  };
}

async function run(name: 'culex' | 'mosquitto'): Promise<Outcome> {
  const dir = mkdtempSync(path.join(tmpdir(), `crash-${name}-`));
  const port = await freePort();
  const conf = path.join(dir, 'broker.conf');
  // queue limits high enough that reading 2000 retained messages back is not cut by max_queued_messages
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true', 'max_queued_messages 100000',
    `persistence_location ${dir}/`, ...(name === 'mosquitto' ? ['user root'] : [])].join('\n') + '\n');
  let broker = start(name, conf, dir);
  await waitForPort(port, 20000, new Promise((r) => broker.once('exit', r)));
  const session = { clientId: `crash-sub-${process.pid}`, clean: false };
  const sub = await connect(port, session);
  await sub.client.subscribeAsync('q/#', { qos: 1 });
  await sub.client.endAsync();
  const pub = await connect(port);
  const retainedAcked = await publishAll(pub.client, retainedCount, (i) => `crash/${i}`, true);
  const queuedAcked = await publishAll(pub.client, queuedCount, (i) => `q/${i}`, false);
  pub.client.end(true);
  broker.kill('SIGKILL');
  await new Promise((r) => broker.once('exit', r));
  broker = start(name, conf, dir);
  await waitForPort(port, 20000, new Promise((r) => broker.once('exit', r)));
  const queued = counter();
  const back = await connect(port, session, queued.onMessage);
  await queued.quiet();
  back.client.end(true);
  const retained = counter();
  const reader = await connect(port, {}, retained.onMessage);
  await reader.client.subscribeAsync('crash/#', { qos: 1 });
  await retained.quiet();
  reader.client.end(true);
  const queuedKept = queued.count();
  const retainedKept = retained.count();
  broker.kill('SIGTERM');
  await new Promise((r) => broker.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  return { broker: name, retainedAcked, retainedKept, sessionKept: back.present, queuedAcked, queuedKept };
}

const outcomes: Outcome[] = [];
for (const name of ['culex', 'mosquitto'] as const) outcomes.push(await run(name));
process.stdout.write('| broker | retained: acknowledged → kept | persistent session kept | queued QoS 1: acknowledged → kept |\n| --- | --- | --- | --- |\n');
for (const o of outcomes) {
  process.stdout.write(`| ${o.broker} | ${o.retainedAcked} → ${o.retainedKept} | ${o.sessionKept ? 'yes' : 'no'} | ${o.queuedAcked} → ${o.queuedKept} |\n`);
}

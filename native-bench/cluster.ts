/**
 * Cluster benchmark (issue 17): fan-in and fan-out across 3 culex nodes joined through one
 * nats-server, beside the same load on one node. All on loopback, started here and stopped at
 * the end; small and bounded by default.
 *   fan-in:  --pubs P publishers spread over the nodes (round-robin), one subscriber on node 1
 *            to `bench/in/#`; --count N messages in all.
 *   fan-out: one publisher on node 1, --subs S subscribers spread over the nodes, each to
 *            `bench/out`; --count N / S messages published, N deliveries in all.
 * Prints msg/s delivered and the p50/p99 latency publisher → subscriber (each payload carries
 * its send time), and how many were not delivered (QoS 0 across nodes is at most once).
 *
 *   node native-bench/cluster.ts [--qos 0|1|2] [--count 20000] [--pubs 6] [--subs 6]
 *                                [--window 16] [--workers 1] [--setups single,cluster]
 *                                [--persistent]
 * --persistent: the nodes store their sessions (persistence true) and the subscribers' sessions
 * are persistent (clean session 0): with QoS 1/2, messages for a subscriber on another node go
 * through JetStream as well (README "Cluster", persistent sessions of other nodes).
 * The load is MQTT.js in this process, on the same cores as the brokers and NATS: compare the
 * rows of one run, not absolute numbers (native-bench/README.md "Cluster scenario").
 * called from: main (a command-line script)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { freePort, installCleanupHandlers, startChild, stopChild, waitForPort, type Child } from './runner/processes.ts';

const NATS_SERVER = '/usr/sbin/nats-server';
const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values: opts } = parseArgs({
  options: {
    qos: { type: 'string', default: '1' },
    count: { type: 'string', default: '20000' },
    pubs: { type: 'string', default: '6' },
    subs: { type: 'string', default: '6' },
    window: { type: 'string', default: '16' },
    workers: { type: 'string', default: '1' },
    setups: { type: 'string', default: 'single,cluster' },
    persistent: { type: 'boolean', default: false },
  },
});
const qos = Number(opts.qos) as 0 | 1 | 2;
const count = Number(opts.count);
const pubs = Number(opts.pubs);
const subs = Number(opts.subs);
const window = Number(opts.window);

interface Setup {
  /** MQTT ports of the nodes (one for `single`) */
  readonly ports: number[];
  stop(): Promise<void>;
}

async function startSetup(kind: 'single' | 'cluster', dir: string): Promise<Setup> {
  const children: Child[] = [];
  const lines: string[] = [];
  if (kind === 'cluster') {
    const natsPort = await freePort();
    const nats = startChild(NATS_SERVER, ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-sd', path.join(dir, 'js')], { stdio: 'ignore' });
    children.push(nats);
    await waitForPort(natsPort, 15000, nats.exited);
    lines.push(`cluster_nats_url nats://127.0.0.1:${natsPort}`);
  }
  const ports: number[] = [];
  for (let i = 1; i <= (kind === 'cluster' ? 3 : 1); i++) {
    const port = await freePort();
    const conf = path.join(dir, `node${i}.conf`);
    const persistence = opts.persistent ? ['persistence true', `persistence_location ${path.join(dir, `data${i}`)}`] : ['persistence false'];
    writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', ...persistence, `workers ${opts.workers}`,
      'max_inflight_messages 0', 'max_queued_messages 1000000', 'log_dest none', ...lines,
      ...(kind === 'cluster' ? [`cluster_node_name node${i}`] : [])].join('\n') + '\n');
    const node = startChild(process.execPath, [path.join(repoRoot, 'src/cli/main.ts'), '-c', conf], { cwd: dir, stdio: 'ignore' });
    children.push(node);
    ports.push(port);
  }
  for (const [i, port] of ports.entries()) await waitForPort(port, 30000, children[children.length - ports.length + i]!.exited);
  return { ports, stop: async () => { for (const c of children.reverse()) await stopChild(c); } };
}

/** `subscriber`: with --persistent, its session is persistent (clean session 0). */
function connect(port: number, clientId: string, subscriber = false): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId, protocolVersion: 4, reconnectPeriod: 0, clean: !(subscriber && opts.persistent) });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

/** Collects deliveries until `expected` arrived (or 30 s passed): rate and latencies. */
class Meter {
  readonly latencies: number[] = [];
  private first = 0;
  private last = 0;
  readonly done: Promise<void>;
  private finish: () => void = () => {};
  private readonly expected: number;

  constructor(expected: number) {
    this.expected = expected;
    this.done = Promise.race([
      new Promise<void>((resolve) => { this.finish = resolve; }),
      new Promise<void>((resolve) => setTimeout(resolve, 30000)),
    ]);
  }

  hear(payload: Buffer): void {
    const now = performance.now();
    if (this.first === 0) this.first = now;
    this.last = now;
    this.latencies.push(now - payload.readDoubleBE(0));
    if (this.latencies.length === this.expected) this.finish();
  }

  result(): { rate: number; p50: number; p99: number; lost: number } {
    const l = this.latencies.sort((x, y) => x - y);
    const q = (f: number): number => l[Math.min(l.length - 1, Math.floor(f * l.length))] ?? NaN;
    return { rate: l.length / ((this.last - this.first) / 1000), p50: q(0.5), p99: q(0.99), lost: this.expected - l.length };
  }
}

/** Publishes `n` timestamped messages on `topic` with `window` in flight. */
async function publishTimed(c: MqttClient, topic: string, n: number): Promise<void> {
  let sent = 0;
  const lane = async (): Promise<void> => {
    while (sent < n) {
      sent++;
      const payload = Buffer.alloc(64);
      payload.writeDoubleBE(performance.now(), 0);
      await c.publishAsync(topic, payload, { qos });
    }
  };
  await Promise.all(Array.from({ length: qos === 0 ? 1 : window }, lane));
}

async function fanIn(s: Setup): Promise<ReturnType<Meter['result']>> {
  const sub = await connect(s.ports[0]!, 'bench-in-sub', true);
  await sub.subscribeAsync('bench/in/#', { qos });
  const perPub = Math.ceil(count / pubs);
  const meter = new Meter(perPub * pubs);
  sub.on('message', (_t, payload) => meter.hear(payload));
  const publishers = await Promise.all(Array.from({ length: pubs }, (_, i) => connect(s.ports[i % s.ports.length]!, `bench-in-pub${i}`)));
  await Promise.all(publishers.map((p, i) => publishTimed(p, `bench/in/${i}`, perPub)));
  await meter.done;
  for (const c of [sub, ...publishers]) c.end(true);
  return meter.result();
}

async function fanOut(s: Setup): Promise<ReturnType<Meter['result']>> {
  const perSub = Math.ceil(count / subs);
  const meter = new Meter(perSub * subs);
  const subscribers = await Promise.all(Array.from({ length: subs }, (_, i) => connect(s.ports[i % s.ports.length]!, `bench-out-sub${i}`, true)));
  for (const c of subscribers) {
    await c.subscribeAsync('bench/out', { qos });
    c.on('message', (_t, payload) => meter.hear(payload));
  }
  const pub = await connect(s.ports[0]!, 'bench-out-pub');
  await publishTimed(pub, 'bench/out', perSub);
  await meter.done;
  for (const c of [pub, ...subscribers]) c.end(true);
  return meter.result();
}

installCleanupHandlers();
console.log(`| setup | scenario | QoS | deliveries | msg/s delivered | p50 ms | p99 ms | not delivered |`);
console.log(`|---|---|---|---|---|---|---|---|`);
for (const kind of opts.setups.split(',') as ('single' | 'cluster')[]) {
  for (const [name, run] of [['fan-in', fanIn], ['fan-out', fanOut]] as const) {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-cluster-'));
    const setup = await startSetup(kind, dir);
    try {
      const r = await run(setup);
      const label = (kind === 'single' ? '1 node' : '3 nodes + NATS') + (opts.persistent ? ', persistent subscribers' : '');
      console.log(`| ${label} | ${name} | ${qos} | ${count} | ${Math.round(r.rate)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.lost} |`);
    } finally {
      await setup.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
process.exit(0);

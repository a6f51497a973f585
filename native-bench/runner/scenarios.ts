/**
 * The benchmark suite: each scenario is a set of mqbench flags plus the metric that is its
 * result. Payloads are 64 bytes unless stated.
 */

/** A number read from one run's result (see GeneratorResult in generator.ts). */
export type MetricKey =
  | 'recvRate'
  | 'latencyP50'
  | 'latencyP99'
  | 'latencyP999'
  | 'rssPerConn'
  | 'connectRate'
  | 'ackRate'
  | 'ackLatencyP50'
  | 'ackLatencyP99';

export interface MetricSpec {
  readonly key: MetricKey;
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
}

export const METRICS: Readonly<Record<MetricKey, MetricSpec>> = {
  recvRate: { key: 'recvRate', label: 'delivered msg/s', unit: 'msg/s', better: 'higher' },
  latencyP50: { key: 'latencyP50', label: 'latency p50', unit: 'ms', better: 'lower' },
  latencyP99: { key: 'latencyP99', label: 'latency p99', unit: 'ms', better: 'lower' },
  latencyP999: { key: 'latencyP999', label: 'latency p99.9', unit: 'ms', better: 'lower' },
  rssPerConn: { key: 'rssPerConn', label: 'broker RSS per connection', unit: 'bytes', better: 'lower' },
  connectRate: { key: 'connectRate', label: 'connect rate', unit: 'conn/s', better: 'higher' },
  ackRate: { key: 'ackRate', label: 'acknowledged msg/s', unit: 'msg/s', better: 'higher' },
  ackLatencyP50: { key: 'ackLatencyP50', label: 'PUBACK latency p50', unit: 'ms', better: 'lower' },
  ackLatencyP99: { key: 'ackLatencyP99', label: 'PUBACK latency p99', unit: 'ms', better: 'lower' },
};

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** mqbench flags, without --port / --broker-pid / --label */
  readonly args: readonly string[];
  /** flags appended in --quick mode (later flags win) */
  readonly quickArgs: readonly string[];
  /** the metrics compared between brokers, the first one is charted */
  readonly compare: readonly MetricKey[];
  /** conns scenario: total idle connections (split over processes of at most MAX_CONNS_PER_PROCESS) */
  readonly conns?: number;
  readonly inQuickSubset: boolean;
  /** the platform floor (floor.ts) can stand in for a broker here (no persistence, no $share) */
  readonly floor?: boolean;
  /** both brokers with `persistence true` for this scenario, whatever --persistence says */
  readonly persistence?: boolean;
  /** max_queued_messages for this scenario unless --max-queued is given (0 = no limit) */
  readonly maxQueued?: number;
  /**
   * mqbench flags of an unmeasured run before the measured one, on the same broker (without
   * --port / --broker-pid / --label): e.g. a persistent subscriber that subscribes and leaves
   */
  readonly prepare?: readonly string[];
}

/** Sockets per generator process: under the 20000 open files a process may have here. */
export const MAX_CONNS_PER_PROCESS = 18000;

const TIMED = ['--warmup', '2', '--duration', '10', '--drain', '5'];
const QUICK = ['--warmup', '1', '--duration', '3', '--drain', '3'];
/**
 * A latency scenario is measured in the steady state a long-running broker is in: at 5000 msg/s
 * V8 is still compiling culex's hot path 12 s after start, and each compile job, on a V8 helper
 * thread, can keep the worker off its core for 2-3 ms (native-bench/profile/sched.sh, docs/scaling.md)
 */
const STEADY = ['--warmup', '20', '--duration', '10', '--drain', '5'];

/**
 * A timed message scenario whose result is the delivered rate (and its p99 latency). `window`:
 * messages a publisher may have on the way (mqbench --window); 1 = the device pattern, one
 * message per packet (each send carries one PUBLISH); more lets a send carry several.
 */
function throughput(name: string, description: string, flags: readonly string[], window: number, inQuickSubset: boolean, floor = true): Scenario {
  return { name, description, args: [...flags, '--window', String(window), ...TIMED], quickArgs: QUICK, compare: ['recvRate', 'latencyP99'], inQuickSubset, floor };
}

export const SCENARIOS: readonly Scenario[] = [
  throughput('fan-in-qos0', '1000 publishers on city/lights/<zone>/<id>/status -> 1 subscriber on city/lights/#, QoS 0, one message per packet',
    ['--scenario', 'fan-in', '--pubs', '1000', '--subs', '1', '--qos', '0'], 1, true),
  throughput('fan-in-qos1', '1000 publishers -> 1 subscriber on city/lights/#, QoS 1 both ways, one message per packet',
    ['--scenario', 'fan-in', '--pubs', '1000', '--subs', '1', '--qos', '1'], 1, true),
  throughput('fan-in-qos0-batch8', '1000 publishers -> 1 subscriber, QoS 0, up to 8 messages per packet (batched: not the device pattern)',
    ['--scenario', 'fan-in', '--pubs', '1000', '--subs', '1', '--qos', '0'], 8, false),
  throughput('fan-out-qos0', '1 publisher on city/broadcast -> 1000 subscribers, QoS 0, up to 4 messages per publisher send (msg/s counts deliveries)',
    ['--scenario', 'fan-out', '--pubs', '1', '--subs', '1000', '--qos', '0'], 4, false),
  // the floor has no $share: it would hand every message to all 4 consumers
  throughput('shared-qos1', '1000 publishers -> $share/ingest/city/# with 4 consumers, QoS 1, one message per packet',
    ['--scenario', 'shared', '--pubs', '1000', '--subs', '4', '--qos', '1'], 1, false, false),
  {
    name: 'smart-city',
    description: '10000 publishers at an aggregate 5000 msg/s -> 1 subscriber, QoS 1, one message per packet, measured after 20 s of load: latency is the result',
    args: ['--scenario', 'fan-in', '--pubs', '10000', '--subs', '1', '--qos', '1', '--rate', '5000', '--window', '1', ...STEADY],
    quickArgs: QUICK,
    compare: ['latencyP99', 'latencyP50', 'latencyP999'],
    inQuickSubset: true,
    floor: true,
  },
  {
    name: 'conns',
    description: '15000 idle connections (clean session, keepalive 60 s): broker RSS per connection, connect rate',
    args: ['--scenario', 'conns', '--keepalive', '60', '--duration', '5'],
    quickArgs: ['--duration', '2'],
    compare: ['rssPerConn', 'connectRate'],
    conns: 15000,
    inQuickSubset: true,
    floor: true,
  },
];

/** The client id prefix of the persistent subscriber that durable-offline leaves offline. */
const OFFLINE_SUBSCRIBER_PREFIX = 'durable-offline-';

/**
 * Durable scenarios: QoS 1 fan-in with persistence on for both brokers (culex's mode is
 * --durability), a fresh data directory per run. Publishers keep clean sessions; what has to be
 * stored is what a persistent subscriber is owed. Not in the default suite (nor in --quick's
 * subset): they run only when named with --scenario.
 */
export const OPT_IN_SCENARIOS: readonly Scenario[] = [
  {
    name: 'durable-online',
    description: '1000 publishers -> 1 persistent subscriber (clean session 0 / v5 session expiry) on city/lights/#, online, QoS 1, persistence on',
    args: ['--scenario', 'fan-in', '--pubs', '1000', '--subs', '1', '--qos', '1', '--persistent-subs', '--window', '4', ...TIMED],
    quickArgs: QUICK,
    compare: ['recvRate', 'ackRate', 'ackLatencyP50', 'ackLatencyP99'],
    inQuickSubset: false,
    persistence: true,
  },
  {
    name: 'durable-offline',
    description: '1000 publishers, QoS 1, no subscriber online: a persistent subscriber on city/lights/# is offline, every message is queued for it; persistence on',
    args: ['--scenario', 'fan-in', '--pubs', '1000', '--subs', '0', '--qos', '1', '--window', '4', ...TIMED],
    quickArgs: QUICK,
    compare: ['ackRate', 'ackLatencyP99'],
    inQuickSubset: false,
    persistence: true,
    // no limit: with one, the broker would drop (and still acknowledge) once the queue is full
    maxQueued: 0,
    // subscribes at QoS 1 with clean session 0 (v5: session expiry 3600 s) and disconnects at once
    prepare: ['--scenario', 'fan-in', '--pubs', '0', '--subs', '1', '--qos', '1', '--persistent',
      '--id-prefix', OFFLINE_SUBSCRIBER_PREFIX, '--warmup', '0', '--duration', '0', '--drain', '0', '--progress', '0'],
  },
];

/** Every scenario: the default suite, then the opt-in ones. */
export const ALL_SCENARIOS: readonly Scenario[] = [...SCENARIOS, ...OPT_IN_SCENARIOS];

/** The scenarios named in `names` (comma list), or the default / quick subset (no opt-in scenario). */
export function selectScenarios(names: string | undefined, quick: boolean): Scenario[] {
  if (!names) return SCENARIOS.filter((s) => !quick || s.inQuickSubset);
  const wanted = names.split(',').map((n) => n.trim()).filter(Boolean);
  return wanted.map((n) => {
    const s = ALL_SCENARIOS.find((x) => x.name === n);
    if (!s) throw new Error(`unknown scenario '${n}'; known: ${ALL_SCENARIOS.map((x) => x.name).join(', ')}`);
    return s;
  });
}

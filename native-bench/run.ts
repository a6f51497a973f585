/**
 * `npm run bench`: culex against Mosquitto, side by side on loopback.
 * For each scenario, each round runs the brokers one after the other (A B A B …), each a fresh
 * process with the same mosquitto.conf options, loaded by mqbench (native-bench/src). Prints
 * markdown tables (median and range over rounds, culex/Mosquitto and culex/floor ratios) and writes the raw
 * results (JSON), a ratio chart (SVG) and a history line per metric (CSV) to native-bench/results/.
 *
 *   node native-bench/run.ts [--scenario a,b] [--quick] [--rounds N] [--brokers culex,mosquitto]
 *                            [--workers N] [--max-inflight N] [--max-queued N] [--persistence]
 *                            [--durability sync|batch|off] [--mqtt 3|5] [--conns N] [--gen-args "..."]
 *                            [--out DIR] [--verbose]
 * The durable scenarios (durable-online, durable-offline) run only when named with --scenario.
 * called from: main
 */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BROKER_NAMES, DURABILITIES, brokerVersion, ensureMosquitto, startBroker, type BrokerName, type BrokerSettings, type Durability } from './runner/brokers.ts';
import { renderChart } from './runner/chart.ts';
import { buildGenerator, generatorTimeoutMs, mergeConnsResults, mergeMessageResults, otherCpuPct, runGenerator, type GeneratorResult } from './runner/generator.ts';
import { describeMachine, machineInfo } from './runner/machine.ts';
import { installCleanupHandlers, runSync } from './runner/processes.ts';
import { MAX_CONNS_PER_PROCESS, METRICS, OPT_IN_SCENARIOS, selectScenarios, type Scenario } from './runner/scenarios.ts';
import { summarize, type RunRecord } from './runner/stats.ts';
import { human, renderTables } from './runner/table.ts';

const benchDir = path.dirname(new URL(import.meta.url).pathname);
const repoRoot = path.resolve(benchDir, '..');

const HELP = `usage: npm run bench -- [options]
  --scenario a,b        run only these scenarios (default: the whole suite); not in the suite, run only
                        when named: ${OPT_IN_SCENARIOS.map((s) => s.name).join(', ')}
  --quick               short runs of a subset (fan-in-qos0, fan-in-qos1, smart-city, conns), 1 round
  --rounds N            rounds per scenario and broker (default 3; 1 with --quick)
  --brokers LIST        culex,mosquitto,floor (default all three; floor: the platform floor, native-bench/floor.ts,
                        in the scenarios it can stand in for, 1 thread unless --workers)
  --workers N           culex worker threads (default: culex's own default)
  --max-inflight N      max_inflight_messages for both brokers (default 0 = no limit)
  --max-queued N        max_queued_messages for both brokers (default 100000; durable-offline: 0 = no limit)
  --persistence         persistence true for both brokers (default false; durable-* scenarios: always true)
  --durability MODE     culex's persistence_durability: sync, batch or off (default: culex's, sync);
                        written into culex's configuration only
  --mqtt 3|5            protocol of every client (default 3 = 3.1.1)
  --conns N             idle connections of the conns scenario (default 15000)
  --gen-procs K         message scenarios: K mqbench processes, each its own group (publishers/K on
                        <topic-prefix>/gK/… -> its own subscribers), for machines where one generator
                        process saturates (default 1)
  --gen-args "..."      extra mqbench flags for every run
  --out DIR             results folder (default native-bench/results)
  --verbose             print every progress line of the generator`;

const { values: opts } = parseArgs({
  options: {
    scenario: { type: 'string' },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    brokers: { type: 'string', default: 'culex,mosquitto,floor' },
    workers: { type: 'string' },
    'max-inflight': { type: 'string', default: '0' },
    'max-queued': { type: 'string' },
    persistence: { type: 'boolean', default: false },
    durability: { type: 'string' },
    mqtt: { type: 'string', default: '3' },
    conns: { type: 'string' },
    'gen-procs': { type: 'string' },
    'gen-args': { type: 'string', default: '' },
    out: { type: 'string', default: path.join(benchDir, 'results') },
    verbose: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (opts.help) {
  process.stdout.write(HELP + '\n');
  process.exit(0);
}

function intOption(name: string, value: string | undefined, dflt: number, min: number): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} needs an integer >= ${min}, not '${value}'`);
  return n;
}

/** --durability: culex's persistence_durability; undefined leaves culex's default. */
function durabilityOption(value: string | undefined): Durability | undefined {
  if (value === undefined) return undefined;
  if (!DURABILITIES.includes(value as Durability)) throw new Error(`--durability needs one of ${DURABILITIES.join(', ')}, not '${value}'`);
  return value as Durability;
}

const scenarios = selectScenarios(opts.scenario, opts.quick);
const rounds = intOption('rounds', opts.rounds, opts.quick ? 1 : 3, 1);
const brokers = opts.brokers.split(',').map((b) => b.trim()) as BrokerName[];
for (const b of brokers) if (!BROKER_NAMES.includes(b)) throw new Error(`unknown broker '${b}'`);
const settings: BrokerSettings = {
  maxInflight: intOption('max-inflight', opts['max-inflight'], 0, 0),
  maxQueued: intOption('max-queued', opts['max-queued'], 100000, 0),
  persistence: opts.persistence,
  workers: opts.workers === undefined ? undefined : intOption('workers', opts.workers, 0, 0),
  durability: durabilityOption(opts.durability),
};

/** The settings of one scenario's runs: its own persistence and queue limit over the global ones. */
function settingsFor(sc: Scenario): BrokerSettings {
  return {
    ...settings,
    persistence: settings.persistence || sc.persistence === true,
    // an explicit --max-queued wins over the scenario's own limit
    maxQueued: opts['max-queued'] === undefined && sc.maxQueued !== undefined ? sc.maxQueued : settings.maxQueued,
  };
}

const connsTotal = intOption('conns', opts.conns, 15000, 1);
const genProcs = intOption('gen-procs', opts['gen-procs'], 1, 1);
const extraArgs = opts['gen-args'].split(/\s+/).filter(Boolean);
const mqttArgs = ['--mqtt', opts.mqtt];

/** mqbench argument lists for one run: one per process (conns may need several). */
function generatorArgs(sc: Scenario, port: number, pid: number, label: string): string[][] {
  const base = [...sc.args, ...(opts.quick ? sc.quickArgs : []), ...mqttArgs, ...extraArgs,
    '--port', String(port), '--broker-pid', String(pid), '--label', label, '--progress', '1'];
  if (sc.conns === undefined) return genProcs === 1 ? [base] : splitGroups(sc, base);
  const total = opts.quick ? Math.min(connsTotal, 5000) : connsTotal;
  const procs = Math.ceil(total / MAX_CONNS_PER_PROCESS);
  return Array.from({ length: procs }, (_, k) => {
    const share = Math.floor(total / procs) + (k < total % procs ? 1 : 0);
    return [...base, '--conns', String(share), '--id-base', String(k * MAX_CONNS_PER_PROCESS),
      '--sources', '4', '--source-base', String(2 + 4 * k)];
  });
}

/** The value of flag `name` in `args` (the last one wins), or undefined. */
function flagValue(args: readonly string[], name: string): string | undefined {
  const i = args.lastIndexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

/**
 * A message scenario over genProcs processes: process k gets its share of the publishers (and of
 * the --rate) on its own topic prefix, and its own subscribers on that prefix (a separate fan-in
 * group), from its own four loopback source addresses.
 */
function splitGroups(sc: Scenario, base: readonly string[]): string[][] {
  const pubs = Number(flagValue(base, '--pubs') ?? 0);
  const rate = Number(flagValue(base, '--rate') ?? 0);
  const prefix = flagValue(base, '--topic-prefix') ?? 'city/lights';
  return Array.from({ length: genProcs }, (_, k) => {
    const share = Math.floor(pubs / genProcs) + (k < pubs % genProcs ? 1 : 0);
    const group = `${prefix}/g${k}`;
    const args = [...base, '--pubs', String(share), '--topic-prefix', group, '--id-prefix', `g${k}-`,
      '--sources', '4', '--source-base', String(2 + 4 * k)];
    const kind = flagValue(base, '--scenario');
    if (kind === 'fan-in') args.push('--filter', `${group}/#`);
    else if (kind === 'shared') args.push('--filter', `$share/ingest/${group}/#`);
    else throw new Error(`--gen-procs splits fan-in and shared scenarios only, not ${sc.name}`);
    if (rate > 0) args.push('--rate', String(rate / genProcs));
    return args;
  });
}

/**
 * Runs the scenario's unmeasured preparation (Scenario.prepare) against the started broker, in the
 * same protocol; throws unless every connection was made and the run ended cleanly.
 */
async function prepare(sc: Scenario, port: number, label: string): Promise<void> {
  if (!sc.prepare) return;
  const args = [...sc.prepare, ...mqttArgs, '--port', String(port), '--label', `${label}/prepare`];
  const r = await runGenerator(bin, args, { timeoutMs: generatorTimeoutMs(args) });
  if (!r.ok || r.connect.ok === 0) throw new Error(`preparation failed: mqbench ${args.join(' ')}\n${JSON.stringify(r.connect)}`);
}

function showProgress(line: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns || 120) - 1)}`);
  else if (opts.verbose) process.stderr.write(line + '\n');
}

/** Durable scenarios: acknowledgements first (PUBACK latency when this mqbench measures it), then deliveries. */
function ackLine(r: GeneratorResult): string {
  const a = r.ack_latency_us;
  const lat = a?.count ? `, PUBACK p50 ${human(a.p50 / 1000)} ms p99 ${human(a.p99 / 1000)} ms` : '';
  return `${human(r.ack_rate)} acked msg/s${lat}, ${human(r.recv_rate)} delivered msg/s, lost ${r.lost}`;
}

function oneLine(sc: Scenario, r: GeneratorResult): string {
  const b = r.broker;
  const main = sc.conns !== undefined
    ? `${human(r.connect.ok)} conns, ${human(r.broker?.rss_per_conn_bytes ?? 0)} B/conn, ${human(r.connect.rate_per_s)} conn/s`
    : sc.compare.includes('ackRate') ? ackLine(r)
    : `${human(r.recv_rate)} msg/s, p50 ${human(r.latency_us.p50 / 1000)} ms, p99 ${human(r.latency_us.p99 / 1000)} ms, lost ${r.lost}`;
  const cost = b ? `, broker cpu ${b.cpu_pct.toFixed(0)}% rss ${(b.rss_kb_max / 1024).toFixed(0)} MB` : '';
  const other = otherCpuPct(r);
  const noise = other !== undefined && other > 20 ? ` (other processes used ${other.toFixed(0)}% CPU)` : '';
  return `${main}${cost}, gen cpu ${r.gen.cpu_pct.toFixed(0)}%${r.gen.saturated ? ' SATURATED' : ''}${r.ok ? '' : ' INVALID'}${noise}`;
}

async function runOnce(sc: Scenario, broker: BrokerName, round: number): Promise<RunRecord> {
  const startedAt = new Date().toISOString();
  const running = await startBroker(broker, settingsFor(sc), repoRoot);
  try {
    await prepare(sc, running.port, `${sc.name}/${broker}/${round}`);
    const argLists = generatorArgs(sc, running.port, running.pid, `${sc.name}/${broker}/${round}`);
    const parts = await Promise.all(argLists.map((args, k) =>
      runGenerator(bin, args, { timeoutMs: generatorTimeoutMs(args), onProgress: k === 0 ? showProgress : undefined })));
    return { scenario: sc.name, broker, round, startedAt, result: sc.conns !== undefined ? mergeConnsResults(parts) : mergeMessageResults(parts) };
  } catch (err) {
    return { scenario: sc.name, broker, round, startedAt, error: `${(err as Error).message}\n${running.log().slice(-2000)}` };
  } finally {
    await running.stop();
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  }
}

const bin = buildGenerator(benchDir);
if (brokers.includes('mosquitto')) ensureMosquitto();
if (brokers.includes('culex') && !existsSync(path.join(repoRoot, 'src/cli/main.ts'))) {
  throw new Error('src/cli/main.ts not found: culex cannot be started; use --brokers mosquitto');
}
const machine = machineInfo();
const versions = Object.fromEntries(brokers.map((b) => [b, brokerVersion(b, repoRoot)]));
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
mkdirSync(opts.out, { recursive: true });
const jsonFile = path.join(opts.out, `bench-${stamp}.json`);
const runs: RunRecord[] = [];

function writeRaw(): void {
  const scenarioSettings = Object.fromEntries(scenarios.map((sc) => [sc.name, settingsFor(sc)]));
  const doc = { machine, versions, settings, scenarioSettings, options: opts, scenarios, runs, summary: summarize(scenarios, runs) };
  writeFileSync(jsonFile, JSON.stringify(doc, null, 2) + '\n');
}

/** culex's durability mode when given, and where a scenario overrides the global settings ('' when nothing does). */
function settingsNotes(): string {
  const notes = settings.durability !== undefined ? [`culex persistence_durability ${settings.durability}`] : [];
  for (const sc of scenarios) {
    const s = settingsFor(sc);
    const diff = [
      ...(s.persistence !== settings.persistence ? [`persistence ${s.persistence}`] : []),
      ...(s.maxQueued !== settings.maxQueued ? [`max_queued_messages ${s.maxQueued}`] : []),
    ];
    if (diff.length) notes.push(`${sc.name}: ${diff.join(', ')}`);
  }
  return notes.map((n) => `; ${n}`).join('');
}

installCleanupHandlers(writeRaw);
const t0 = Date.now();
process.stderr.write(`bench: ${describeMachine(machine)}\nbench: ${brokers.map((b) => `${b} ${versions[b]}`).join('; ')}\n` +
  `bench: ${scenarios.length} scenario(s) x ${brokers.length} broker(s) x ${rounds} round(s); ` +
  `max_inflight_messages ${settings.maxInflight}, max_queued_messages ${settings.maxQueued}, persistence ${settings.persistence}${settingsNotes()}\n`);

for (const sc of scenarios) {
  for (let round = 1; round <= rounds; round++) {
    for (const broker of brokers) {
      if (broker === 'floor' && sc.floor !== true) continue;
      const rec = await runOnce(sc, broker, round);
      runs.push(rec);
      writeRaw();
      const head = `${sc.name.padEnd(13)} ${String(round)}/${rounds} ${broker.padEnd(9)}`;
      process.stderr.write(`${head} ${rec.result ? oneLine(sc, rec.result) : `FAILED: ${rec.error}`}\n`);
    }
  }
}

const summaries = summarize(scenarios, runs);
writeRaw();
const subtitle = [describeMachine(machine), `${brokers.map((b) => `${b} ${versions[b]}`).join(', ')}; ${new Date().toISOString().slice(0, 16)}Z`];
const svgFile = path.join(opts.out, `ratios-${stamp}.svg`);
const svg = renderChart(summaries, subtitle);
writeFileSync(svgFile, svg);
writeFileSync(path.join(opts.out, 'latest.svg'), svg);
writeFileSync(path.join(opts.out, 'latest.json'), JSON.stringify({ machine, versions, settings, summary: summaries }, null, 2) + '\n');

// one line per scenario, broker and metric, to compare branches over time
const git = (args: string[]): string => runSync('git', args, repoRoot).output.trim();
const historyFile = path.join(opts.out, 'history.csv');
if (!existsSync(historyFile)) writeFileSync(historyFile, 'date,commit,branch,scenario,broker,metric,median,min,max,rounds\n');
const commit = git(['rev-parse', '--short', 'HEAD']);
const branch = git(['rev-parse', '--abbrev-ref', 'HEAD']);
for (const s of summaries) {
  for (const [b, x] of Object.entries(s.brokers)) {
    for (const [metric, v] of Object.entries(x.metrics)) {
      appendFileSync(historyFile, `${stamp},${commit},${branch},${s.scenario},${b},${metric},${v.median},${v.min},${v.max},${v.n}\n`);
    }
  }
}

const minutes = ((Date.now() - t0) / 60000).toFixed(1);
process.stdout.write(`\nMachine: ${describeMachine(machine)}; node ${machine.node}\n` +
  `Brokers: ${brokers.map((b) => `${b} ${versions[b]}`).join('; ')}\n` +
  `Settings: max_inflight_messages ${settings.maxInflight}, max_queued_messages ${settings.maxQueued}, ` +
  `persistence ${settings.persistence}${settings.workers !== undefined ? `, culex workers ${settings.workers}` : ''}${settingsNotes()}; ` +
  `MQTT ${opts.mqtt === '5' ? '5.0' : '3.1.1'}; ${rounds} round(s); ${minutes} min\n\n` +
  renderTables(summaries) + '\n\n' +
  `Metrics: ${Object.values(METRICS).map((m) => `${m.label} (${m.better} is better)`).join(', ')}\n` +
  `Raw results: ${jsonFile}\nChart: ${svgFile}\n`);
const invalid = runs.filter((r) => !r.result || !r.result.ok).length;
if (invalid) process.stderr.write(`bench: ${invalid} run(s) invalid or failed: see the raw results\n`);

/**
 * The brokers under test, started fresh for every run on a free loopback port with the same
 * mosquitto.conf options; culex gets its own options (`workers`, `persistence_durability`) on top;
 * the platform floor (floor.ts) reads the listener and `workers` lines only.
 * called from: main
 */
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, runSync, startChild, stopChild, waitForPort, type Child } from './processes.ts';

/** `floor`: the platform floor, a minimal Node forwarder (native-bench/floor.ts), not a broker */
export type BrokerName = 'culex' | 'mosquitto' | 'floor';
export const BROKER_NAMES: readonly BrokerName[] = ['culex', 'mosquitto', 'floor'];

export const MOSQUITTO_PATH = '/usr/sbin/mosquitto';

/** Working directories of running brokers, removed at exit even when a run is interrupted. */
const liveDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
});

/** culex's `persistence_durability` (Mosquitto has no such option) */
export type Durability = 'sync' | 'batch' | 'off';
export const DURABILITIES: readonly Durability[] = ['sync', 'batch', 'off'];

/** Options written identically into both brokers' configuration, and culex's own on top. */
export interface BrokerSettings {
  /** max_inflight_messages; 0 = no limit */
  readonly maxInflight: number;
  readonly maxQueued: number;
  readonly persistence: boolean;
  /** culex `workers`; undefined = culex's default (one per core) */
  readonly workers?: number;
  /** culex `persistence_durability`; undefined = culex's default (sync) */
  readonly durability?: Durability;
}

export interface RunningBroker {
  readonly name: BrokerName;
  readonly pid: number;
  readonly port: number;
  /** the broker's stderr so far */
  log(): string;
  stop(): Promise<void>;
}

/** The configuration file of `name` listening on `port`. */
export function brokerConf(name: BrokerName, port: number, s: BrokerSettings, dataDir: string): string {
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    `max_inflight_messages ${s.maxInflight}`,
    `max_queued_messages ${s.maxQueued}`,
    'set_tcp_nodelay true',
    `persistence ${s.persistence}`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'connection_messages false',
  ];
  if (s.persistence) lines.push(`persistence_location ${dataDir}${path.sep}`);
  if (name !== 'mosquitto' && s.workers !== undefined) lines.push(`workers ${s.workers}`);
  // culex only: Mosquitto refuses keys it does not know, and its `persistence true` is a periodic snapshot
  if (name === 'culex' && s.durability !== undefined) lines.push(`persistence_durability ${s.durability}`);
  return lines.join('\n') + '\n';
}

/**
 * Makes sure /usr/sbin/mosquitto exists: installs it with apt-get when running as root,
 * otherwise throws with the install command.
 */
export function ensureMosquitto(): void {
  if (existsSync(MOSQUITTO_PATH)) return;
  const hint = 'install it with: sudo apt-get install -y mosquitto mosquitto-clients';
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) throw new Error(`${MOSQUITTO_PATH} not found; ${hint}`);
  process.stderr.write('bench: mosquitto is missing, installing it with apt-get\n');
  runSync('apt-get', ['update']);
  const r = runSync('apt-get', ['install', '-y', 'mosquitto', 'mosquitto-clients']);
  if (r.code !== 0 || !existsSync(MOSQUITTO_PATH)) throw new Error(`apt-get install mosquitto failed:\n${r.output}\n${hint}`);
}

/** A one-line version string for the results. */
export function brokerVersion(name: BrokerName, repoRoot: string): string {
  if (name === 'mosquitto') {
    const out = runSync(MOSQUITTO_PATH, ['-h']).output;
    return /mosquitto version (\S+)/.exec(out)?.[1] ?? 'unknown';
  }
  if (name === 'floor') return `node ${process.version}`;
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const commit = runSync('git', ['rev-parse', '--short', 'HEAD'], repoRoot).output.trim();
  return `${pkg.version} (${commit}, node ${process.version})`;
}

function command(name: BrokerName, repoRoot: string, confFile: string): [string, string[]] {
  if (name === 'mosquitto') return [MOSQUITTO_PATH, ['-c', confFile]];
  if (name === 'floor') return [process.execPath, [path.join(repoRoot, 'native-bench/floor.ts'), '-c', confFile]];
  return [process.execPath, [path.join(repoRoot, 'src/cli/main.ts'), '-c', confFile]];
}

/**
 * Starts a fresh broker and waits until it accepts connections. Its data directory (used with
 * persistence) is a new, empty `data/` next to its configuration, removed when it stops.
 */
export async function startBroker(name: BrokerName, s: BrokerSettings, repoRoot: string): Promise<RunningBroker> {
  const dir = mkdtempSync(path.join(tmpdir(), `bench-${name}-`));
  liveDirs.add(dir);
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir);
  // Mosquitto started as root runs as user `mosquitto`: it must be able to write its data dir
  chmodSync(dir, 0o777);
  chmodSync(dataDir, 0o777);
  const port = await freePort();
  const confFile = path.join(dir, `${name}.conf`);
  writeFileSync(confFile, brokerConf(name, port, s, dataDir));
  const logFile = path.join(dir, 'stderr.log');
  const logFd = openSync(logFile, 'w');
  const [cmd, args] = command(name, repoRoot, confFile);
  let child: Child;
  try {
    child = startChild(cmd, args, { cwd: repoRoot, stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  let finalLog: string | undefined;
  const log = (): string => finalLog ?? (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const cleanup = (): void => {
    finalLog = log();
    rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  };
  try {
    await waitForPort(port, 30000, child.exited);
  } catch (err) {
    const text = log();
    await stopChild(child);
    cleanup();
    throw new Error(`${name} did not start: ${(err as Error).message}\n${text}`);
  }
  return {
    name,
    pid: child.pid,
    port,
    log,
    stop: async () => {
      await stopChild(child);
      cleanup();
    },
  };
}

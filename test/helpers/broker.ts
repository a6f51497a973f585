/**
 * Starts a broker for black-box tests: culex in-process through `startBroker`, or — with
 * CULEX_TEST_BROKER=mosquitto — a /usr/sbin/mosquitto process given the equivalent
 * mosquitto.conf, to check the tests themselves against the reference broker.
 * Tests that need something only culex has (stats, culex-only options) skip under Mosquitto
 * with `culexOnly`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import type { BrokerConfig } from '../../src/config/types.ts';
import { defaultConfig } from '../../src/config/defaults.ts';
import type { RunningBroker, StartOptions } from '../../src/server.ts';


/** Which broker the tests run against. */
export const brokerUnderTest: 'culex' | 'mosquitto' =
  process.env.CULEX_TEST_BROKER === 'mosquitto' ? 'mosquitto' : 'culex';

/** `skip` option value for tests that only make sense against culex. */
export const culexOnly: string | false =
  brokerUnderTest === 'mosquitto' ? 'culex-only (running against Mosquitto)' : false;

export interface TestBroker {
  /** the listener's port; in spread mode, each read names the next worker's private port */
  readonly port: number;
  /** mqtt://127.0.0.1:PORT, rotating like `port` */
  readonly url: string;
  /** the in-process culex broker (undefined under Mosquitto) */
  readonly running?: RunningBroker;
  readonly config: BrokerConfig;
  stop(): Promise<void>;
  /** broker counters (culex only) */
  stats(): Promise<Record<string, number>>;
}

/**
 * Spread mode (CULEX_TEST_WORKERS=N, N > 1): brokers run N workers, each with a private port, and
 * every read of TestBroker.port / url names the next worker's port, so consecutive clients of a
 * test land on different workers and every cross-worker path is taken.
 */
export const spreadWorkers = Math.max(1, Number(process.env.CULEX_TEST_WORKERS ?? 1) || 1);

/** The test base configuration: one loopback listener on a free port, no persistence, quiet. */
export function testConfig(overrides: Partial<BrokerConfig> = {}): BrokerConfig {
  return defaultConfig({
    listeners: [{ port: 0, host: '127.0.0.1', protocol: 'mqtt', maxConnections: -1 }],
    persistence: false,
    workers: spreadWorkers,
    sysInterval: 0,
    logTypes: [],
    logDest: ['none'],
    connectionMessages: false,
    ...overrides,
  });
}

/** Starts a broker with the test base configuration plus `overrides`. */
export async function startTestBroker(overrides: Partial<BrokerConfig> = {}, options: StartOptions = {}): Promise<TestBroker> {
  const config = testConfig(overrides);
  if (brokerUnderTest === 'mosquitto') return startMosquitto(config);
  // loaded lazily: the Mosquitto mode must not need src/server.ts
  const { startBroker } = await import('../../src/server.ts');
  const spread = spreadWorkers > 1 && config.workers > 1;
  const running: RunningBroker = await startBroker(config, { placement: spread, ...options });
  const ports = spread ? running.workerPorts : [running.ports[0]!];
  let next = 0;
  let stopped: Promise<void> | undefined;
  return {
    get port() {
      return ports[next++ % ports.length]!;
    },
    get url() {
      return `mqtt://127.0.0.1:${ports[next++ % ports.length]!}`;
    },
    running,
    config,
    stop: () => (stopped ??= running.stop()),
    stats: () => running.stats(),
  };
}

/**
 * Ports below Linux's ephemeral range (32768-60999), so that no port-0 bind in any process takes
 * them; each test process draws from its own block of 100 (by pid), so that two test files running
 * at once do not pick the same port between one's probe and its server's bind.
 */
const PORT_BLOCKS = { first: 10_000, count: 220, size: 100 } as const;
let nextInBlock = 0;

/** A port that was free a moment ago (for processes that need a port number up front). */
export async function freePort(): Promise<number> {
  const base = PORT_BLOCKS.first + (process.pid % PORT_BLOCKS.count) * PORT_BLOCKS.size;
  for (let tries = 0; tries < PORT_BLOCKS.size; tries++) {
    const port = base + (nextInBlock++ % PORT_BLOCKS.size);
    const srv = net.createServer();
    const free = await new Promise<boolean>((resolve) => {
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${base}..${base + PORT_BLOCKS.size - 1}`);
}

/** Resolves once something accepts TCP connections on the port; rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Is IPv6 loopback usable here (a listener can bind ::1)? */
export async function hasIpv6Loopback(): Promise<boolean> {
  const srv = net.createServer();
  const ok = await new Promise<boolean>((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(0, '::1', () => resolve(true));
  });
  srv.close();
  return ok;
}

/** A temporary directory removed by the returned cleanup. */
export function tempDir(prefix = 'culex-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Writes a Mosquitto 2.x password file (`user:$7$101$salt$hash`, PBKDF2-SHA512), as
 * `mosquitto_passwd` does, and returns its path.
 */
export function writePasswordFile(dir: string, users: Record<string, string>, name = 'passwd'): string {
  const lines = Object.entries(users).map(([user, password]) => {
    const salt = randomBytes(12);
    const hash = pbkdf2Sync(password, salt, 101, 64, 'sha512');
    return `${user}:$7$101$${salt.toString('base64')}$${hash.toString('base64')}`;
  });
  const file = path.join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** mosquitto.conf lines equivalent to `c` for the options both brokers have. */
function mosquittoConf(c: BrokerConfig, port: number): string {
  const lines = [
    `listener ${port} 127.0.0.1`,
    `max_connections ${c.listeners[0]!.maxConnections}`,
    'persistence false',
    'user root', // keep access to the test's temporary files when started as root
    'log_dest none',
    `allow_anonymous ${c.allowAnonymous}`,
    `allow_zero_length_clientid ${c.allowZeroLengthClientId}`,
    `auto_id_prefix ${c.autoIdPrefix}`,
    `max_keepalive ${c.maxKeepalive}`,
    `message_size_limit ${c.messageSizeLimit}`,
    `max_inflight_messages ${c.maxInflightMessages}`,
    `max_inflight_bytes ${c.maxInflightBytes}`,
    `max_queued_messages ${c.maxQueuedMessages}`,
    `max_queued_bytes ${c.maxQueuedBytes}`,
    `queue_qos0_messages ${c.queueQos0Messages}`,
    `retain_available ${c.retainAvailable}`,
    `max_qos ${c.maxQos}`,
    `upgrade_outgoing_qos ${c.upgradeOutgoingQos}`,
    `max_topic_alias ${c.maxTopicAlias}`,
    `set_tcp_nodelay ${c.setTcpNodelay}`,
  ];
  if (c.maxPacketSize > 0) lines.push(`max_packet_size ${c.maxPacketSize}`);
  if (c.passwordFile) lines.push(`password_file ${c.passwordFile}`);
  if (c.aclFile) lines.push(`acl_file ${c.aclFile}`);
  if (c.clientidPrefixes !== undefined) lines.push(`clientid_prefixes ${c.clientidPrefixes}`);
  lines.push(...listenerLines(c.listeners[0]!));
  return lines.join('\n') + '\n';
}

/** mosquitto.conf lines for the protocol and TLS settings of the test listener. */
function listenerLines(l: BrokerConfig['listeners'][number]): string[] {
  const lines: string[] = [];
  if (l.protocol === 'websockets') lines.push('protocol websockets');
  if (l.useUsernameAsClientid === true) lines.push('use_username_as_clientid true');
  const t = l.tls;
  if (t === undefined) return lines;
  lines.push(`certfile ${t.certfile}`, `keyfile ${t.keyfile}`, `require_certificate ${t.requireCertificate}`, `use_identity_as_username ${t.useIdentityAsUsername}`);
  if (t.cafile !== undefined) lines.push(`cafile ${t.cafile}`);
  if (t.useSubjectAsUsername === true) lines.push('use_subject_as_username true');
  if (t.crlfile !== undefined) lines.push(`crlfile ${t.crlfile}`);
  if (t.tlsVersion !== undefined) lines.push(`tls_version ${t.tlsVersion}`);
  if (t.ciphers !== undefined) lines.push(`ciphers ${t.ciphers}`);
  if (t.ciphersTls13 !== undefined) lines.push(`ciphers_tls1.3 ${t.ciphersTls13}`);
  return lines;
}

async function startMosquitto(config: BrokerConfig): Promise<TestBroker> {
  const port = await freePort();
  const tmp = tempDir('culex-mosq-');
  const confFile = path.join(tmp.dir, 'mosquitto.conf');
  writeFileSync(confFile, mosquittoConf(config, port));
  const proc: ChildProcess = spawn('/usr/sbin/mosquitto', ['-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  try {
    await Promise.race([
      waitForPort(port),
      exited.then(() => { throw new Error(`mosquitto exited: ${stderr}`); }),
    ]);
  } catch (e) {
    proc.kill('SIGKILL');
    tmp.cleanup();
    throw e;
  }
  let stopped: Promise<void> | undefined;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    config,
    stop: () => (stopped ??= (async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
      tmp.cleanup();
    })()),
    stats: () => Promise.reject(new Error('stats() is culex-only')),
  };
}

/** A culex CLI process (`node src/cli/main.ts ARGS`), with its output collected. */
export interface CliProcess {
  readonly proc: ChildProcess;
  /** stdout + stderr so far */
  output(): string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL if still running (teardown) */
  kill(): void;
}

const repoRoot = path.resolve(new URL('../..', import.meta.url).pathname);

/**
 * Spawns the culex CLI with the same Node binary as the test run, in `cwd` (give a temporary
 * directory: relative paths such as the default persistence location resolve there).
 */
export function startCli(args: readonly string[], cwd: string): CliProcess {
  return watched(spawn(process.execPath, [path.join(repoRoot, 'src/cli/main.ts'), ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
}

/** The real /usr/sbin/mosquitto on `confFile`, its log (stderr) as the output: the reference beside startCli. */
export function startMosquittoCli(confFile: string): CliProcess {
  return watched(spawn('/usr/sbin/mosquitto', ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

function watched(proc: ChildProcess): CliProcess {
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    output: () => out,
    exit,
    kill: () => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); },
  };
}

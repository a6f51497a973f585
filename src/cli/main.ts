#!/usr/bin/env node
/**
 * The `culex` command: `culex [-c FILE] [-p PORT] [-v]`. Loads the configuration, starts the
 * broker, stops it cleanly on SIGINT/SIGTERM; SIGHUP reloads the configuration file (as Mosquitto);
 * SIGUSR1/SIGUSR2 log a summary (never the inspector).
 * `culex SUBCOMMAND …` runs a subcommand instead (src/cli/subcommands.ts).
 * called from: main (bin/culex.mjs, `npm start`, the Docker image)
 */
import { ConfigError, loadConfigFile } from '../config/load.ts';
import type { BrokerConfig, ListenerConfig } from '../config/types.ts';
import { createLogger, logOptions } from '../log.ts';
import { startBroker, VERSION as version } from '../server.ts';
import { hostPort } from '../transport/bindAddresses.ts';
import { readConfig } from './configSource.ts';
import { SUBCOMMANDS } from './subcommands.ts';
import { daemonise, dropPrivileges, writePidFile } from './processOptions.ts';

const USAGE = `Usage: culex [-c CONFIG_FILE] [-d] [-p PORT] [-v]
       culex passwd [-H sha512-pbkdf2|sha512] [-I ITERATIONS] [-c | -D] PASSWORD_FILE USERNAME
       culex passwd [-H …] [-I …] [-c] -b PASSWORD_FILE USERNAME PASSWORD
       culex passwd [-H …] [-I …] -U PASSWORD_FILE
       culex check [-c CONFIG_FILE]
       culex import-mosquitto [-c CONFIG_FILE] [MOSQUITTO_DB]

Start the broker:
  -c, --config-file FILE  mosquitto.conf-syntax configuration (default: embedded, listener 1883 on loopback)
  -d, --daemon            go on in the background once the configuration has loaded (as Mosquitto's -d)
  -p, --port PORT         listen on PORT (replaces the default listener; adds one to a config file's)
  -v, --verbose           log everything (log_type all)
  -h, --help              this help
      --version           print the version

Subcommands (\`culex SUBCOMMAND --help\` for each one's options):
  passwd                  manage a password file, as mosquitto_passwd does (-c create, -b batch,
                          -D delete, -U hash a plain-text file, -H hash type, -I PBKDF2 iterations)
  check                   read the configuration (and the password, ACL and TLS files it names)
                          as a start would, print the effective one; exit 1 naming FILE:LINE
  import-mosquitto        copy Mosquitto's persistence file (retained messages, persistent sessions,
                          their subscriptions and queued messages) into culex's store; culex stopped

Signals: SIGINT/SIGTERM stop cleanly; SIGUSR1/SIGUSR2 log a summary of what the broker holds.`;

// `culex SUBCOMMAND …`: run it and exit, nothing of the broker starts
const subcommand = SUBCOMMANDS.get(process.argv[2] ?? '');
if (subcommand !== undefined) process.exit(await subcommand(process.argv.slice(3)));


function fail(message: string): never {
  process.stderr.write(`culex: ${message}\n`);
  process.exit(1);
}

let configFile: string | undefined;
let port: number | undefined;
let verbose = false;
let daemon = false;
const DAEMON_FLAGS: ReadonlySet<string> = new Set(['-d', '--daemon']);
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  switch (a) {
    case '-c':
    case '--config-file':
      configFile = args[++i] ?? fail(`${a} needs a file`);
      break;
    case '-p':
    case '--port': {
      const p = Number(args[++i]);
      if (!Number.isInteger(p) || p < 1 || p > 65535) fail(`${a} needs a port number 1-65535`);
      port = p;
      break;
    }
    case '-v':
    case '--verbose':
      verbose = true;
      break;
    case '-d':
    case '--daemon':
      daemon = true;
      break;
    case '-h':
    case '--help':
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    case '--version':
      process.stdout.write(`culex ${version}\n`);
      process.exit(0);
    default:
      fail(`unknown option '${a}'\n${USAGE}`);
  }
}

let config: BrokerConfig;
try {
  config = readConfig(configFile, (w) => process.stderr.write(`culex: warning: ${w}\n`));
} catch (err) {
  if (err instanceof ConfigError) fail(err.message);
  fail(`cannot read ${configFile}: ${err instanceof Error ? err.message : String(err)}`);
}
// -d: the configuration loaded; the broker goes on in the background (Mosquitto daemonises here too)
if (daemon) daemonise(args, DAEMON_FLAGS);
// Mosquitto's first lines: "mosquitto version 2.0.11 starting", "Config loaded from FILE."; then
// "Opening ipv4 listen socket on port 1883." (server.ts), "… running" and at the end "… terminating"
// The broker goes on with this logger (the main thread's one: one syslog child per thread).
const log = createLogger(logOptions(config, verbose));
log.notice(`culex version ${version} starting`);
log.notice(configFile === undefined ? 'Using default config.' : `Config loaded from ${configFile}.`);
if (port !== undefined) {
  const extra: ListenerConfig = { port, host: configFile === undefined ? '127.0.0.1' : undefined, protocol: 'mqtt', maxConnections: -1 };
  const listeners = configFile === undefined ? [extra] : config.listeners.some((l) => l.port === port) ? config.listeners : [...config.listeners, extra];
  config = Object.freeze({ ...config, listeners });
}

// signals are handled from the start: a worker may already accept connections while others start
let broker: Awaited<ReturnType<typeof startBroker>> | undefined;
let stopSignal: string | undefined;
const stopBroker = (b: NonNullable<typeof broker>) => {
  log.info(`culex version ${version} terminating`);
  b.stop().then(() => process.exit(0), (err: unknown) => {
    process.stderr.write(`culex: error while stopping: ${String(err as Error)}\n`);
    process.exit(1);
  });
};
/** The first SIGINT or SIGTERM stops the broker; during the start, once it runs. */
const stop = (signal: string) => {
  if (stopSignal !== undefined) return;
  stopSignal = signal;
  process.stderr.write(`culex: ${signal} received, stopping\n`);
  if (broker !== undefined) stopBroker(broker);
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
// Node's defaults would open the inspector on 127.0.0.1:9229 (SIGUSR1: code execution for any
// local process) and end the process (SIGUSR2). A listener replaces both. Mosquitto uses them to
// save its database and to print its subscriptions: culex has nothing to save (every message is
// committed as it is acknowledged), so both log what the broker holds.
/** the broker being started: a signal during the start is answered once it runs */
let starting: Promise<Awaited<ReturnType<typeof startBroker>>> | undefined;
const report = (signal: string) => {
  starting?.then((b) => b.stats()).then(
    (s) => process.stderr.write(`culex: ${signal}: ${s.clientsConnected ?? 0} clients connected, ${s.sessions ?? 0} sessions, ` +
      `${s.subscriptions ?? 0} subscriptions, ${s.retainedMessages ?? 0} retained messages\n`),
    () => {},
  );
};
process.on('SIGUSR1', () => report('SIGUSR1'));
process.on('SIGUSR2', () => report('SIGUSR2'));
// Mosquitto's reload signal: the configuration file is read again and what may change while
// running applies (RunningBroker.reload logs what changed, what needs a restart, or the error).
// Without a handler Node would end the process.
process.on('SIGHUP', () => {
  starting?.then((b) => b.reload()).catch(() => {});
});
/** The configuration file read again for a reload, with the command line's -p applied as at start. */
const reloadConfig = configFile === undefined ? undefined : () => {
  const loaded = loadConfigFile(configFile!);
  if (port === undefined || loaded.config.listeners.some((l) => l.port === port)) return loaded;
  const extra: ListenerConfig = { port, host: undefined, protocol: 'mqtt', maxConnections: -1 };
  return { ...loaded, config: Object.freeze({ ...loaded.config, listeners: [...loaded.config.listeners, extra] }) };
};

// pid_file before the listeners open, removed whenever the process ends by itself (Mosquitto)
if (config.pidFile !== undefined) {
  try {
    process.on('exit', writePidFile(config.pidFile));
  } catch (err) {
    fail((err as Error).message);
  }
}

try {
  starting = startBroker(config, { verbose, loadConfig: reloadConfig, log });
  broker = await starting;
  if (config.user !== undefined) {
    // once every listener is open (Mosquitto's drop_privileges); a failure stops the broker
    try {
      const note = dropPrivileges(config.user);
      if (note !== undefined) process.stderr.write(`culex: ${note}\n`);
    } catch (err) {
      await broker.stop().catch(() => {});
      throw err;
    }
  }
  const where = config.listeners.map((l, i) => `${broker!.addresses[i]!.map((a) => hostPort(a, broker!.ports[i]!)).join(' and ')} (${l.protocol}${l.tls ? '+tls' : ''})`).join(', ');
  const persistence = !config.persistence || config.persistenceDurability === 'off'
    ? 'off (memory only)'
    : `${config.persistenceDurability} in ${config.persistenceLocation} (sessions, their queued messages and retained messages on disk)`;
  process.stderr.write(`culex ${version} running on node ${process.version}: listening on ${where}; ${broker.workers} worker${broker.workers === 1 ? '' : 's'}; persistence ${persistence}\n`);
  log.info(`culex version ${version} running`);
  if (stopSignal !== undefined) stopBroker(broker);
} catch (err) {
  fail(`cannot start: ${err instanceof Error ? err.message : String(err)}`);
}

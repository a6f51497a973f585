/**
 * `culex import-mosquitto [-c CONFIG] [PATH]`: reads Mosquitto's persistence file PATH (default:
 * `mosquitto.db` in the configuration's persistence_location) and writes its retained messages,
 * persistent sessions, their subscriptions and their queued messages into culex's store at
 * persistence_location (src/migrate/). Refuses a store that a running culex holds
 * (src/persistence/lock.ts) and one that already holds sessions or retained messages.
 * called from: main (src/cli/main.ts), tests
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultConfig } from '../config/defaults.ts';
import { ConfigError, loadConfigFile } from '../config/load.ts';
import type { BrokerConfig } from '../config/types.ts';
import { lockDirectory } from '../persistence/lock.ts';
import { MOSQUITTO_DB_FILE } from '../persistence/mosquittoFile.ts';
import { Store } from '../persistence/store.ts';
import { StoreError } from '../persistence/errors.ts';
import { MosquittoDbError, readMosquittoDb } from '../migrate/mosquittoDb.ts';
import { planImport, writeImport } from '../migrate/mosquittoImport.ts';
import type { ImportCounts } from '../migrate/mosquittoImport.ts';

const USAGE = `Usage: culex import-mosquitto [-c CONFIG_FILE] [MOSQUITTO_DB]
  Imports Mosquitto's persistence file (retained messages, persistent sessions, their
  subscriptions and queued messages) into culex's store at persistence_location.
  -c, --config-file FILE  culex's configuration (gives persistence_location; default ./data)
  MOSQUITTO_DB            the file (default: mosquitto.db in persistence_location)
  Run it with culex stopped, into a store without sessions or retained messages.`;

/** Where the command writes; tests pass their own. */
export interface ImportOutput {
  out(line: string): void;
  err(line: string): void;
}

const processOutput: ImportOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`culex import-mosquitto: ${line}\n`),
};

/** Counts as the command prints them. */
export function describeCounts(c: ImportCounts): string {
  const left = c.expired + c.expiredSessions + c.orphans > 0
    ? `; left out: ${c.expiredSessions} expired sessions, ${c.expired} expired or missing messages, ${c.orphans} records of clients without a session`
    : '';
  return `${c.retained} retained messages, ${c.sessions} persistent sessions with ${c.subscriptions} subscriptions and ` +
    `${c.queued} queued messages (${c.inflight} in flight), ${c.incoming} incoming QoS 2 messages delivered${left}`;
}

/** Runs the command with `args` (after `import-mosquitto`); resolves to the exit code. */
export async function runImportMosquitto(args: string[], output: ImportOutput = processOutput): Promise<number> {
  let configFile: string | undefined;
  let dbFile: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-c' || a === '--config-file') {
      configFile = args[++i];
      if (configFile === undefined) return usage(output, `${a} needs a file`);
    } else if (a === '-h' || a === '--help') {
      output.out(USAGE);
      return 0;
    } else if (a.startsWith('-') || dbFile !== undefined) {
      return usage(output, `unexpected argument '${a}'`);
    } else {
      dbFile = a;
    }
  }

  let config: BrokerConfig;
  try {
    if (configFile === undefined) {
      config = defaultConfig({});
    } else {
      const loaded = loadConfigFile(configFile);
      config = loaded.config;
    }
  } catch (err) {
    output.err(err instanceof ConfigError ? err.message : `cannot read ${configFile}: ${(err as Error).message}`);
    return 1;
  }
  if (!config.persistence || config.persistenceDurability === 'off') {
    output.err(`persistence is off in ${configFile ?? 'the default configuration'}: there is no store to import into (set persistence true)`);
    return 1;
  }
  const location = config.persistenceLocation;
  const file = dbFile ?? path.join(location, MOSQUITTO_DB_FILE);

  let db;
  try {
    db = readMosquittoDb(readFileSync(file), file);
  } catch (err) {
    output.err(err instanceof MosquittoDbError ? err.message : `cannot read ${file}: ${(err as Error).message}`);
    return 1;
  }

  let lock;
  try {
    lock = lockDirectory(location); // a running culex holds it: refused, naming its pid
  } catch (err) {
    output.err(err instanceof StoreError ? err.message : String(err));
    return 1;
  }
  let store: Store | undefined;
  try {
    store = Store.open({ path: location, durability: 'sync', batchWindowMs: config.persistenceBatchWindowMs, log: { warning: output.err, error: (m) => output.err(m) } });
    const retained = store.loadRetained();
    const { sessions } = store.countSessions();
    if (retained.length > 0 || sessions > 0) {
      output.err(`the store in ${location} already holds ${sessions} persistent sessions and ${retained.length} retained messages: ` +
        'import into a persistence_location without sessions or retained messages');
      return 1;
    }
    // an earlier clean stop's marks would not count what is imported: the next start reads every entry
    store.takeCleanStop(0);
    const plan = planImport(db, Date.now(), 0, store.maxMessageSeq(), config.listeners.map((l) => l.port));
    writeImport(store, plan);
    await store.flush();
    output.out(`imported ${file} (Mosquitto database version ${db.version}) into ${location}: ${describeCounts(plan.counts)}`);
    if (db.unknownChunks > 0) output.err(`warning: ${db.unknownChunks} chunks of unknown types were skipped`);
    return 0;
  } catch (err) {
    output.err(`import into ${location} failed: ${(err as Error).message}`);
    return 1;
  } finally {
    await store?.close();
    lock.release();
  }
}

function usage(output: ImportOutput, problem: string): number {
  output.err(`${problem}\n${USAGE}`);
  return 1;
}

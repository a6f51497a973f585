/**
 * A culex broker as its own process on a data directory that outlives it: for tests that kill it
 * (SIGKILL) or stop it and start it again on the same directory. Every process and directory is
 * removed by `cleanupBrokerProcesses()` (call it from `after`).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { freePort, startCli, tempDir, waitForPort, type CliProcess } from './broker.ts';

const started: CliProcess[] = [];
const dirs: (() => void)[] = [];

/** Kills every broker process these helpers started and removes their directories. */
export function cleanupBrokerProcesses(): void {
  for (const p of started) p.kill();
  for (const cleanup of dirs) cleanup();
}

/** A fresh directory and port, and a configuration with persistence in `<dir>/data` and 2 workers. */
export async function brokerDir(extra: readonly string[] = []): Promise<{ dir: string; port: number; conf: string }> {
  const { dir, cleanup } = tempDir('culex-restart-');
  dirs.push(cleanup);
  const port = await freePort();
  const conf = path.join(dir, 'culex.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true',
    `persistence_location ${path.join(dir, 'data')}`, 'workers 2', ...extra].join('\n') + '\n');
  return { dir, port, conf };
}

/** Waits until `p` listens on `port`; fails with the process's output if it exits first. */
export async function untilListening(p: CliProcess, port: number): Promise<void> {
  await Promise.race([waitForPort(port, 30000), p.exit.then((e) => { throw new Error(`culex exited ${JSON.stringify(e)} before listening:\n${p.output()}`); })]);
}

/** Starts `culex -c conf` in `cwd` and waits until it listens on `port`. */
export async function startBrokerProcess(conf: string, cwd: string, port: number): Promise<CliProcess> {
  const p = startCli(['-c', conf], cwd);
  started.push(p);
  await untilListening(p, port);
  return p;
}

/** MQTT.js connected to 127.0.0.1:port (no reconnects), with the CONNACK it got. */
export function connectTo(port: number, opts: IClientOptions = {}): Promise<{ client: MqttClient; connack: IConnackPacket }> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 10000, protocolVersion: 4, ...opts });
    client.once('connect', (connack) => resolve({ client, connack }));
    client.once('error', reject);
  });
}

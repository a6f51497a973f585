/**
 * A nats-server with JetStream and culex nodes joined through it (issue 17), all processes of
 * this test, on loopback. `stopCluster()` kills what was started, by PID (call it from `after`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort, tempDir, waitForPort, type CliProcess } from './broker.ts';
import { brokerDir, cleanupBrokerProcesses, startBrokerProcess } from './brokerProcess.ts';

export const NATS_SERVER = '/usr/sbin/nats-server';
/** false, or why the cluster tests are skipped */
export const natsMissing: false | string = spawnSync(NATS_SERVER, ['--version']).error === undefined ? false : 'nats-server not installed';

export interface Nats {
  readonly port: number;
  readonly url: string;
  readonly proc: ChildProcess;
}

export interface Node {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly conf: string;
  proc: CliProcess;
}

const natsProcs: ChildProcess[] = [];
const natsDirs: (() => void)[] = [];

/** Starts `nats-server -js` on a free port with its store in a temporary directory. */
export async function startNats(): Promise<Nats> {
  const port = await freePort();
  const { dir, cleanup } = tempDir('culex-nats-');
  natsDirs.push(cleanup);
  const proc = spawn(NATS_SERVER, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', path.join(dir, 'js')], { stdio: 'ignore' });
  natsProcs.push(proc);
  await waitForPort(port);
  return { port, url: `nats://127.0.0.1:${port}`, proc };
}

/** Starts culex node `name` (2 workers, persistence in its own directory) joined through `nats`. */
export async function startNode(nats: Nats, name: string, extra: readonly string[] = []): Promise<Node> {
  const { dir, port, conf } = await brokerDir([`cluster_nats_url ${nats.url}`, `cluster_node_name ${name}`, ...extra]);
  const proc = await startBrokerProcess(conf, dir, port);
  return { name, port, url: `mqtt://127.0.0.1:${port}`, dir, conf, proc };
}

/** Kills the culex nodes and the nats-servers started here. */
export function stopCluster(): void {
  cleanupBrokerProcesses();
  for (const p of natsProcs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const cleanup of natsDirs) cleanup();
}

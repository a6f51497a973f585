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
  /** its JetStream store is in `<dir>/js` */
  readonly dir: string;
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

/**
 * Starts `nats-server -js` on a free port with its store in a temporary directory; or, given
 * `again`, a new server on the same port and store (a NATS restart).
 */
export async function startNats(again?: Nats): Promise<Nats> {
  const port = again?.port ?? (await freePort());
  let dir = again?.dir;
  if (dir === undefined) {
    const tmp = tempDir('culex-nats-');
    natsDirs.push(tmp.cleanup);
    dir = tmp.dir;
  }
  const proc = spawn(NATS_SERVER, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', path.join(dir, 'js')], { stdio: 'ignore' });
  natsProcs.push(proc);
  await waitForPort(port);
  return { port, url: `nats://127.0.0.1:${port}`, proc, dir };
}

/** SIGKILL of a nats-server started here; resolves once it has exited. */
export async function killNats(nats: Nats): Promise<void> {
  const exited = new Promise((resolve) => nats.proc.once('exit', resolve));
  nats.proc.kill('SIGKILL');
  await exited;
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

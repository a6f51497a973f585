/**
 * The control plane: starts and supervises the worker threads, answers their password checks,
 * aggregates their counters. Never touches a client socket.
 * called from: main
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createServer } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { BrokerConfig } from './config/types.ts';
import { needsPasswordCheck } from './config/listenerSecurity.ts';
import { createLogger, logOptions, type Logger } from './log.ts';
import { sumCounters } from './metrics/counters.ts';
import { startMetricsServer } from './metrics/prometheus.ts';
import { sysTopics } from './metrics/sys.ts';
import type { FromWorker, ToWorker, WorkerInit } from './workers/messages.ts';
import { createClusterShared, markWorkerDead, State as SharedState } from './workers/shared.ts';

export interface RunningBroker {
  readonly config: BrokerConfig;
  /** actual listening ports, in listener order (port 0 in config → a free port) */
  readonly ports: readonly number[];
  readonly workers: number;
  /** with StartOptions.placement: per worker, a loopback port only that worker listens on */
  readonly workerPorts: readonly number[];
  /** Ends worker `index` abruptly (as a crash would) and resolves when its replacement serves. For tests. */
  killWorker(index: number): Promise<void>;
  /** The main thread's logger; its reopen() reopens the log file in every worker as well. */
  readonly log: Logger;
  /** graceful stop: listeners closed, clients told (v5 DISCONNECT 0x8B), resolves when done */
  stop(): Promise<void>;
  /** broker-wide counters summed over the workers */
  stats(): Promise<Record<string, number>>;
  /** each worker's counters, by worker index */
  workerStats(): Promise<Record<string, number>[]>;
}

export interface StartOptions {
  readonly verbose?: boolean;
  readonly log?: Logger;
  /** test placement: give every worker a private loopback port (RunningBroker.workerPorts) */
  readonly placement?: boolean;
  /** bytes of each ring between two workers (tests use small rings to reach the full-ring paths) */
  readonly ringBytes?: number;
}

/** Finds a free TCP port on `host` (for listeners configured with port 0). */
function freePort(host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ port: 0, host }, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const WORKER_URL = new URL('./workers/worker.ts', import.meta.url);
/**
 * A worker's young generation (V8 semi-spaces). Node's default lets a scavenge pause the event
 * loop for several milliseconds; smaller is shorter. Measured (smart-city: 10k publishers at
 * 5k msg/s, 1 worker): p99 2.8-10 ms at the default, 1.2-2.7 ms at 4 MB semi-spaces with no
 * loss of fan-in throughput, 1.0-1.7 ms at 2 MB but 22% less fan-in QoS 1 throughput.
 */
const YOUNG_GENERATION_MB = 12;
/** the package version, for `$SYS/broker/version` and the start-up line */
export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export async function startBroker(config: BrokerConfig, opts: StartOptions = {}): Promise<RunningBroker> {
  const own = opts.log ?? createLogger(logOptions(config, opts.verbose));
  // each worker holds its own descriptor of the log file: reopening it (SIGHUP, logrotate) reopens theirs too
  const log: Logger = {
    ...own,
    reopen: () => {
      own.reopen();
      for (const w of workers) w.postMessage({ type: 'logReopen' } satisfies ToWorker);
    },
  };
  const ports: number[] = [];
  for (const l of config.listeners) ports.push(l.port === 0 ? await freePort(l.host) : l.port);
  const n = Math.max(1, config.workers > 0 ? config.workers : availableParallelism());
  const shared = n > 1 ? createClusterShared(n, config.listeners.length, opts.ringBytes) : undefined;
  const persistent = config.persistence && config.persistenceDurability !== 'off';
  // one broker per persistence_location: a second one refuses to start, naming the first one's pid
  const lock = persistent ? (await import('./persistence/lock.ts')).lockDirectory(config.persistenceLocation) : undefined;
  if (persistent) {
    const started = performance.now();
    const check = await (await import('./persistence/startup.ts')).checkStore(config, log, n).catch((err: unknown) => {
      lock?.release();
      throw err;
    });
    if (shared !== undefined) Atomics.store(new Int32Array(shared.state), SharedState.retainStamp, check.retainStamp);
    log.info(
      `persistence: ${check.retained} retained messages, ${check.sessions} persistent sessions with ${check.queued} queued messages ` +
        `(${check.messages} in the shared message log) in ${config.persistenceLocation}, checked in ${Math.round(performance.now() - started)} ms`,
    );
  }
  const workerPorts: number[] = [];
  if (opts.placement === true) for (let i = 0; i < n; i++) workerPorts.push(await freePort('127.0.0.1'));
  // the dynamic security plugin: its file is read before any worker starts (a bad one stops the start)
  const dynsec = config.dynamicSecurity === undefined
    ? undefined
    : (await import('./auth/dynsec/engine.ts')).DynamicSecurity.open(config.dynamicSecurity.configFile, log);
  const remoteAuth = needsPasswordCheck(config) || dynsec !== undefined;
  // loaded only when needed: it brings a piscina pool
  const authModule = remoteAuth ? await import('./auth/authenticator.ts') : undefined;
  const authenticator = authModule === undefined ? undefined : new authModule.Authenticator(authModule.authSettingsOf(config));

  let stopping = false;
  const statsWaiters = new Map<number, { left: number; parts: Record<string, number>[]; resolve: (r: Record<string, number>[]) => void }>();
  let nextStatsId = 1;
  const workers: Worker[] = [];
  /**
   * Workers open their listeners only once all of them have loaded their state; a replacement
   * started later opens them as soon as it has.
   */
  const waitingToListen: Worker[] = [];
  /** every worker thread started, for the clean-up of a failed start */
  const created: Worker[] = [];
  let allLoaded = false;
  const onLoaded = (w: Worker): void => {
    if (allLoaded) {
      w.postMessage({ type: 'listen' } satisfies ToWorker);
      return;
    }
    waitingToListen.push(w);
    if (waitingToListen.length < n) return;
    allLoaded = true;
    for (const x of waitingToListen.splice(0)) x.postMessage({ type: 'listen' } satisfies ToWorker);
  };
  /** resolvers of killWorker(), by worker index */
  const replaced = new Map<number, () => void>();

  const spawn = (index: number): Promise<Worker> =>
    new Promise((resolve, reject) => {
      const init: WorkerInit = {
        index, config, ports, verbose: opts.verbose === true, remoteAuth, cluster: shared, privatePort: workerPorts[index],
        dynsec: dynsec?.snapshot(),
      };
      const w = new Worker(WORKER_URL, { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
      created.push(w);
      let ready = false;
      w.on('message', (msg: FromWorker) => {
        switch (msg.type) {
          case 'loaded':
            onLoaded(w);
            return;
          case 'ready':
            ready = true;
            resolve(w);
            return;
          case 'fatal':
            reject(new Error(msg.message));
            return;
          case 'stats': {
            const waiter = statsWaiters.get(msg.id);
            if (waiter === undefined) return;
            waiter.parts[index] = msg.counters;
            if (--waiter.left === 0) {
              statsWaiters.delete(msg.id);
              waiter.resolve(waiter.parts);
            }
            return;
          }
          case 'auth': {
            const reply = (result: 'ok' | 'bad_credentials' | 'not_authorized' | 'error') =>
              w.postMessage({ type: 'authResult', id: msg.id, result } satisfies ToWorker);
            const password = msg.password === undefined ? undefined : Buffer.from(msg.password);
            const fallback = () => authenticator!.check(msg.username, password, msg.listener);
            const checked = dynsec === undefined
              ? fallback()
              : dynsec.check(msg.clientId, msg.username, password, config.passwordFile !== undefined, fallback);
            checked.then(reply, (err: unknown) => {
              log.error('password check failed', err);
              reply('error');
            });
            return;
          }
          case 'dynsec':
            // the new rules reach every worker before the response reaches the requester
            dynsec?.control(msg.payload, { clientId: msg.clientId, username: msg.username }).then((r) => {
              if (stopping) return;
              if (r.snapshot !== undefined || r.kick !== undefined) {
                // every thread ever started (a dead one ignores it): a replacement still starting must not miss it
                for (const x of created) x.postMessage({ type: 'dynsecUpdate', snapshot: r.snapshot, kick: r.kick } satisfies ToWorker);
              }
              w.postMessage({ type: 'dynsecResponse', payload: r.response } satisfies ToWorker);
            }, (err: unknown) => log.error('dynamic security request failed', err));
            return;
          case 'stopped':
            return;
        }
      });
      w.on('error', (err) => {
        if (!ready) reject(err);
        else log.error(`worker ${index} died`, err);
      });
      w.on('exit', (code) => {
        if (stopping || !ready) return;
        // a dead worker is replaced; its clients reconnect to the others or to the new one
        log.error(`worker ${index} exited with code ${code}; starting a replacement`);
        if (shared !== undefined) {
          markWorkerDead(shared, index);
          for (const other of workers) if (other !== w) other.postMessage({ type: 'peerDown', index } satisfies ToWorker);
        }
        spawn(index).then(
          (nw) => {
            workers[index] = nw;
            replaced.get(index)?.();
            replaced.delete(index);
          },
          (err: unknown) => log.error(`worker ${index} could not be restarted`, err),
        );
      });
    });

  try {
    // all at once: a worker accepts as soon as it listens, so starting them one after another
    // would crowd the first connections onto the first workers
    workers.push(...(await Promise.all(Array.from({ length: n }, (_, i) => spawn(i)))));
  } catch (err) {
    // one failed: the others may be waiting for a go-ahead that will not come
    stopping = true;
    await Promise.all(created.map((w) => w.terminate()));
    await authenticator?.close();
    lock?.release();
    throw err;
  }

  // log_dest topic: once every worker serves, the main thread's lines are published by the first one
  // (a publish reaches the subscribers of every worker)
  own.attachTopic((entries) => {
    if (!stopping) workers[0]?.postMessage({ type: 'logPublish', entries } satisfies ToWorker);
  });

  /** every worker's counters, by worker index */
  const workerStats = (): Promise<Record<string, number>[]> =>
    new Promise((resolve) => {
      const id = nextStatsId++;
      statsWaiters.set(id, { left: workers.length, parts: [], resolve });
      for (const w of workers) w.postMessage({ type: 'stats', id } satisfies ToWorker);
    });
  const stats = async (): Promise<Record<string, number>> => sumCounters(await workerStats());

  const m = config.metricsListener;
  const metrics = m === undefined ? undefined : await startMetricsServer(m.host, m.port, workerStats, () => !stopping && workers.length === n);

  const startedAt = Date.now();
  const lastSys = new Map<string, string>();
  const publishSys = async () => {
    const entries = sysTopics(await stats(), VERSION, Math.floor((Date.now() - startedAt) / 1000)).filter(([t, v]) => lastSys.get(t) !== v);
    for (const [t, v] of entries) lastSys.set(t, v);
    if (entries.length > 0 && !stopping) for (const w of workers) w.postMessage({ type: 'sys', entries } satisfies ToWorker);
  };
  const sysTimer = config.sysInterval > 0 ? setInterval(() => void publishSys(), config.sysInterval * 1000) : undefined;
  sysTimer?.unref();
  if (sysTimer !== undefined) await publishSys();

  return {
    config,
    log,
    ports,
    workers: n,
    workerPorts,
    stats,
    workerStats,
    killWorker(index: number): Promise<void> {
      return new Promise((resolve) => {
        replaced.set(index, resolve);
        void workers[index]!.terminate();
      });
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      clearInterval(sysTimer);
      metrics?.close();
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              const t = setTimeout(() => resolve(), 3000);
              w.on('message', (m: FromWorker) => {
                if (m.type === 'stopped') {
                  clearTimeout(t);
                  resolve();
                }
              });
              w.postMessage({ type: 'stop' } satisfies ToWorker);
            }),
        ),
      );
      await Promise.all(workers.map((w) => w.terminate()));
      await authenticator?.close();
      lock?.release();
    },
  };
}

/**
 * The control plane: starts and supervises the worker threads, answers their password checks,
 * aggregates their counters, applies configuration reloads. Never touches a client socket.
 * called from: main
 */
import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { checkPortFree } from './transport/portCheck.ts';
import { bindAddresses, type BindAddress } from './transport/bindAddresses.ts';
import { checkTlsFiles } from './transport/tlsServer.ts';
import { Worker } from 'node:worker_threads';
import type { BrokerConfig } from './config/types.ts';
import { listenerSecurity, needsPasswordCheck } from './config/listenerSecurity.ts';
import { ConfigError } from './config/errors.ts';
import { createLogger, logOptions, type Logger } from './log.ts';
import { startObservability } from './workers/observability.ts';
import { applyReloadable, diffReloadable } from './config/reload.ts';
import { aclAuthorizerOf } from './auth/aclAuthorizer.ts';
import { parsePskFile } from './auth/pskFile.ts';
import type { FromWorker, ToWorker, WorkerInit } from './workers/messages.ts';
import { createClusterShared, markWorkerDead, State as SharedState } from './workers/shared.ts';
import { ReloadGate } from './workers/reloadGate.ts';
import { ReportCollector } from './metrics/collect.ts';
import type { ReportDetail } from './metrics/report.ts';
import type { RefTally } from './records/stored.ts';

/** What a configuration reload did (RunningBroker.reload). */
export interface ReloadResult {
  /** false: the configuration (or a password/acl file it names) is wrong, and nothing changed */
  readonly ok: boolean;
  /** when !ok: the error, naming file and line (ConfigError's message) */
  readonly error?: string;
  /** reloadable options that changed and now apply, by mosquitto.conf name */
  readonly applied: readonly string[];
  /** options that changed but take effect only after a restart */
  readonly restartNeeded: readonly string[];
  /** connected clients closed because the reloaded password rules no longer let them in */
  readonly disconnected: number;
}

export interface RunningBroker {
  /** the configuration in force (a reload replaces its reloadable options) */
  readonly config: BrokerConfig;
  /** actual listening ports, in listener order (port 0 in config → a free port) */
  readonly ports: readonly number[];
  /** each listener's addresses, in listener order: one listening socket each, on its port */
  readonly addresses: readonly (readonly BindAddress[])[];
  readonly workers: number;
  /** with StartOptions.placement: per worker, a loopback port only that worker listens on */
  readonly workerPorts: readonly number[];
  /** Ends worker `index` abruptly (as a crash would) and resolves when its replacement serves. For tests. */
  killWorker(index: number): Promise<void>;
  /**
   * Reads the configuration again (StartOptions.loadConfig) and applies what may change while
   * running, as Mosquitto does on SIGHUP: password and acl files, allow_anonymous, limits;
   * connected clients the new password rules refuse are closed. A configuration that fails to
   * load changes nothing. Reloads run one at a time.
   */
  reload(): Promise<ReloadResult>;
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
  /** how reload() reads the configuration again (the culex command: the -c file, with its command line applied); without it reload() fails */
  readonly loadConfig?: () => { readonly config: BrokerConfig; readonly warnings?: readonly string[] };
}

/**
 * The configuration a reload moves to, the acl_file and psk_file texts it names (read and
 * parsed here, so that a bad line fails the whole reload before anything changes) and what
 * changed.
 * @throws ConfigError naming the file and line
 */
function prepareReload(current: BrokerConfig, loaded: BrokerConfig): {
  next: BrokerConfig;
  aclFiles: Record<string, string>;
  pskFiles: Record<string, string>;
  diff: ReturnType<typeof diffReloadable>;
} {
  const next = applyReloadable(current, loaded);
  const aclFiles = readSecurityFiles(next, 'aclFile');
  aclAuthorizerOf(next, (path) => aclFiles[path]!);
  return { next, aclFiles, pskFiles: readPskFiles(next), diff: diffReloadable(current, loaded) };
}

/**
 * The text of every acl_file (`field` aclFile) or psk_file (pskFile) `config` names, by path.
 * @throws ConfigError naming a file that cannot be read
 */
function readSecurityFiles(config: BrokerConfig, field: 'aclFile' | 'pskFile'): Record<string, string> {
  const paths = new Set<string>();
  const global = config[field];
  if (global !== undefined) paths.add(global);
  if (config.perListenerSettings) for (let i = 0; i < config.listeners.length; i++) {
    const p = listenerSecurity(config, i)[field];
    if (p !== undefined) paths.add(p);
  }
  const texts: Record<string, string> = {};
  for (const p of paths) {
    try {
      texts[p] = readFileSync(p, 'utf8');
    } catch (err) {
      throw new ConfigError(p, 0, `cannot read ${field === 'aclFile' ? 'acl' : 'psk'} file: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return texts;
}

/** Every psk_file `config` names, read and checked by path. @throws ConfigError naming the file and line */
function readPskFiles(config: BrokerConfig): Record<string, string> {
  const texts = readSecurityFiles(config, 'pskFile');
  for (const [path, text] of Object.entries(texts)) parsePskFile(text, path);
  return texts;
}

const WORKER_URL = new URL('./workers/worker.ts', import.meta.url);
/** Node's compile cache for the workers (see spawn): in the package's node_modules, which is culex's own */
const COMPILE_CACHE_URL = new URL('../node_modules/.cache/node-compile-cache', import.meta.url);
/**
 * A worker's young generation (V8 semi-spaces). Node's default lets a scavenge pause the event
 * loop for several milliseconds; smaller is shorter. Measured (smart-city: 10k publishers at
 * 5k msg/s, 1 worker): p99 2.8-10 ms at the default, 1.2-2.7 ms at 4 MB semi-spaces with no
 * loss of fan-in throughput, 1.0-1.7 ms at 2 MB but 22% less fan-in QoS 1 throughput.
 */
const YOUNG_GENERATION_MB = 12;
/** How long a stop waits for each worker to say it stopped (its last commit, the clean stop's tallies) before ending it. */
const STOP_WAIT_MS = 30_000;
/** the package version, for `$SYS/broker/version` and the start-up line */
export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export async function startBroker(config: BrokerConfig, opts: StartOptions = {}): Promise<RunningBroker> {
  /** the configuration in force; `config` stays the one the broker started with */
  let current = config;
  const own = opts.log ?? createLogger(logOptions(config, opts.verbose));
  // each worker holds its own descriptor of the log file: reopening it (SIGHUP, logrotate) reopens theirs too
  const log: Logger = Object.assign(Object.create(own) as Logger, {
    reopen: () => {
      own.reopen();
      for (const w of workers) w.postMessage({ type: 'logReopen' } satisfies ToWorker);
    },
  });
  // every psk_file is checked before anything starts, as Mosquitto's mosquitto_security_init_default
  readPskFiles(config);
  /** each listener's addresses, one socket each (Mosquitto's "Opening ipv4 listen socket on port 1883.") */
  const addresses = await Promise.all(config.listeners.map((l) => bindAddresses(l, (w) => log.warning(w))));
  config.listeners.forEach((l, i) => {
    checkPortFree(l, addresses[i]!);
    if (l.tls?.pskHint !== undefined && listenerSecurity(config, i).pskFile === undefined) {
      // Mosquitto's man page: "If this option is provided but psk_file is not, then no clients will be able to connect"
      log.warning(`listener ${l.port}: psk_hint without a psk_file: no client will be able to connect to it`);
    }
    if (l.protocol === 'websockets') log.info(`Opening websockets listen socket on port ${l.port}.`);
    else for (const a of addresses[i]!) log.info(`Opening ipv${a.family} listen socket on port ${l.port}.`);
  });
  // a node whose NATS does not answer stops here, before its workers open the store
  if (config.clusterNatsUrls.length > 0) await (await import('./nats/reachable.ts')).checkNatsReachable(config.clusterNatsUrls);
  /** listener ports: as configured, a 0 replaced by the port the first worker to listen was given */
  const ports = config.listeners.map((l) => l.port);
  const n = Math.max(1, config.workers > 0 ? config.workers : availableParallelism());
  const shared = n > 1 ? createClusterShared(n, config.listeners.length, opts.ringBytes) : undefined;
  const persistent = config.persistence && config.persistenceDurability !== 'off';
  // one broker per persistence_location: a second one refuses to start, naming the first one's pid
  const lock = persistent ? (await import('./persistence/lock.ts')).lockDirectory(config.persistenceLocation) : undefined;
  /** this run's id in what its clean stop writes, and the last run's whose clean stop holds (src/persistence/cleanStop.ts) */
  const run = randomInt(1, 2 ** 47);
  let cleanRun: number | undefined;
  /** the reference counts the pass after a crash made, by worker (shared memory), until every worker has loaded */
  let passRefs: readonly RefTally[] | undefined;
  if (persistent) {
    const started = performance.now();
    const check = await (await import('./persistence/startup.ts')).checkStore(config, log, n).catch((err: unknown) => {
      lock?.release();
      throw err;
    });
    if (shared !== undefined) Atomics.store(new Int32Array(shared.state), SharedState.retainStamp, check.retainStamp);
    cleanRun = check.cleanRun;
    passRefs = check.refs;
    log.info(
      `persistence: ${check.retained} retained messages, ${check.sessions} persistent sessions with ${check.queued} queued messages ` +
        `(${check.messages} in the shared message log) in ${config.persistenceLocation}, checked in ${Math.round(performance.now() - started)} ms` +
        (check.unclean === undefined ? (cleanRun !== undefined ? ' (clean stop: queued entries left unread)' : '') : check.queued === 0 ? '' : ` (every queued entry read: ${check.unclean})`),
    );
  }
  /** test placement: each worker's private port (0 until it listens on a free one) */
  const workerPorts: number[] = opts.placement === true ? new Array<number>(n).fill(0) : [];
  // the dynamic security plugin: its file is read before any worker starts (a bad one stops the start)
  const dynsec = config.dynamicSecurity === undefined
    ? undefined
    : (await import('./auth/dynsec/engine.ts')).DynamicSecurity.open(config.dynamicSecurity.configFile, log);
  let remoteAuth = needsPasswordCheck(config) || dynsec !== undefined;
  // loaded only when needed: it brings a piscina pool
  const authModule = remoteAuth ? await import('./auth/authenticator.ts') : undefined;
  /** created at start or by the first reload that needs it */
  let authenticator = authModule === undefined ? undefined : new authModule.Authenticator(authModule.authSettingsOf(config));

  let stopping = false;
  /** reloads waiting for workers' 'reloaded': the workers yet to answer (one that exits no longer counts) */
  const reloadWaiters = new Map<number, { pending: Set<Worker>; disconnected: number; resolve: (disconnected: number) => void }>();
  const reloadAnswered = (id: number, w: Worker, disconnected: number): void => {
    const waiter = reloadWaiters.get(id);
    if (waiter === undefined || !waiter.pending.delete(w)) return;
    waiter.disconnected += disconnected;
    if (waiter.pending.size > 0) return;
    reloadWaiters.delete(id);
    waiter.resolve(waiter.disconnected);
  };
  /** worker threads that have exited (a dead one is in `workers` until its replacement serves) */
  const exited = new Set<Worker>();
  let nextReloadId = 1;
  const workers: Worker[] = [];
  /** by worker index: serving (false from its death until its replacement serves) */
  const up: boolean[] = new Array<boolean>(n).fill(false);
  let restarts = 0;
  const reports = new ReportCollector((i: number, id: number, detail: ReportDetail) => workers[i]?.postMessage({ type: 'stats', id, detail } satisfies ToWorker));
  /**
   * Workers open their listeners only once all of them have loaded their state; a replacement
   * started later opens them as soon as it has.
   */
  const waitingToListen: (readonly [Worker, number])[] = [];
  /** every worker thread started, for the clean-up of a failed start */
  const created: Worker[] = [];
  /** CONNECTs after a SIGHUP wait for its reload (reload() asks, each worker settles) */
  const reloadGate = ReloadGate.create(n);
  let allLoaded = false;
  const listen = (w: Worker, index: number): void => {
    w.postMessage({ type: 'listen', ports, addresses, privatePort: workerPorts[index] } satisfies ToWorker);
  };
  /** the workers that wait for the first one to bind a port 0 */
  let listenRest: (() => void) | undefined;
  const onLoaded = (w: Worker, index: number): void => {
    if (allLoaded) return listen(w, index);
    waitingToListen.push([w, index]);
    if (waitingToListen.length < n) return;
    allLoaded = true;
    passRefs = undefined;
    const rest = waitingToListen.splice(0);
    // a port 0 becomes the port the first worker's bind got (never one in use, here or elsewhere);
    // the others then join it. Otherwise all at once: the first to listen would get the first clients
    if (ports.includes(0)) {
      const [w0, i0] = rest.shift()!;
      listenRest = () => rest.forEach(([x, i]) => listen(x, i));
      listen(w0, i0);
    } else {
      for (const [x, i] of rest) listen(x, i);
    }
  };
  /** resolvers of killWorker(), by worker index */
  const replaced = new Map<number, () => void>();

  // msgpackr's native string extraction (msgpackr-extract) is slower than its JS decoder on the
  // small records the workers decode (a queue entry read back: node
  // native-bench/micro/msgpack-decode.ts); the workers' env is a copy of this one
  process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED ??= 'true';
  // Every worker strips the TypeScript it imports with Node's WebAssembly stripper (amaro); V8
  // 13's code-page registry can abort the process when WebAssembly code is freed by threads that
  // come and go (Node issue 64500: "Check failed: jit_page_->allocations_.erase(addr) == 1", seen
  // once in `npm test`). With Node's compile cache a worker loads the stripped source from disk
  // and never instantiates the stripper, and starts sooner. The cache is code Node runs, so it
  // lives beside culex's own files (not in a shared /tmp another user could fill), unless the
  // user chose another directory or turned the cache off; an unwritable one only disables it.
  if (process.env.NODE_COMPILE_CACHE === undefined && process.env.NODE_DISABLE_COMPILE_CACHE === undefined) {
    process.env.NODE_COMPILE_CACHE = fileURLToPath(COMPILE_CACHE_URL);
  }
  const spawn = (index: number): Promise<Worker> =>
    new Promise((resolve, reject) => {
      const init: WorkerInit = {
        index, config: current, verbose: opts.verbose === true, remoteAuth, cluster: shared, reloadGate: reloadGate.buffer,
        dynsec: dynsec?.snapshot(), run, cleanRun: allLoaded ? undefined : cleanRun, refs: allLoaded ? undefined : passRefs?.[index],
      };
      const w = new Worker(WORKER_URL, { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
      created.push(w);
      let ready = false;
      w.on('message', (msg: FromWorker) => {
        switch (msg.type) {
          case 'loaded':
            onLoaded(w, index);
            return;
          case 'ready': {
            ready = true;
            msg.ports.forEach((port, i) => (ports[i] = port));
            if (msg.privatePort !== undefined) workerPorts[index] = msg.privatePort;
            resolve(w);
            const rest = listenRest;
            listenRest = undefined;
            rest?.();
            return;
          }
          case 'fatal':
            reject(new Error(msg.message));
            return;
          case 'stats':
            reports.answer(index, msg.id, msg.report);
            return;
          case 'auth': {
            const reply = (result: 'ok' | 'bad_credentials' | 'not_authorized' | 'error') =>
              w.postMessage({ type: 'authResult', id: msg.id, result } satisfies ToWorker);
            const password = msg.password === undefined ? undefined : Buffer.from(msg.password);
            const fallback = () => authenticator!.check(msg.username, password, msg.listener);
            const checked = dynsec === undefined
              ? fallback()
              : dynsec.check(msg.clientId, msg.username, password, current.passwordFile !== undefined, fallback);
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
          case 'reloaded':
            reloadAnswered(msg.id, w, msg.disconnected);
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
        exited.add(w);
        for (const id of [...reloadWaiters.keys()]) reloadAnswered(id, w, 0);
        if (stopping || !ready) return;
        up[index] = false;
        restarts++;
        reports.gone(index);
        // a dead worker is replaced; its clients reconnect to the others or to the new one
        log.error(`worker ${index} exited with code ${code}; starting a replacement`);
        if (shared !== undefined) {
          markWorkerDead(shared, index);
          for (const other of workers) if (other !== w) other.postMessage({ type: 'peerDown', index } satisfies ToWorker);
        }
        spawn(index).then(
          (nw) => {
            workers[index] = nw;
            up[index] = true;
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
    up.fill(true);
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

  const observability = await startObservability({
    config, version: VERSION, ports, shared, up,
    restarts: () => restarts,
    stopping: () => stopping,
    ask: (detail, timeoutMs) => reports.request(up.flatMap((u, i) => (u ? [i] : [])), n, detail, timeoutMs),
    publishSys: (entries) => {
      for (const w of workers) w.postMessage({ type: 'sys', entries } satisfies ToWorker);
    },
  });
  const stats = observability.stats;
  const workerStats = async (): Promise<Record<string, number>[]> => (await observability.ask('counters')).map((r) => r?.counters ?? {});

  /**
   * The certificate listeners whose files (certfile, keyfile, cafile, capath, crlfile,
   * dhparamfile) read and load again, for the workers to take; each of the others keeps its
   * running files, and Mosquitto's line says so. A TLS-PSK listener has no certificate to
   * renew (its keys are the psk_file's, reloaded with the security files), as in Mosquitto's
   * listeners__reload_all_certificates.
   */
  const tlsFilesReadable = (config: BrokerConfig): number[] =>
    config.listeners.flatMap((l, index) => {
      if (l.tls === undefined || l.tls.pskHint !== undefined) return [];
      try {
        checkTlsFiles(l.port, l.tls);
        return [index];
      } catch (err) {
        log.error(`Error when reloading certificate '${l.tls.certfile}' or key '${l.tls.keyfile}': ${err instanceof Error ? err.message : String(err)}; the listener keeps its running TLS files.`);
        return [];
      }
    });

  /**
   * One reload, all or nothing up to the workers: the configuration and every password and acl
   * file are read and checked before anything changes.
   */
  const reloadOnce = async (): Promise<ReloadResult> => {
    const asks = reloadGate.begin();
    try {
      return stopping ? { ok: false, error: 'stopping', applied: [], restartNeeded: [], disconnected: 0 } : await reloadFiles(asks);
    } finally {
      // a worker that has not applied it (the reload failed, or the worker is gone) lets its CONNECTs go on
      for (let w = 0; w < n; w++) reloadGate.settle(w, asks);
    }
  };
  const reloadFiles = async (asks: number): Promise<ReloadResult> => {
    const none = { applied: [], restartNeeded: [], disconnected: 0 };
    log.info('Reloading config.');
    log.reopen();
    if (opts.loadConfig === undefined) {
      log.warning('reload: no configuration file; nothing to reload');
      return { ok: false, error: 'no configuration file', ...none };
    }
    let recheck = false;
    try {
      const loaded = opts.loadConfig();
      for (const w of loaded.warnings ?? []) log.warning(w);
      const { next, aclFiles, pskFiles, diff } = prepareReload(current, loaded.config);
      const needed = needsPasswordCheck(next) || dynsec !== undefined;
      if (authenticator !== undefined || needed) {
        const auth = authModule ?? (await import('./auth/authenticator.ts'));
        if (authenticator !== undefined) recheck = authenticator.reload(auth.authSettingsOf(next));
        else {
          authenticator = new auth.Authenticator(auth.authSettingsOf(next));
          recheck = true;
        }
      }
      remoteAuth = needed;
      for (const name of diff.notReloadable) log.warning(`reload: ${name} changed; takes effect after a restart`);
      if (next.sysInterval !== current.sysInterval) observability.setSysInterval(next.sysInterval);
      current = next;
      log.reconfigure(logOptions(next, opts.verbose)); // the workers' loggers: in their 'reload'
      const tlsListeners = tlsFilesReadable(next);
      const disconnected = await new Promise<number>((resolve) => {
        const id = nextReloadId++;
        // every thread alive, a replacement still starting included (its port keeps the message until it listens)
        const pending = new Set(created.filter((w) => !exited.has(w)));
        if (pending.size === 0) return resolve(0);
        reloadWaiters.set(id, { pending, disconnected: 0, resolve });
        for (const w of pending) w.postMessage({ type: 'reload', id, asks, config: next, aclFiles, pskFiles, remoteAuth, recheck, tlsListeners } satisfies ToWorker);
      });
      log.notice(`reload: done; options changed: ${diff.reloadable.length > 0 ? diff.reloadable.join(', ') : 'none'}; ` +
        `${disconnected} client${disconnected === 1 ? '' : 's'} no longer authorised, disconnected`);
      return { ok: true, applied: diff.reloadable, restartNeeded: diff.notReloadable, disconnected };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log.error(`reload failed, the running configuration stays: ${error}`);
      return { ok: false, error, ...none };
    }
  };
  let reloading: Promise<unknown> = Promise.resolve();

  return {
    get config() {
      return current;
    },
    log,
    ports,
    addresses,
    workers: n,
    workerPorts,
    stats,
    workerStats,
    reload(): Promise<ReloadResult> {
      reloadGate.ask(); // now: a CONNECT that comes before the files are read waits for them
      const run = reloading.then(reloadOnce);
      reloading = run;
      return run;
    },
    killWorker(index: number): Promise<void> {
      return new Promise((resolve) => {
        replaced.set(index, resolve);
        void workers[index]!.terminate();
      });
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      observability.close();
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              // a worker's last commit and its queue tallies (cleanStop.ts) take seconds with millions of queued messages
              const t = setTimeout(() => {
                log.warning(`a worker did not stop within ${STOP_WAIT_MS / 1000} s; ending it (its last writes are lost, or kept whole: LMDB commits are atomic)`);
                resolve();
              }, STOP_WAIT_MS);
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

/**
 * Worker thread entry point: owns the sockets it accepts, their sessions and its share of the
 * routing state. Talks to the main thread only through messages.ts.
 * called from: worker
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import type { Duplex } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { Broker } from '../broker/broker.ts';
import { type AclClient, type Authenticate, type Authorizer } from '../broker/services.ts';
import type { DynsecKick } from '../auth/dynsec/engine.ts';
import { DYNSEC_REQUEST_TOPIC, DYNSEC_RESPONSE_TOPIC } from '../auth/dynsec/topics.ts';
import { ReasonCode } from '../protocol/errors.ts';
import { Connection, type Peer } from '../link/connection.ts';
import { Outbox } from '../link/outbox.ts';
import { listenerContext, type ListenerContext } from '../link/listenerContext.ts';
import { createMessage, isExpired } from '../model/message.ts';
import { messageFromRecord } from '../records/message.ts';
import { createLogger, logOptions } from '../log.ts';
import { listen } from '../transport/tcp.ts';
import type { BindAddress } from '../transport/bindAddresses.ts';
import { readDirect } from '../transport/directRead.ts';
import { parsePskFile } from '../auth/pskFile.ts';
import { reloadTlsFiles, type TlsClientEvents } from '../transport/tlsServer.ts';
import { CERTIFICATE_VERIFY_FAILED } from '../transport/tlsRejection.ts';
import { PROTOCOL_MAX_PACKET_SIZE } from '../protocol/framer.ts';
import type { FromWorker, ToWorker, WorkerInit } from './messages.ts';
import type { BrokerConfig, ListenerConfig, ListenerSecurity } from '../config/types.ts';
import { anyAclFile, listenerSecurity } from '../config/listenerSecurity.ts';
import { Cluster } from './cluster.ts';
import { collectWhenIdle } from './idleCollector.ts';
import { DeclaredSessions } from './declaredSessions.ts';
import { openConnectionsSlot } from './shared.ts';
import { ReloadGate } from './reloadGate.ts';
import { workerReport } from './stats.ts';
import { counters } from '../metrics/counters.ts';
import type { Bridge, bridgeCounters as BridgeCounters } from '../bridge/bridge.ts';
import type { Store } from '../persistence/store.ts';

const init = workerData as WorkerInit;
const port = parentPort!;
/** the running configuration: replaced whole by a reload (ToWorker 'reload') */
let config = init.config;
const log = createLogger(logOptions(config, init.verbose));

function post(msg: FromWorker): void {
  port.postMessage(msg);
}

/** Pending password checks answered by the main thread's Authenticator. */
const authWaiters = new Map<number, (r: 'ok' | 'bad_credentials' | 'not_authorized' | 'error') => void>();
let nextAuthId = 1;

/** CONNECTs go to the main thread's Authenticator (WorkerInit.remoteAuth; a reload may change it) */
let remoteAuth = init.remoteAuth;
const decide: Authenticate = ({ listener, clientId, username, password }) =>
  !remoteAuth ||
  new Promise((resolve, reject) => {
    const id = nextAuthId++;
    authWaiters.set(id, (r) => (r === 'error' ? reject(new Error('password check failed')) : resolve(r)));
    post({ type: 'auth', id, listener, clientId, username, password: password === undefined ? undefined : new Uint8Array(password) });
  });
const reloadGate = new ReloadGate(init.reloadGate);
/** the longest a CONNECT waits for a reload (reloadGate.ts) before it is decided under the running rules */
const RELOAD_WAIT_LIMIT_MS = 10_000;
/** A CONNECT after a SIGHUP is decided once that reload is applied here, as in Mosquitto. */
const authenticate: Authenticate = (request) => {
  const reloading = reloadGate.settled(init.index, RELOAD_WAIT_LIMIT_MS);
  if (reloading === undefined) return decide(request);
  return reloading.then(() => {
    const decided = decide(request);
    return typeof decided !== 'boolean' ? decided : decided ? 'ok' : 'not_authorized';
  });
};

/** acl_file(s): one ACL, or each listener's with per_listener_settings; `readFile` serves the texts a reload sent */
async function aclFilesOf(config: BrokerConfig, readFile?: (path: string) => string): Promise<Authorizer | undefined> {
  return anyAclFile(config) ? (await import('../auth/aclAuthorizer.ts')).aclAuthorizerOf(config, readFile) : undefined;
}
/** the acl_file rules in force (a failed reload keeps them) */
let aclFiles = await aclFilesOf(config);
// the dynamic security plugin decides first; the acl_file only where it has no opinion
const dynsec = init.dynsec === undefined ? undefined : new (await import('../auth/dynsec/authorizer.ts')).DynsecAuthorizer(init.dynsec, aclFiles);
const authorizer: Authorizer | undefined = dynsec ?? aclFiles;

/** A client's PUBLISH to `$CONTROL/…`: never routed (Mosquitto); the plugin's requests go to the main thread. */
function control(topic: string, payload: Buffer, client: AclClient): void {
  if (dynsec === undefined || topic !== DYNSEC_REQUEST_TOPIC) return;
  post({ type: 'dynsec', payload: new Uint8Array(payload), clientId: client.clientId, username: client.username });
}

/** Mosquitto's kick: the connections of these users (or the anonymous ones) close, v5 with 0x98, without their will. */
function kick(k: DynsecKick): void {
  const usernames = new Set(k.usernames);
  for (const c of outbox.connections) {
    if (!c.connected || (c.username === undefined ? !k.anonymous : !usernames.has(c.username))) continue;
    c.will = undefined;
    c.disconnect(ReasonCode.AdministrativeAction);
  }
  outbox.flushSoon();
}

// every worker opens the same LMDB environment; the main thread has checked it and quarantined bad records
const store = config.persistence && config.persistenceDurability !== 'off'
  ? (await import('../persistence/store.ts')).Store.open({
      path: config.persistenceLocation, durability: config.persistenceDurability, batchWindowMs: config.persistenceBatchWindowMs, log,
    })
  : undefined;
const cluster = init.cluster === undefined ? undefined : new Cluster(init.cluster, init.index);
const workers = init.cluster?.workers ?? 1;
/** this worker's message seqs: above every stored one, and ≡ its index (mod workers) so that no two workers share one */
const messageSeq = store === undefined ? undefined : { first: firstSeqAbove(store.maxMessageSeq(), init.index, workers), step: workers };
const outbox = new Outbox(cluster === undefined ? undefined : () => cluster.flush(), config.maxConnectTime);
// the other culex nodes (cluster_nats_url): NATS code is loaded only then
const nodes = config.clusterNatsUrls.length === 0
  ? undefined
  : await (await import('../nats/node.ts')).NatsNode.connect(config.clusterNatsUrls, config.clusterNodeName!, init.index, workers, log);
const broker = new Broker(config, { log, authenticate, authorizer, control, output: outbox, cluster, store, messageSeq, nodes });

let stopping = false;

/** `log_dest topic`: log lines as Mosquitto publishes them (QoS 2, not retained, to every subscriber the ACLs let read them). */
function publishLog(entries: readonly (readonly [string, string])[]): void {
  if (stopping) return; // the lines of a stopping broker have no one left to reach
  const now = Date.now();
  for (const [topic, line] of entries) broker.publish(createMessage(topic, Buffer.from(line), 2, false, undefined, '', now));
  broker.flushSoon();
}
if (store !== undefined) {
  const now = Date.now();
  for (const r of store.loadRetained()) {
    const m = messageFromRecord(r, -1);
    if (!isExpired(m, now)) broker.retained.set(m);
  }
  counters.retainedMessages = broker.retained.size;
}
// the cluster's retained messages replace this node's stored ones
await nodes?.start(broker);
cluster?.start(broker);
// persistent_subscription: which declared sessions are this worker's, read before its restore writes anything
const declared = DeclaredSessions.plan(config.persistentSubscriptions, store, init.index, workers);
if (store !== undefined) {
  // this worker's share of the persistent sessions: those it owned (a replacement worker takes its predecessor's)
  const now = Date.now();
  let restored = 0;
  const loaded = store.loadOwnSessions((meta) => meta.owner % workers === init.index, init.index, init.cleanRun, init.refs);
  // a clean stop's reference counts first: a session expired meanwhile lets go of its entries' references
  if (loaded.refs !== undefined) broker.journal?.adoptRefTally(loaded.refs);
  for (const s of loaded.sessions) {
    broker.restoreSession(s, (seq) => store.getMessage(seq), now);
    restored++;
  }
  if (restored > 0) log.info(`worker ${init.index}: ${restored} persistent sessions restored with ${broker.journal?.messages ?? 0} stored messages${loaded.refs === undefined ? '' : ' (from the queue tallies)'}`);
}
if (declared.mine.length > 0) {
  const { created, kept } = declared.create(broker, cluster?.registry, init.index);
  log.info(`worker ${init.index}: persistent_subscription: ${created} sessions declared, ${kept} restored ones kept`);
  broker.flushSoon();
}

/**
 * A clean stop, once every write is committed: the queue tallies and this worker's mark
 * (src/persistence/cleanStop.ts), so that the next start need not read the queued entries.
 */
async function cleanStop(store: Store): Promise<void> {
  const started = performance.now();
  const t = broker.writeQueueTallies(init.run);
  if (t === undefined) return;
  store.putCleanStop(init.index, { run: init.run, workers, sessions: t.sessions, entries: t.entries, messages: t.messages }, t.refs);
  await store.flush();
  if (t.sessions > 0) log.info(`worker ${init.index}: the queues of ${t.sessions} persistent sessions (${t.entries} entries) summed up for the next start in ${Math.round(performance.now() - started)} ms`);
}

/** The smallest seq above `max` that is ≡ index (mod workers). */
function firstSeqAbove(max: number, index: number, workers: number): number {
  const s = max + 1;
  return s + ((index - (s % workers) + workers) % workers);
}
const servers: Server[] = [];
/** the TLS servers (MQTT and WebSocket listeners, the private door included) and their listener's index, for reloads */
const tlsServers: { readonly server: TlsServer; readonly index: number }[] = [];

/**
 * Each TLS-PSK listener's keys (its psk_file), by listener index: read here at start (the main
 * thread has checked the files), replaced by a reload's (ToWorker 'reload' pskFiles). The
 * handshakes that follow look them up through pskKeysOf(index).
 */
let pskKeys: (ReadonlyMap<string, Buffer> | undefined)[] = [];
/** Reads every TLS-PSK listener's keys; all or none replace the running ones. @throws ConfigError, Error */
function loadPskKeys(read: (path: string) => string): void {
  pskKeys = config.listeners.map((l, i) => {
    const file = l.tls?.pskHint !== undefined ? listenerSecurity(config, i).pskFile : undefined;
    return file === undefined ? undefined : parsePskFile(read(file), file);
  });
}
loadPskKeys((path) => readFileSync(path, 'utf8'));
const pskKeysOf = (index: number) => (identity: string): Buffer | undefined => pskKeys[index]?.get(identity);
/** a full collection once the worker goes idle after a burst (idleCollector.ts) */
const idleCollector = collectWhenIdle({
  waiting: () => store?.writing === true,
  collected: (before, after, ms) => {
    if (log.debugEnabled) log.debug(`worker ${init.index}: idle after a burst: heap ${Math.round(before / 1048576)} MB → ${Math.round(after / 1048576)} MB (a full collection, ${Math.round(ms)} ms)`);
  },
});
/** this thread's runtime metrics (heap, event loop, GC), only when /metrics is served */
const runtime = config.metricsListener === undefined ? undefined : new (await import('../metrics/runtime.ts')).RuntimeMetrics();
/**
 * the bridges (Mosquitto `connection` blocks): all owned by worker 0, started once the listeners
 * are open. bridge.ts (and the WebSocket transport, in serve()) are loaded only where they are
 * used: each is a megabyte or more of heap that every other worker would carry and mark.
 */
const bridges: Bridge[] = [];
let bridgeCounters: typeof BridgeCounters | undefined;

/**
 * max_connections of listener `l` for the whole broker: each worker counts its open connections
 * per listener (in shared memory when there are several workers) and a new one is refused when
 * the sum is at the limit, as Mosquitto refuses it: at the TCP accept, before any TLS handshake
 * (net__socket_accept), and for WebSockets once the upgrade is done (websockets.c).
 */
const shared = init.cluster;
const openCounts = new Int32Array(shared?.state ?? new SharedArrayBuffer(4 * config.listeners.length));
const openSlot = (w: number, l: number): number => (shared === undefined ? l : openConnectionsSlot(shared, w, l));

function withinMaxConnections(l: number, stream: Duplex, peer: Peer): boolean {
  const max = config.listeners[l]!.maxConnections;
  if (max <= 0) return true;
  let open = 0;
  for (let w = 0; w < (shared?.workers ?? 1); w++) open += Atomics.load(openCounts, openSlot(w, l));
  if (open >= max) {
    counters.connectionsRejected++;
    if (log.connectionMessages) log.notice(`Client connection from ${peer.remoteAddress} denied: max_connections exceeded.`);
    stream.destroy();
    return false;
  }
  const slot = openSlot(init.index, l);
  Atomics.add(openCounts, slot, 1);
  stream.once('close', () => Atomics.sub(openCounts, slot, 1));
  return true;
}

/**
 * What TLS listeners turn away, logged as Mosquitto logs it: "New connection from …" at the TCP
 * accept, "OpenSSL Error[0]: …" and "Client <unknown> disconnected: Protocol error." for a failed
 * handshake or certificate; culex adds the reason a certificate was refused for (Mosquitto logs
 * only "certificate verify failed"). A socket Node has already destroyed has no address left.
 */
const tlsClientEvents: TlsClientEvents = {
  accepted(socket) {
    if (log.connectionMessages) log.notice(`New connection from ${socket.remoteAddress}:${socket.remotePort} on port ${socket.localPort}.`);
  },
  handshakeFailed(_socket, opensslError) {
    if (opensslError === undefined) {
      if (log.connectionMessages) log.notice('Client <unknown> closed its connection.');
      return;
    }
    log.write('error', `OpenSSL Error[0]: ${opensslError}`);
    if (log.connectionMessages) log.notice('Client <unknown> disconnected: Protocol error.');
  },
  certificateRefused(socket, reason) {
    log.write('error', `OpenSSL Error[0]: ${CERTIFICATE_VERIFY_FAILED}`);
    const from = socket.remoteAddress === undefined ? '' : ` from ${socket.remoteAddress}:${socket.remotePort}`;
    log.error(`Client certificate${from} refused: ${reason}.`);
    if (log.connectionMessages) log.notice('Client <unknown> disconnected: Protocol error.');
  },
};

/** Mosquitto net.c's line for every accepted connection (connection_messages). */
function accepted(peer: Peer, port: number): void {
  if (log.connectionMessages) log.notice(`New connection from ${peer.remoteAddress}:${peer.remotePort} on port ${port}.`);
}

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'stop':
      stopping = true;
      idleCollector.stop();
      for (const b of bridges) b.stop();
      for (const s of servers) s.close();
      cluster?.stop();
      broker.shutdown();
      outbox.shutdown();
      // let the DISCONNECTs reach the sockets, and the last writes the disk, before the thread ends
      setTimeout(() => {
        // what is written so far is committed first (a JetStream copy is acknowledged after its commit, before
        // the NATS connection closes); then nothing arrives from the other nodes once the queues are tallied
        const committed = store === undefined ? Promise.resolve() : store.flush();
        const linked = nodes === undefined ? committed : committed.then(() => nodes.stop());
        const closed = store === undefined ? linked : linked.then(() => store.flush()).then(() => cleanStop(store)).then(() => store.close());
        closed.catch((err: unknown) => log.error('closing the store', err)).finally(() => post({ type: 'stopped' }));
      }, 50);
      return;
    case 'stats':
      workerReport(broker, store, config.listeners.map((_, l) => outbox.openByListener[l] ?? 0), runtime, msg.id, msg.detail, bridgeCounters === undefined ? undefined : bridgeCounters(bridges)).then(
        (report) => post({ type: 'stats', id: msg.id, report }),
        (err: unknown) => log.error('stats', err),
      );
      return;
    case 'sys': {
      const now = Date.now();
      // every worker gets the same entries: each publishes them to its own subscribers only
      for (const [topic, value] of msg.entries) broker.publish(createMessage(topic, Buffer.from(value), 0, true, undefined, '', now), true);
      broker.flushSoon();
      return;
    }
    case 'peerDown':
      cluster?.peerDown(msg.index);
      return;
    case 'logReopen':
      log.reopen();
      return;
    case 'logPublish':
      publishLog(msg.entries);
      return;
    case 'listen':
      openListeners(msg.ports, msg.addresses, msg.privatePort).then(
        (bound) => {
          // log_dest topic: from now on (the cluster is up), this worker's lines are published too
          log.attachTopic(publishLog);
          post({ type: 'ready', ...bound });
          if (init.index === 0 && (config.bridges ?? []).length > 0) startBridges().catch((err: unknown) => log.error('starting the bridges', err));
        },
        (err: unknown) => post({ type: 'fatal', message: err instanceof Error ? err.message : String(err) }),
      );
      return;
    case 'authResult': {
      const w = authWaiters.get(msg.id);
      authWaiters.delete(msg.id);
      w?.(msg.result);
      return;
    }
    case 'dynsecUpdate':
      if (msg.snapshot !== undefined) dynsec?.update(msg.snapshot);
      if (msg.kick !== undefined) kick(msg.kick);
      return;
    case 'reload':
      void reload(msg).then((disconnected) => post({ type: 'reloaded', id: msg.id, disconnected }));
      return;
    case 'dynsecResponse':
      // as the plugin's mosquitto_broker_publish: QoS 0, not retained, to every subscriber the ACLs let read it
      broker.publish(createMessage(DYNSEC_RESPONSE_TOPIC, Buffer.from(msg.payload), 0, false, undefined, '', Date.now()));
      broker.flushSoon();
      return;
  }
});

/** a WebSocket frame never needs to be larger than the largest MQTT packet we accept */
const maxFrame = config.maxPacketSize > 0 ? config.maxPacketSize : PROTOCOL_MAX_PACKET_SIZE;

/** every listener's context, whose `security` a reload replaces (connections hold the context) */
const contexts: ListenerContext[] = [];

/**
 * Listens on `port` (0: a free one, chosen by the kernel) at each of `addresses` with the
 * settings of `listener`; connections count against the max_connections of listener `index`.
 * Resolves to the servers, in the order of `addresses`, once all listen on one port.
 */
async function serve(listener: ListenerConfig, index: number, port: number, addresses: readonly BindAddress[]): Promise<Server[]> {
  const context: ListenerContext = listenerContext(config, index, listener);
  contexts.push(context);
  /** the port bound: known before any connection arrives */
  let local = port;
  const opened: Server[] = [];
  for (const address of addresses) {
    const server = await serveAt(listener, index, address, context, () => local);
    opened.push(server);
    local = (server.address() as AddressInfo).port;
    if (listener.tls !== undefined) tlsServers.push({ server: server as TlsServer, index });
  }
  return opened;
}

/** One socket of serve(): at `address`, on the listener's port `local()` (0 for the first socket of a port 0; the log reads it later). */
function serveAt(listener: ListenerConfig, index: number, address: BindAddress, context: ListenerContext, local: () => number): Promise<Server> {
  return listener.protocol === 'websockets'
    ? import('../transport/websocket.ts').then(({ listenWebSocket }) => listenWebSocket(listener, address, local(), (stream, peer) => {
      if (!withinMaxConnections(index, stream, peer)) return;
      accepted(peer, local());
      const conn = new Connection(stream, broker, outbox, context, peer);
      stream.on('data', Connection.onStreamData);
      outbox.add(conn);
    }, tlsClientEvents, maxFrame, config.websocketsHeadersSize, (line) => log.debug(line)))
    : listen(listener, address, local(), init.config.setTcpNodelay, (socket) => withinMaxConnections(index, socket, socket), (socket) => {
      // an MQTT-over-TLS connection had its "New connection" line at its TCP accept (tlsClientEvents)
      if (listener.tls === undefined) accepted(socket, local());
      // set_tcp_nodelay changed by a reload: the listener was created with the first value
      if (config.setTcpNodelay !== init.config.setTcpNodelay) socket.setNoDelay(config.setTcpNodelay);
      const conn = new Connection(socket, broker, outbox, context, socket);
      if (!readDirect(socket, conn)) socket.on('data', Connection.onStreamData);
      outbox.add(conn);
    }, tlsClientEvents, pskKeysOf(index));
}

/** A file reader over the texts the main thread read and checked for a reload (every worker applies the same). */
const readFromMain = (texts: Readonly<Record<string, string>>) => (path: string): string => {
  const text = texts[path];
  if (text === undefined) throw new Error(`${path}: not read by the main thread`);
  return text;
};

/**
 * Applies a configuration reload (ToWorker 'reload'): the options, the acl_file rules (the
 * dynamic security plugin keeps its own), each listener's security settings, then, when the
 * password rules changed, checks every client again as Mosquitto's mosquitto_security_apply
 * does: one no longer allowed in (user removed, password changed, anonymous when
 * allow_anonymous became false) is closed, without its will (Mosquitto: state disconnecting), a
 * v5 client told 0x87 Not authorized. Resolves to the number closed.
 */
async function reload(msg: Extract<ToWorker, { type: 'reload' }>): Promise<number> {
  config = msg.config;
  remoteAuth = msg.remoteAuth;
  log.reconfigure(logOptions(config, init.verbose));
  const acl = await aclFilesOf(config, readFromMain(msg.aclFiles)).catch((err: unknown) => {
    log.error('reload: acl_file not applied, keeping the running rules', err);
    return aclFiles;
  });
  aclFiles = acl;
  dynsec?.replaceAcl(acl);
  broker.reconfigure(config, dynsec ?? acl);
  outbox.maxConnectTime = config.maxConnectTime;
  for (const c of contexts) (c as { security: ListenerSecurity }).security = listenerSecurity(config, c.index);
  try {
    loadPskKeys(readFromMain(msg.pskFiles));
  } catch (err) {
    log.error(`reload: psk_file not applied, keeping the running keys: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const { server, index } of tlsServers) {
    const listener = config.listeners[index]!;
    if (!msg.tlsListeners.includes(index) || listener.tls === undefined) continue;
    try {
      reloadTlsFiles(server, listener.port, listener.tls);
    } catch (err) {
      log.error(`reload: ${err instanceof Error ? err.message : String(err)}; the listener keeps its running TLS files`);
    }
  }
  reloadGate.settle(init.index, msg.asks); // CONNECTs waiting for this reload go on (not for the checks below)
  if (!msg.recheck) return 0;
  const checks: Promise<boolean>[] = [];
  for (const c of outbox.connections) if (c.credentials !== undefined && !c.closed) checks.push(stillAuthorised(c));
  const verdicts = await Promise.all(checks);
  outbox.flushSoon();
  return verdicts.filter((ok) => !ok).length;
}

/** Checks `c`'s CONNECT credentials against the reloaded rules; closes it (false) when they fail. */
async function stillAuthorised(c: Connection): Promise<boolean> {
  const decided = authenticate({ listener: c.listenerIndex, clientId: c.clientId, username: c.username, password: c.credentials?.password });
  // the check itself failing (not its answer) keeps the client: a broken verifier must not empty the broker
  const verdict = typeof decided === 'boolean' ? (decided ? 'ok' : 'not_authorized') : await decided.catch((err: unknown) => {
    log.error(`reload: client ${c.clientId} could not be checked again; it stays connected`, err);
    return 'ok' as const;
  });
  if (verdict === 'ok' || c.closed) return true;
  // Mosquitto's line: the client is already "disconnecting" when do_disconnect logs it
  if (config.connectionMessages) log.notice(`Client ${c.clientId} disconnected.`);
  c.will = undefined;
  c.disconnect(ReasonCode.NotAuthorized);
  return false;
}

async function startBridges(): Promise<void> {
  const loaded = await import('../bridge/bridge.ts');
  if (stopping) return;
  bridgeCounters = loaded.bridgeCounters;
  for (const c of config.bridges ?? []) {
    const bridge = new loaded.Bridge(c, broker, log);
    bridges.push(bridge);
    bridge.start();
  }
}

/**
 * Opens the listeners once the main thread says every worker has its state (ToWorker 'listen');
 * returns the ports bound (a 0 asked for a free one).
 */
async function openListeners(
  ports: readonly number[],
  addresses: readonly (readonly BindAddress[])[],
  privatePort: number | undefined,
): Promise<{ ports: number[]; privatePort: number | undefined }> {
  const bound: number[] = [];
  for (let i = 0; i < config.listeners.length; i++) {
    const opened = await serve(config.listeners[i]!, i, ports[i]!, addresses[i]!);
    servers.push(...opened);
    bound.push((opened[0]!.address() as AddressInfo).port);
  }
  if (privatePort === undefined) return { ports: bound, privatePort };
  // test placement: a second door into listener 0, counted against its max_connections
  const [door] = await serve({ ...config.listeners[0]!, host: '127.0.0.1' }, 0, privatePort, [{ host: '127.0.0.1', family: 4 }]);
  servers.push(door!);
  return { ports: bound, privatePort: (door!.address() as AddressInfo).port };
}

// the other nodes' JetStream copies for the sessions just restored, before the listeners open
await nodes?.startDurable();
// state first (sessions restored and registered), listeners after the main thread's go-ahead:
// a client that connects early must find its session wherever it was restored
post({ type: 'loaded' });


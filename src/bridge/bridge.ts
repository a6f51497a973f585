/**
 * One Mosquitto bridge (a `connection` block): a local session and an outbound MQTT connection
 * to the remote broker, owned by one worker.
 *
 * Out: the local session (client id local_clientid) subscribes to the `out` filters with No
 * Local and Retain As Published, so the broker's routing, cross-worker fan-out and the durable
 * queue of persistent sessions hold what the remote has not acknowledged. This class is the
 * session's SessionLink while the remote is connected: a delivery is written to the remote with
 * the session's own packet id, and the remote's PUBACK / PUBREC / PUBCOMP complete it, exactly
 * as a client's would. A restart resends the stored entries with their ids (DUP set).
 * In: the remote's PUBLISHes enter the broker's publish path with the bridge's client id as
 * origin (so the No Local `out` subscriptions never send them back) and are acknowledged to
 * the remote only once what they wrote is committed. QoS 2 ids from the remote live in the
 * session's inbound table (stored with it).
 * Loops: MQTT 5 No Local on the remote subscriptions; with 3.1/3.1.1 the bridge bit
 * (try_private), which the remote honours if it is Mosquitto.
 * called from: worker
 */
import { connect as netConnect } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { IConnackPacket, IPublishPacket, IPublishPacket as PublishPacket } from 'mqtt-packet';
import type { Broker } from '../broker/broker.ts';
import type { ClientLink } from '../broker/clientLink.ts';
import { AckResult } from '../broker/qos/outbound.ts';
import { NEVER_EXPIRES, type Session, type SessionLink } from '../broker/session.ts';
import type { BridgeConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import { counters } from '../metrics/counters.ts';
import type { Delivery } from '../model/delivery.ts';
import { createMessage, type MessageProperties } from '../model/message.ts';
import type { SubscriptionOptions } from '../model/subscription.ts';
import { bridgeTlsOptions, RemoteClient, type RemoteEvents } from './remoteClient.ts';
import { RestartPolicy } from './restartPolicy.ts';
import { localTopicOf, remoteTopicOf } from './topicMap.ts';
import { AckChain } from './ackChain.ts';
import { connackRefusalLine } from './connackRefusal.ts';
import { bindPairing } from './bindPairing.ts';

/** bytes buffered towards the remote above which QoS 0 is dropped and QoS 1/2 wait */
const OUTBOUND_BUDGET = 1 << 20;
/** seconds between probes of the primary address while connected to another (Mosquitto: 5) */
const PRIMARY_RETRY_S = 5;

export class Bridge implements ClientLink, SessionLink, RemoteEvents {
  readonly config: BridgeConfig;
  readonly clientId: string;
  readonly username: string | undefined = undefined;
  /**
   * a bridge comes in through no listener; 0 keeps the session record valid (a listener index),
   * and matters to nothing: bridges pass no ACL check (Mosquitto security.c, Broker.mayRead)
   */
  readonly listenerIndex = 0;
  readonly idAssigned = false;
  awaitingSession = false;
  session: Session | undefined = undefined;
  will = undefined;

  /** this bridge's own counts (per-bridge counters on /metrics: bridgeCounters) */
  readonly stats = { messagesOut: 0, messagesIn: 0, connects: 0, disconnects: 0 };
  /** drops of the local sessions this bridge had before its current one (droppedTotal) */
  private droppedBefore = 0;
  private droppedFrom: Session | undefined = undefined;
  private readonly broker: Broker;
  private readonly log: Logger;
  private readonly policy: RestartPolicy;
  private remote: RemoteClient | undefined = undefined;
  private timer: NodeJS.Timeout | undefined = undefined;
  private stopped = false;
  /** bridge_bind_address: the addresses of the next attempt are being resolved */
  private resolving = false;
  /** false once the remote refused the bridge bit: later attempts go without it (as Mosquitto) */
  private privateAccepted = true;
  /** ids of the bridge's own packets (notification, SUBSCRIBE): their acks are not the session's */
  private readonly ownIds = new Set<number>();
  /** writes to the remote that wait for a commit, in order (QoS 2 PUBLISH, PUBREL) */
  private readonly outOrder = new AckChain();
  /** acknowledgements to the remote that wait for a commit, in the order of the packets they answer */
  private readonly acks = new AckChain();
  /** ms of the last message in or out (idle_timeout of a lazy bridge) */
  private lastActivity = Date.now();
  /** the remote's limits, from its CONNACK */
  private remoteReceiveMaximum = 65535;
  private remoteMaxPacketSize = 0;
  private remoteMaxQos: 0 | 1 | 2 = 2;

  constructor(config: BridgeConfig, broker: Broker, log: Logger) {
    this.config = config;
    this.clientId = config.localClientId;
    this.broker = broker;
    this.log = log;
    this.policy = new RestartPolicy(config.restart, config.addresses.length);
  }

  get isConnected(): boolean {
    return this.remote?.isOpen === true;
  }

  // ---- ClientLink / SessionLink ---------------------------------------------------------------

  get sendQuota(): number {
    return Math.min(this.broker.receiveMaximum, this.remoteReceiveMaximum);
  }

  get congested(): boolean {
    return (this.remote?.backlog ?? 0) > OUTBOUND_BUDGET;
  }

  /** A client took the bridge's local client id: the bridge stops, as its session is gone. */
  takeOver(): void {
    this.log.warning(`bridge ${this.config.name}: a client connected with the bridge's local client id ${this.clientId}; the bridge stops`);
    this.stop();
  }

  sendPublish(d: Delivery, packetId: number, dup: boolean, after?: Promise<void>): boolean {
    const remote = this.remote;
    if (remote === undefined) return true; // resent at the next attach
    const m = d.message;
    const topic = remoteTopicOf(this.config.topics, m.topic);
    if (topic === undefined) return false; // an old subscription's message no line maps any more: dropped as delivered
    const packet: PublishPacket = {
      cmd: 'publish', topic, payload: m.payload, qos: d.qos, dup,
      retain: this.config.outgoingRetain && d.retain,
      ...(d.qos > 0 ? { messageId: packetId } : {}),
    };
    if (this.config.protocolVersion === 5 && m.properties !== undefined) packet.properties = this.outProperties(m.properties, m.expiresAt);
    if (this.remoteMaxPacketSize > 0 && m.payload.length + topic.length + 16 > this.remoteMaxPacketSize) {
      counters.messagesDroppedTooLarge++;
      return false;
    }
    counters.bridgeMessagesOut++;
    this.stats.messagesOut++;
    this.lastActivity = Date.now();
    this.outOrder.run(after, () => remote.send(packet), () => remote.close('a message could not be stored'));
    return true;
  }

  sendPubrel(packetId: number, after?: Promise<void>): void {
    const remote = this.remote;
    if (remote === undefined) return;
    this.outOrder.run(after, () => remote.sendAck('pubrel', packetId), () => remote.close('a message could not be stored'));
  }

  private outProperties(p: MessageProperties, expiresAt: number): NonNullable<PublishPacket['properties']> {
    if (expiresAt === 0) return p;
    // [MQTT-3.3.2-6] the expiry interval sent on is what is left of it
    return { ...p, messageExpiryInterval: Math.max(1, Math.ceil((expiresAt - Date.now()) / 1000)) };
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /**
   * Starts the bridge. With local_cleansession false the local session opens now (its `out`
   * subscriptions queue messages while the remote is away, on disk with persistence); with true
   * it exists only while the remote is connected, and nothing is kept for the remote while it is
   * away (Mosquitto db__message_insert: `clean_start_local` drops them).
   */
  start(): void {
    this.notifyLocal('0');
    if (this.config.localCleanSession) return this.begin();
    this.openLocal((session) => {
      this.broker.sessionOffline(session, Date.now()); // offline until the remote answers
      this.begin();
    });
  }

  private begin(): void {
    if (this.config.startType === 'lazy') this.schedule(1);
    else this.connect();
    this.broker.flushSoon();
  }

  private openLocal(done: (session: Session) => void): void {
    const clean = this.config.localCleanSession;
    this.awaitingSession = true;
    this.broker.openSession(this, clean, clean ? 0 : NEVER_EXPIRES, (session) => {
      this.awaitingSession = false;
      this.session = session;
      this.subscribeLocal(session);
      if (!this.stopped) done(session);
    });
  }

  /**
   * The broker stops: the connection closes without DISCONNECT, so the remote publishes the
   * bridge's will (state 0), as when Mosquitto stops; no restart.
   */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.remote?.close('the broker stops');
  }

  /** The session's subscriptions are the `out` lines', nothing else (Mosquitto: sub__clean_session, then sub__add). */
  private subscribeLocal(session: Session): void {
    const wanted = new Map<string, SubscriptionOptions>();
    for (const t of this.config.topics) {
      if (t.direction === 'in') continue;
      const qos = Math.max(wanted.get(t.localTopic)?.qos ?? 0, Math.min(t.qos, this.broker.config.maxQos)) as 0 | 1 | 2;
      wanted.set(t.localTopic, { qos, noLocal: true, retainAsPublished: true, retainHandling: 0, subscriptionId: 0 });
    }
    const scope = this.broker.scope.open();
    for (const raw of [...session.subscriptions.keys()]) {
      if (!wanted.has(raw)) this.broker.unsubscribe(session, { raw, filter: raw, group: undefined });
    }
    for (const [filter, options] of wanted) this.broker.subscribe(session, { raw: filter, filter, group: undefined }, options);
    scope.close()?.catch(() => {});
  }

  /** `$SYS/broker/connection/<remote_clientid>/state` (or notification_topic) on this broker, retained. */
  private notifyLocal(state: '0' | '1'): void {
    if (!this.config.notifications) return;
    const qos = this.broker.config.maxQos === 0 ? 0 : 1;
    const scope = this.broker.scope.open();
    this.broker.publish(createMessage(this.config.notificationTopic, Buffer.from(state), qos, true, undefined, this.clientId, Date.now()));
    scope.close()?.catch(() => {}); // no acknowledgement waits for it
  }

  private connect(): void {
    if (this.stopped || this.remote !== undefined || this.resolving) return;
    const cfg = this.config;
    const address = cfg.addresses[this.policy.address]!;
    let tls: ConnectionOptions | undefined;
    try {
      tls = cfg.tls === undefined ? undefined : bridgeTlsOptions(cfg.tls, address.host);
    } catch (err) {
      this.log.error(`bridge ${cfg.name}: cannot read its TLS files: ${err instanceof Error ? err.message : String(err)}`);
      this.afterClose();
      return;
    }
    // Mosquitto's line (bridge.c bridge__connect)
    this.log.notice(`Connecting bridge ${cfg.name} (${address.host}:${address.port})`);
    if (cfg.bindAddress === undefined) return this.open(address.host, address.port, undefined, tls);
    // bridge_bind_address: the remote address and the one to bind, of one family (bindPairing.ts)
    this.resolving = true;
    bindPairing(address.host, cfg.bindAddress).then(
      (route) => {
        this.resolving = false;
        if (!this.stopped) this.open(route.host, address.port, route.localAddress, tls);
      },
      (err: unknown) => {
        this.resolving = false;
        this.log.notice(`bridge ${cfg.name}: connection failed: ${err instanceof Error ? err.message : String(err)}`);
        this.afterClose();
      },
    );
  }

  /** One connection attempt to `host` (an address once bridge_bind_address has paired it), from `localAddress`. */
  private open(host: string, port: number, localAddress: string | undefined, tls: ConnectionOptions | undefined): void {
    const cfg = this.config;
    const v5 = cfg.protocolVersion === 5;
    this.remote = new RemoteClient({
      host,
      port,
      localAddress,
      version: cfg.protocolVersion,
      bridgeBit: cfg.tryPrivate && !v5 && this.privateAccepted,
      tls,
      connectTimeoutMs: Math.max(cfg.keepalive, 10) * 1000,
      connect: {
        clientId: cfg.remoteClientId,
        clean: cfg.cleanSession,
        keepalive: cfg.keepalive,
        ...(cfg.remoteUsername !== undefined ? { username: cfg.remoteUsername } : {}),
        ...(cfg.remotePassword !== undefined ? { password: Buffer.from(cfg.remotePassword) } : {}),
        ...(cfg.notifications && !cfg.notificationsLocalOnly
          ? { will: { topic: cfg.notificationTopic, payload: Buffer.from('0'), qos: 1, retain: true } }
          : {}),
        ...(v5
          ? {
              properties: {
                // a persistent remote session must outlive the connection (v5: expiry 0, the
                // default, ends it); a clean one sends none, as Mosquitto 2.0
                ...(cfg.cleanSession ? {} : { sessionExpiryInterval: NEVER_EXPIRES }),
                receiveMaximum: this.broker.receiveMaximum,
                ...(cfg.maxPacketSize > 0 ? { maximumPacketSize: cfg.maxPacketSize } : {}),
              },
            }
          : {}),
      },
    }, this);
  }

  // ---- RemoteEvents -------------------------------------------------------------------------------

  connected(connack: IConnackPacket): void {
    const p = connack.properties;
    this.remoteReceiveMaximum = p?.receiveMaximum ?? 65535;
    this.remoteMaxPacketSize = p?.maximumPacketSize ?? 0;
    this.remoteMaxQos = (p?.maximumQoS ?? 2) as 0 | 1 | 2;
    if (this.session === undefined) this.openLocal((session) => this.online(session, connack));
    else this.online(this.session, connack);
  }

  /** The remote accepted the connection and the local session is there: state, subscriptions, then the queue. */
  private online(session: Session, connack: IConnackPacket): void {
    if (this.remote === undefined) return; // gone while the session was on its way: the next connection attaches it
    const cfg = this.config;
    const p = connack.properties;
    this.policy.connected();
    this.lastActivity = Date.now();
    counters.bridgeConnects++;
    this.stats.connects++;
    const address = cfg.addresses[this.policy.address]!;
    this.log.notice(`bridge ${cfg.name}: connected to ${address.host}:${address.port}`);
    if (cfg.notifications && !cfg.notificationsLocalOnly) this.sendOwn({ cmd: 'publish', topic: cfg.notificationTopic, payload: Buffer.from('1'), qos: this.remoteMaxQos === 0 ? 0 : 1, retain: p?.retainAvailable !== false, dup: false });
    this.notifyLocal('1');
    this.subscribeRemote();
    session.attach(this, Date.now());
    // local retained messages go out at every connection (Mosquitto: retain__queue in bridge__connect)
    for (const [filter, { options }] of session.subscriptions) this.broker.sendRetained(session, filter, options);
    this.schedule(this.config.startType === 'lazy' ? 1 : !cfg.roundRobin && this.policy.address !== 0 ? PRIMARY_RETRY_S : 0);
    this.broker.flushSoon();
  }

  /** One SUBSCRIBE per `in`/`both` topic line and one UNSUBSCRIBE per `out` line, in the file's order, as Mosquitto's bridge__on_connect. */
  private subscribeRemote(): void {
    const v5 = this.config.protocolVersion === 5;
    for (const t of this.config.topics) {
      const qos = Math.min(t.qos, this.remoteMaxQos) as 0 | 1 | 2;
      if (t.direction !== 'out') {
        const subscription = v5 ? { topic: t.remoteTopic, qos, nl: true, rap: true, rh: 0 } : { topic: t.remoteTopic, qos };
        this.sendOwn({ cmd: 'subscribe', subscriptions: [subscription] });
      } else if (this.config.attemptUnsubscribe) {
        this.sendOwn({ cmd: 'unsubscribe', unsubscriptions: [t.remoteTopic] });
      }
    }
  }

  /** A packet of the bridge itself, with an id the session will not hand out again before 65535 others. */
  private sendOwn(packet: { readonly cmd: string; readonly qos?: number; messageId?: number; readonly [field: string]: unknown }): void {
    if (packet.cmd !== 'publish' || (packet.qos ?? 0) > 0) {
      const id = this.session!.outbound.allocateId();
      this.ownIds.add(id);
      packet.messageId = id;
    }
    this.remote!.send(packet as never);
  }

  publish(p: IPublishPacket): void {
    const session = this.session;
    if (session === undefined) return this.remote?.close('a message arrived before the local session was ready');
    const id = p.messageId ?? 0;
    this.lastActivity = Date.now();
    if (p.qos === 2 && !session.inbound.receive(id)) {
      // a resent QoS 2 PUBLISH already routed: acknowledged again, not routed again [MQTT-4.3.3-10]
      this.acks.run(undefined, () => this.remote?.sendAck('pubrec', id));
      return;
    }
    const max = this.config.maxPacketSize;
    if (max > 0 && p.payload.length + Buffer.byteLength(p.topic) > max) {
      // bridge_max_packet_size (also announced to a v5 remote): acknowledged, not routed, counted
      counters.messagesRejectedTooLarge++;
      if (p.qos === 2) session.inbound.release(id);
      if (p.qos > 0) this.acks.run(undefined, () => this.remote?.sendAck(p.qos === 1 ? 'puback' : 'pubrec', id));
      return;
    }
    counters.bridgeMessagesIn++;
    this.stats.messagesIn++;
    let props = p.properties as MessageProperties | undefined;
    if (props !== undefined && (p.properties!.topicAlias !== undefined || p.properties!.subscriptionIdentifier !== undefined)) {
      const { topicAlias: _a, subscriptionIdentifier: _s, ...rest } = p.properties!;
      props = rest;
    }
    const topic = localTopicOf(this.config.topics, p.topic);
    const message = createMessage(topic, Buffer.from(p.payload as Buffer), p.qos, p.retain, props, this.clientId, Date.now());
    const scope = this.broker.scope.open();
    this.broker.publish(message, false, session, p.qos === 2 ? id : 0);
    const commit = scope.close();
    this.broker.flushSoon();
    if (p.qos === 0) return;
    const remote = this.remote!;
    // not acknowledged unless stored: the remote sends it again after the reconnection
    this.acks.run(commit, () => remote.sendAck(p.qos === 1 ? 'puback' : 'pubrec', id), () => remote.close('a message from the remote broker could not be stored'));
  }

  pubrel(packetId: number): void {
    const session = this.session;
    if (session === undefined) return this.remote?.close('a release arrived before the local session was ready');
    const scope = this.broker.scope.open();
    if (session.inbound.release(packetId)) this.broker.releaseInbound(session, packetId);
    const remote = this.remote!;
    this.acks.run(scope.close(), () => remote.sendAck('pubcomp', packetId), () => remote.close('a QoS 2 release could not be stored'));
  }

  puback(packetId: number): void {
    if (this.ownIds.delete(packetId)) return;
    this.session?.puback(packetId, Date.now());
    this.broker.flushSoon();
  }

  pubrec(packetId: number, reasonCode: number): void {
    if (this.ownIds.delete(packetId)) return;
    const r = this.session?.pubrec(packetId, reasonCode, Date.now());
    // an id not in flight (a PUBREC repeated after a reconnect): PUBREL all the same, as a
    // client link does and as Mosquitto's bridge (handle_pubrec.c)
    if (r === AckResult.Unknown) this.remote?.sendAck('pubrel', packetId);
    this.broker.flushSoon();
  }

  pubcomp(packetId: number): void {
    this.session?.pubcomp(packetId, Date.now());
    this.broker.flushSoon();
  }

  drain(): void {
    this.session?.pump(Date.now());
    this.broker.flushSoon();
  }

  /** Messages its local sessions dropped, the current one and those before it (a monotonic count). */
  droppedTotal(): number {
    const s = this.session;
    if (s !== this.droppedFrom) {
      this.droppedBefore += this.droppedFrom?.droppedCount ?? 0;
      this.droppedFrom = s;
    }
    return this.droppedBefore + (s?.droppedCount ?? 0);
  }

  closed(reason: string, refusedCode: number | undefined): void {
    const wasOpen = this.remote?.connack !== undefined;
    this.remote = undefined;
    this.ownIds.clear();
    this.outOrder.reset();
    this.acks.reset();
    if (refusedCode === 1 && this.config.tryPrivate && this.config.protocolVersion !== 5 && this.privateAccepted) {
      // the remote does not know the bridge bit: as Mosquitto, the next attempts go without it
      this.privateAccepted = false;
    }
    if (refusedCode !== undefined) this.log.write('error', connackRefusalLine(this.config.protocolVersion, refusedCode));
    this.log.notice(`bridge ${this.config.name}: ${wasOpen ? 'disconnected' : 'connection failed'}: ${reason}`);
    if (wasOpen) {
      counters.bridgeDisconnects++;
      this.stats.disconnects++;
      const session = this.session;
      if (session !== undefined && this.config.localCleanSession) {
        // the clean local session ends with the connection, and what it held with it
        this.broker.onClosed(this, true);
        this.session = undefined;
      } else if (session !== undefined && session.link === this) {
        this.broker.sessionOffline(session, Date.now());
      }
      this.notifyLocal('0');
      this.broker.flushSoon();
    }
    this.afterClose();
  }

  // ---- timers ---------------------------------------------------------------------------------------

  private afterClose(): void {
    if (this.stopped) return;
    if (this.config.startType === 'once') return;
    if (this.config.startType === 'lazy') {
      this.policy.next();
      this.schedule(1);
      return;
    }
    this.schedule(this.policy.next(this.toPrimary));
    this.toPrimary = false;
  }

  /** set when the primary address answered a probe: the next attempt goes there */
  private toPrimary = false;

  /** One timer: the next attempt (disconnected), or the next check (connected); 0 = none. */
  private schedule(seconds: number): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (seconds <= 0 || this.stopped) return;
    this.timer = setTimeout(() => this.tick(), seconds * 1000);
    this.timer.unref();
  }

  private tick(): void {
    this.timer = undefined;
    const cfg = this.config;
    const remote = this.remote;
    if (remote === undefined) {
      // lazy: connects once `threshold` messages wait (Mosquitto: lazy_reconnect)
      if (cfg.startType === 'lazy' && (this.session?.queuedCount ?? 0) < cfg.threshold) return this.schedule(1);
      return this.connect();
    }
    if (!remote.isOpen) return;
    if (cfg.startType === 'lazy' && Date.now() - this.lastActivity > cfg.idleTimeout * 1000) {
      remote.close(`idle for ${cfg.idleTimeout} s`, true);
      return;
    }
    if (!cfg.roundRobin && this.policy.address !== 0) this.probePrimary();
    else if (cfg.startType === 'lazy') this.schedule(1);
  }

  /** Connected to a backup address: back to the primary once it accepts a TCP connection. */
  private probePrimary(): void {
    const primary = this.config.addresses[0]!;
    const probe = netConnect({ host: primary.host, port: primary.port }, () => {
      probe.destroy();
      if (this.remote === undefined || this.stopped) return;
      this.log.notice(`bridge ${this.config.name}: primary address ${primary.host}:${primary.port} is back`);
      this.toPrimary = true;
      this.remote.close('returning to the primary address', true);
    });
    probe.on('error', () => this.schedule(PRIMARY_RETRY_S));
  }
}

/**
 * Per-bridge numbers for the worker's stats snapshot, `bridge_<name>_<stat>` (the name reduced to
 * [a-z0-9_]): its counters, and `up` (1 while connected to the remote with its session attached)
 * and `queued` (messages its local session holds for the remote). On /metrics as
 * culex_bridge_messages_total, culex_bridge_connections_total, culex_bridge_up and
 * culex_bridge_queued_messages, labelled by bridge (src/metrics/prometheus.ts).
 */
export function bridgeCounters(bridges: readonly Bridge[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const b of bridges) {
    const name = `bridge_${b.config.name.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_`;
    for (const [key, value] of Object.entries(b.stats)) out[name + key] = value;
    out[name + 'up'] = b.session !== undefined && b.session.link === b ? 1 : 0;
    out[name + 'queued'] = b.session?.queuedCount ?? 0;
    out[name + 'dropped'] = b.droppedTotal();
  }
  return out;
}

import type { Duplex } from 'node:stream';
import type {
  IConnectPacket, IDisconnectPacket, IPublishPacket, ISubscribePacket, IUnsubscribePacket, Packet,
} from 'mqtt-packet';
import { MqttProtocolError, ReasonCode, reasonStringAdds } from '../protocol/errors.ts';
import { Framer } from '../protocol/framer.ts';
import { decodeConnect, decodePacket, type ProtocolVersion } from '../protocol/decode.ts';
import { decodePublish } from '../protocol/packets/publish.ts';
import { encodePacket } from '../protocol/encode.ts';
import { encodeAck } from '../protocol/packets/ack.ts';
import { encodeDisconnect } from '../protocol/packets/disconnect.ts';
import { counters } from '../metrics/counters.ts';
import type { Broker } from '../broker/broker.ts';
import type { ClientLink } from '../broker/clientLink.ts';
import { AckQueue, type AckQueueOwner } from './ackQueue.ts';
import type { Outbox } from './outbox.ts';
import type { WheelEntry } from '../broker/deadlineWheel.ts';
import type { ListenerContext } from './listenerContext.ts';
import { TopicAliases } from './topicAliases.ts';
import { HeldPublishes, type WindowOwner } from './heldPublishes.ts';
import type { InboundTable } from '../broker/qos/inbound.ts';
import { connackProperties, hasV3ReturnCode, refusalConnack, v3Connack } from './connack.ts';
import { routePublish } from './publishIn.ts';
import { connectPacketLimit, connectRefusal } from './connectCheck.ts';
import { certificateUsername } from './certificateIdentity.ts';
import { encodeDelivery, encodeDeliveryAs } from './publishEncoder.ts';
import { mountTopic, unmountTopic } from './mountPoint.ts';
import type { Delivery } from '../model/delivery.ts';
import { AckResult, type AckResultValue } from '../broker/qos/outbound.ts';
import { NEVER_EXPIRES, type Session, type SessionLink } from '../broker/session.ts';
import { willFromConnect, type Will } from '../model/will.ts';
import { handleSubscribe, handleUnsubscribe } from './subscribe.ts';
import { UNKNOWN_CLIENT, closeLine, socketErrorLine } from './closeLog.ts';

const State = { AwaitConnect: 0, Authenticating: 1, Connected: 2, Closed: 3 } as const;
type StateValue = (typeof State)[keyof typeof State];

/** An acknowledgement that does not fit the QoS or state of the message it names (PUBACK for QoS 2,
 *  PUBREC or PUBCOMP for QoS 1, PUBCOMP before PUBREC) is a Protocol Error: the connection is closed, as
 *  Mosquitto 2.0.11 closes it (a v5 client is told DISCONNECT 0x82 first, which Mosquitto leaves out
 *  for acks). An ack for an id not in flight is not an error (AckResult.Unknown). */
function wrongType(r: AckResultValue, cmd: string): void {
  if (r === AckResult.WrongType) {
    throw new MqttProtocolError(ReasonCode.ProtocolError, 'MQTT_ERR_ACK_TYPE',
      `${cmd.toUpperCase()} does not fit the QoS or state of the message it acknowledges`);
  }
}

/** the credentials of every CONNECT without a password (shared: one object less per connection) */
const NO_PASSWORD = { password: undefined } as const;

/** Outbound bytes buffered per socket above which QoS 0 is dropped and QoS 1/2 wait in the queue. */
const OUTBOUND_BUDGET = 1 << 20;

/**
 * The peer's address, read when first wanted: a net.Socket (its getters ask the kernel once and
 * keep the answer while the socket is open), or the TCP socket under a WebSocket.
 */
export interface Peer {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
}

/** The connection a stream belongs to, set by the constructor. */
const CONNECTION = Symbol('culex.connection');
type OwnedStream = Duplex & { [CONNECTION]: Connection };

/**
 * One client connection: the MQTT protocol state machine over one byte stream. Owns its stream,
 * framer, topic aliases and the link to its session; everything runs on the worker's thread.
 * called from: worker
 */
export class Connection implements SessionLink, ClientLink, AckQueueOwner, WindowOwner {
  private state: StateValue = State.AwaitConnect;
  version: ProtocolVersion = 4;
  clientId = '';
  username: string | undefined = undefined;
  session: Session | undefined = undefined;
  will: Will | undefined = undefined;
  /**
   * The CONNECT's password (a copy), kept to check the client again when a configuration reload
   * changes the password file or allow_anonymous, as Mosquitto keeps it (security_default.c
   * mosquitto_security_apply_default); undefined for a client named by its certificate, which a
   * reload does not check again.
   */
  credentials: { readonly password: Buffer | undefined } | undefined = undefined;
  /** worker tick of the last packet received (keep-alive) */
  lastRxTick: number;
  /** worker tick the connection was accepted at: CONNACK must follow within max_connect_time */
  readonly openedTick: number;
  /** seconds; 0 = no keep-alive */
  keepalive = 0;
  /** the outbox's DeadlineWheel: this connection's neighbours in its slot (undefined: in none) */
  wheelPrev: WheelEntry | undefined = undefined;
  wheelNext: WheelEntry | undefined = undefined;
  /** the CONNECT's session expiry, to check DISCONNECT against [MQTT-3.14.2-2] */
  private connectSessionExpiry = 0;
  /** v5: the client's Receive Maximum ∧ max_inflight_messages */
  sendQuota = 65535;
  /** v5: client's Maximum Packet Size; 0 = none */
  private clientMaxPacketSize = 0;
  /** MQTT 5 topic aliases: made when the client allows ours or sends its own (most connections never do) */
  private topicAliases: TopicAliases | undefined = undefined;
  private problemInformation = true;
  private readonly framer: Framer;
  /** frames received while CONNECT is being authenticated, processed in order afterwards */
  private backlog: Buffer[] | undefined = undefined;
  private backlogOffsets: number[] | undefined = undefined;
  /**
   * encoded packets waiting for the end of this event-loop turn (one write per turn): the first
   * alone (no array for the usual one packet, and none kept by an idle connection), the rest in
   * `outMore`
   */
  private outFirst: Buffer | undefined = undefined;
  private outMore: Buffer[] | undefined = undefined;
  private outBytes = 0;
  dirty = false;
  /** set when the close is a takeover or a normal DISCONNECT, so no Will is sent */
  private discardWill = false;
  private released = false;
  /**
   * what is logged when the socket closes (closeLog.ts): set by the first close decision;
   * undefined = the client closed it ("closed its connection"), '' = nothing
   */
  private closeLogLine: string | undefined = undefined;
  private sessionPending = false;
  /**
   * acknowledgements waiting for a durable commit, in the order of the packets they answer; made
   * at the first one that must wait
   */
  private acks: AckQueue | undefined = undefined;
  /** 3.1/3.1.1: PUBLISHes waiting for the inbound QoS 2 window; made at the first QoS 2 PUBLISH */
  private held: HeldPublishes | undefined = undefined;
  /** the broker made up this client id (unique by construction: no other worker can hold it) */
  idAssigned = false;
  /** the CONNECT had the bridge bit (a Mosquitto bridge's try_private): its 3.1/3.1.1 subscriptions are No Local + Retain As Published */
  isBridge = false;

  /** a TCP/TLS socket or a WebSocket wrapped as a byte stream */
  readonly socket: Duplex;
  /** where the peer's address is asked when wanted (a getpeername the first time): most connections never log it */
  private readonly peer: Peer;
  private readonly broker: Broker;
  private readonly outbox: Outbox;
  /** the listener this client came in through */
  readonly listener: ListenerContext;
  /** the listener's mount_point (src/link/mountPoint.ts); undefined for nearly every connection */
  readonly mountPoint: string | undefined;

  constructor(socket: Duplex, broker: Broker, outbox: Outbox, listener: ListenerContext, peer: Peer) {
    this.socket = socket;
    this.listener = listener;
    this.mountPoint = listener.config.mountPoint;
    this.broker = broker;
    this.outbox = outbox;
    this.peer = peer;
    // until CONNACK, a client may make the broker hold one packet of at most max_connect_packet_size
    this.framer = new Framer(connectPacketLimit(broker.config));
    this.lastRxTick = outbox.tick;
    this.openedTick = outbox.tick;
    (socket as OwnedStream)[CONNECTION] = this;
    socket.on('drain', Connection.onSocketDrain);
    socket.on('error', Connection.onSocketError);
    socket.on('close', Connection.onSocketClose);
  }

  // The stream's listeners are three functions for all connections (`this` is the stream), not
  // three closures per connection: they find their connection through CONNECTION.
  private static onSocketDrain(this: Duplex): void {
    (this as OwnedStream)[CONNECTION].onDrain();
  }

  private static onSocketError(this: Duplex, err: NodeJS.ErrnoException): void {
    const conn = (this as OwnedStream)[CONNECTION];
    conn.noteClose(socketErrorLine(conn.logId, err));
  }

  private static onSocketClose(this: Duplex): void {
    (this as OwnedStream)[CONNECTION].onClose();
  }

  /** The 'data' listener of a stream read in stream mode (TLS, WebSocket); `this` is the stream. */
  static onStreamData(this: Duplex, chunk: Buffer): void {
    (this as OwnedStream)[CONNECTION].onData(chunk);
  }

  get remoteAddress(): string | undefined {
    return this.peer.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.peer.remotePort;
  }

  /** ClientLink: the index of the listener, for per_listener_settings ACLs */
  get listenerIndex(): number {
    return this.listener.index;
  }

  get connected(): boolean {
    return this.state === State.Connected;
  }

  get congested(): boolean {
    return this.outBytes + this.socket.writableLength > OUTBOUND_BUDGET;
  }

  /** Every chunk the socket reads, in order; the transport calls it ('data' or transport/directRead.ts). */
  onData(chunk: Buffer): void {
    if (this.state === State.Closed) return;
    counters.bytesReceived += chunk.length;
    this.lastRxTick = this.outbox.tick;
    const cluster = this.broker.cluster;
    // what other workers sent (subscriptions, retained updates) applies before this input is routed
    cluster?.sync();
    try {
      this.framer.push(chunk, this);
    } catch (err) {
      this.fail(err);
    }
    // a full ring to another worker: stop reading this publisher until it has room
    if (cluster !== undefined && cluster.congested) cluster.pauseReader(this.socket);
  }

  /** FrameSink: one whole packet of this connection's stream. */
  onFrame(frame: Buffer, bodyOffset: number): void {
    switch (this.state) {
      case State.Connected:
        counters.messagesReceived++;
        // PUBLISH straight to its handler: no dispatch on the decoded packet's shape
        if (frame[0]! >> 4 === 3) this.onPublish(decodePublish(frame, bodyOffset, this.version), frame, bodyOffset);
        else this.onPacket(decodePacket(frame, bodyOffset, this.version));
        return;
      case State.AwaitConnect:
        counters.messagesReceived++;
        if (frame[0]! >> 4 !== 1) {
          // [MQTT-3.1.0-1] the first packet must be CONNECT
          throw new MqttProtocolError(ReasonCode.ProtocolError, 'MQTT_ERR_FIRST_NOT_CONNECT', 'first packet is not CONNECT', 'MQTT-3.1.0-1');
        }
        this.onConnect(decodeConnect(frame, bodyOffset));
        return;
      case State.Authenticating:
        (this.backlog ??= []).push(frame);
        (this.backlogOffsets ??= []).push(bodyOffset);
        return;
      default:
        return;
    }
  }

  /** Every packet but PUBLISH (onFrame hands those to onPublish). */
  private onPacket(packet: Packet): void {
    switch (packet.cmd) {
      case 'puback':
        return wrongType(this.session!.puback(packet.messageId!, Date.now()), packet.cmd);
      case 'pubrec': {
        const r = this.session!.pubrec(packet.messageId!, packet.reasonCode ?? 0, Date.now());
        // PUBREC for an id not in flight: PUBREL all the same, Success, as Mosquitto 2.0.11 (handle_pubrec.c)
        // answers it (the spec also allows 0x92): it may be a PUBREC repeated after a reconnect
        if (r === AckResult.Unknown) this.write(encodeAck('pubrel', packet.messageId!, this.version));
        return wrongType(r, packet.cmd);
      }
      case 'pubrel': {
        const id = packet.messageId!;
        const scope = this.broker.scope.open();
        const known = this.session!.inbound.release(id);
        if (known) this.broker.releaseInbound(this.session!, id);
        // the id is free on disk before PUBCOMP tells the client it may reuse it
        // an unknown id (a PUBREL repeated after a reconnect) is completed with Success, as Mosquitto 2.0.11
        // does (handle_pubrel.c; its 03-publish-c2b-disconnect-qos2.py expects 70 02); the spec also allows 0x92
        this.afterCommit(scope.close(), () => this.write(encodeAck('pubcomp', id, this.version)));
        if (known) this.held?.release((p) => routePublish(this, this.broker, p, undefined, 0));
        return;
      }
      case 'pubcomp':
        return wrongType(this.session!.pubcomp(packet.messageId!, Date.now()), packet.cmd);
      case 'subscribe':
        return handleSubscribe(this, this.broker, packet as ISubscribePacket);
      case 'unsubscribe':
        return handleUnsubscribe(this, this.broker, packet as IUnsubscribePacket);
      case 'pingreq':
        this.write(encodePacket({ cmd: 'pingresp' }, this.version));
        return;
      case 'disconnect':
        return this.onDisconnect(packet);
      case 'connect':
        // [MQTT-3.1.0-2] a second CONNECT is a protocol violation
        throw new MqttProtocolError(ReasonCode.ProtocolError, 'MQTT_ERR_SECOND_CONNECT', 'second CONNECT', 'MQTT-3.1.0-2');
      case 'auth':
        // no extended authentication methods are supported, so an AUTH packet is unexpected [MQTT-4.12.0-1]
        throw new MqttProtocolError(ReasonCode.ProtocolError, 'MQTT_ERR_UNEXPECTED_AUTH', 'AUTH without an authentication method');
      default:
        throw new MqttProtocolError(ReasonCode.ProtocolError, 'MQTT_ERR_SERVER_PACKET', `${packet.cmd} may not be sent by a client`);
    }
  }

  // ---- CONNECT ----------------------------------------------------------------------------

  private onConnect(packet: IConnectPacket): void {
    const cfg = this.broker.config;
    this.version = (packet.protocolVersion ?? 4) as ProtocolVersion;
    this.isBridge = (packet as IConnectPacket & { bridgeMode?: boolean }).bridgeMode === true;
    const v5 = this.version === 5;
    // [MQTT-3.1.2-29] read before any refusal: with 0, no reason string even on a refusing CONNACK
    if (v5) this.problemInformation = packet.properties?.requestProblemInformation !== false;
    let clientId = packet.clientId;
    let assigned: string | undefined;
    if (clientId.length === 0) {
      // [MQTT-3.1.3-8] 3.1.1: a zero-length id needs clean session; 3.1 has no zero-length ids
      if (!this.listener.security.allowZeroLengthClientId || (!v5 && (packet.clean === false || this.version === 3))) {
        return this.refuse(ReasonCode.ClientIdentifierNotValid, 'zero-length client id not allowed');
      }
      clientId = assigned = this.broker.assignClientId(this.listener.security.autoIdPrefix);
      this.idAssigned = true;
    }
    // clientid_prefixes (deprecated in Mosquitto): the id, an assigned one too, must start with it
    const prefix = cfg.clientidPrefixes;
    if (prefix !== undefined && !clientId.startsWith(prefix)) return this.refuse(ReasonCode.NotAuthorized, `client id does not start with clientid_prefixes '${prefix}'`);
    const refusal = connectRefusal(cfg, packet, this.version);
    if (refusal !== undefined) return this.refuse(refusal.reason, refusal.why);
    // use_identity_as_username / use_subject_as_username: the certificate names the client, whatever the CONNECT says
    const certified = certificateUsername(this.listener.config.tls, this.socket);
    if (certified === null) return this.refuse(ReasonCode.BadUserNameOrPassword, 'no username in the client certificate');
    if (certified !== undefined) packet = { ...packet, username: certified, password: undefined };
    const keepalive = packet.keepalive ?? 0;
    // a zero-length username or password is none, as Mosquitto reads them (packet__read_binary
    // gives NULL): such a username is an anonymous client, such a password matches no
    // password-file or dynamic-security entry (its 09-pwfile-parse-invalid.py)
    const username = packet.username !== undefined && packet.username.length > 0 ? packet.username : undefined;
    const password = packet.password !== undefined && packet.password.length > 0 ? packet.password : undefined;
    if (this.listener.config.useUsernameAsClientid === true) {
      // use_username_as_clientid: the username (a certificate's included) is the client id, put
      // in before the password is checked, as Mosquitto's handle_connect.c does; a v5 client that
      // sent no id is told it as its Assigned Client Identifier
      if (username === undefined) return this.refuse(ReasonCode.NotAuthorized, 'use_username_as_clientid: no username');
      clientId = username;
      if (assigned !== undefined) assigned = username;
      this.idAssigned = false;
    }
    this.clientId = clientId;
    this.username = username;
    this.credentials = certified !== undefined ? undefined : password === undefined ? NO_PASSWORD : { password: Buffer.from(password) };
    const mount = this.mountPoint;
    this.will = willFromConnect(packet, clientId, this.listener.index, mount === undefined || !packet.will ? undefined : mountTopic(mount, packet.will.topic));
    this.keepalive = keepalive;
    this.state = State.Authenticating;
    const decided = certified !== undefined || this.broker.authenticate({ listener: this.listener.index, clientId, username, password });
    if (decided === true) {
      this.accept(packet, assigned);
    } else if (decided === false) {
      // a refused password is "not authorised" (3.1.1 code 5, v5 0x87) as in Mosquitto 2.0.11 (handle_connect.c)
      this.refuse(ReasonCode.NotAuthorized, 'not authorized');
    } else {
      this.socket.pause();
      decided.then(
        (ok) => {
          if (this.state !== State.Authenticating) return;
          this.socket.resume();
          // bad credentials or none: "not authorised" either way, as Mosquitto 2.0.11 answers (src/auth/authenticator.ts)
          if (ok === 'ok') this.accept(packet, assigned);
          else this.refuse(ReasonCode.NotAuthorized, 'not authorized');
          this.outbox.flushSoon();
        },
        () => {
          if (this.state !== State.Authenticating) return;
          this.refuse(ReasonCode.ServerUnavailable, 'authentication unavailable');
          this.outbox.flushSoon();
        },
      );
    }
  }

  private accept(packet: IConnectPacket, assigned: string | undefined): void {
    const cfg = this.broker.config;
    const v5 = this.version === 5;
    const props = packet.properties;
    const clean = packet.clean !== false;
    let expiry: number;
    if (v5) expiry = props?.sessionExpiryInterval ?? 0;
    else expiry = clean ? 0 : cfg.persistentClientExpiration > 0 ? cfg.persistentClientExpiration : NEVER_EXPIRES;
    this.connectSessionExpiry = expiry;
    if (v5) {
      this.sendQuota = Math.min(props?.receiveMaximum ?? 65535, cfg.maxInflightMessages > 0 ? cfg.maxInflightMessages : 65535);
      this.clientMaxPacketSize = props?.maximumPacketSize ?? 0;
      if (this.clientMaxPacketSize > 0 && this.v5Connack(false, assigned).bytes.length > this.clientMaxPacketSize) {
        // [MQTT-3.1.2-24] not even the CONNACK fits: closed without one, as Mosquitto (its
        // 12-prop-maximum-packet-size-connect.py); no session was touched
        this.closeRefused(closeLine(this.clientId, ReasonCode.PacketTooLarge));
        return;
      }
      const aliasMax = props?.topicAliasMaximum ?? 0;
      if (aliasMax > 0) this.aliases.outboundMax = aliasMax;
    } else {
      this.sendQuota = cfg.maxInflightMessages > 0 ? cfg.maxInflightMessages : 65535;
    }
    this.sessionPending = true;
    this.broker.openSession(this, clean, expiry, (session, present) => {
      this.sessionPending = false;
      this.begin(packet, session, present, assigned);
    });
  }

  /** true while CONNECT waits for its session to arrive from another worker */
  get awaitingSession(): boolean {
    return this.sessionPending && this.state === State.Authenticating;
  }

  /** The session is ready: CONNACK, then queued and inflight messages [MQTT-4.4.0-1]. */
  private begin(packet: IConnectPacket, session: Session, present: boolean, assigned: string | undefined): void {
    const cfg = this.broker.config;
    const v5 = this.version === 5;
    this.session = session;
    this.state = State.Connected;
    this.framer.maxPacketSize = cfg.maxPacketSize;
    counters.clientsConnected++;
    counters.connects++;

    if (v5) {
      const connack = this.v5Connack(present, assigned);
      this.keepalive = connack.keepalive;
      this.write(connack.bytes);
    } else {
      this.write(v3Connack(this.version, present));
    }
    // the keep-alive, now final, replaces the CONNECT deadline
    this.outbox.connected(this);
    this.broker.log.connection(this, packet);
    session.attach(this, Date.now());
    this.drainBacklog();
  }

  /**
   * The CONNACK of an accepted v5 CONNECT, and the keep-alive the client must use from then on:
   * max_keepalive, sent as Server Keep Alive, when it asked for more or for none [MQTT-3.2.2-21].
   */
  private v5Connack(present: boolean, assigned: string | undefined): { bytes: Buffer; keepalive: number } {
    const cfg = this.broker.config;
    const serverKeepAlive = cfg.maxKeepalive < 65535 && (this.keepalive > cfg.maxKeepalive || this.keepalive === 0) ? cfg.maxKeepalive : undefined;
    const properties = connackProperties(cfg, this.broker.receiveMaximum, serverKeepAlive, assigned);
    return { bytes: encodePacket({ cmd: 'connack', sessionPresent: present, reasonCode: 0, properties }, 5), keepalive: serverKeepAlive ?? this.keepalive };
  }

  private drainBacklog(): void {
    const frames = this.backlog;
    const offsets = this.backlogOffsets;
    if (frames === undefined || offsets === undefined) return;
    this.backlog = this.backlogOffsets = undefined;
    try {
      for (let i = 0; i < frames.length && this.state === State.Connected; i++) this.onFrame(frames[i]!, offsets[i]!);
    } catch (err) {
      this.fail(err);
    }
  }

  /** CONNACK with a failure code, then close [MQTT-3.2.2-5/6]. */
  private refuse(reasonCode: number, why: string): void {
    if (reasonCode === ReasonCode.NotAuthorized || reasonCode === ReasonCode.BadUserNameOrPassword) counters.authFailures++;
    this.write(refusalConnack(this.version, reasonCode, this.reasonString(reasonCode, why)));
    this.closeRefused(closeLine(UNKNOWN_CLIENT, reasonCode, why));
  }

  /** A CONNECT not accepted: counted, its will dropped, closed once what was written has gone out. */
  private closeRefused(line: string): void {
    counters.connectionsRejected++;
    this.noteClose(line);
    this.discardWill = true;
    this.closeAfterFlush();
  }

  // ---- PUBLISH ----------------------------------------------------------------------------

  /** `frame`: the bytes `p` was decoded from (routePublish may forward them as they came). */
  private onPublish(p: IPublishPacket, frame: Buffer, bodyOffset: number): void {
    // 3.1.1 cannot be told Receive Maximum: past it, its PUBLISHes wait for the window (heldPublishes.ts),
    // which only a QoS 2 PUBLISH can fill: made at the first one
    const held = this.held ?? (p.qos === 2 && this.version !== 5 ? (this.held = new HeldPublishes(this, this.broker.receiveMaximum)) : undefined);
    if (held !== undefined && held.offer(p)) return;
    routePublish(this, this.broker, p, frame, bodyOffset);
  }

  /**
   * Runs `send` (an acknowledgement) after `commit` and every acknowledgement before it
   * (AckQueue); `failed` may adjust what it says when the commit fails (else the client is closed).
   */
  afterCommit(commit: Promise<void> | undefined, send: () => void, failed?: () => boolean): void {
    if (commit === undefined && this.acks === undefined) send();
    else (this.acks ??= new AckQueue(this)).after(commit, send, failed);
  }

  /** something waits in the ordered-ack queue: a new acknowledgement must go behind it */
  get acksWaiting(): boolean {
    return this.acks?.waiting === true;
  }

  /** this connection's topic aliases (an inbound PUBLISH that carries one makes them) */
  get aliases(): TopicAliases {
    return (this.topicAliases ??= new TopicAliases());
  }

  // WindowOwner (heldPublishes.ts)
  get inbound(): InboundTable | undefined {
    return this.state === State.Connected ? this.session?.inbound : undefined;
  }

  log(message: string): void {
    this.broker.log.notice(message);
  }

  // AckQueueOwner
  get closed(): boolean {
    return this.state === State.Closed;
  }

  abort(): void {
    this.disconnect(ReasonCode.UnspecifiedError, 'could not be stored');
  }

  sent(): void {
    this.outbox.flushSoon();
  }

  // ---- DISCONNECT -------------------------------------------------------------------------

  private onDisconnect(packet: IDisconnectPacket): void {
    const expiry = packet.properties?.sessionExpiryInterval;
    if (expiry !== undefined) {
      if (this.connectSessionExpiry === 0 && expiry !== 0) {
        // [MQTT-3.14.2-2] a session that was to end at disconnect may not be extended here
        throw new MqttProtocolError(ReasonCode.ProtocolError, 'MQTT_ERR_SESSION_EXPIRY', 'session expiry set by DISCONNECT after 0 in CONNECT', 'MQTT-3.14.2-2');
      }
      this.session!.expiryInterval = expiry;
    }
    // [MQTT-3.14.4-3] a normal DISCONNECT discards the Will; 0x04 asks for it to be sent
    this.discardWill = packet.reasonCode !== ReasonCode.DisconnectWithWill;
    this.noteClose(`Client ${this.clientId} disconnected.`);
    this.closeAfterFlush();
    // the session and the will are settled now, not when the peer closes its side: a client that keeps
    // its socket open after DISCONNECT 0x04 still has its will published at once, as Mosquitto does
    this.release();
  }

  // ---- output -----------------------------------------------------------------------------

  /** Queues encoded bytes; the worker writes every dirty connection once at the end of the turn. */
  write(bytes: Buffer): void {
    if (this.outFirst === undefined) this.outFirst = bytes;
    else (this.outMore ??= []).push(bytes);
    this.outBytes += bytes.length;
    if (!this.dirty) this.outbox.markDirty(this);
  }

  /** Called by the broker once per turn for each dirty connection. */
  flush(): void {
    this.dirty = false;
    const first = this.outFirst;
    if (first === undefined) return;
    let bytes = first;
    const more = this.outMore;
    if (more !== undefined) {
      bytes = Buffer.allocUnsafe(this.outBytes);
      let pos = first.copy(bytes, 0);
      for (let i = 0; i < more.length; i++) pos += more[i]!.copy(bytes, pos);
      this.outMore = undefined;
    }
    counters.bytesSent += this.outBytes;
    this.outFirst = undefined;
    this.outBytes = 0;
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  sendPublish(d: Delivery, packetId: number, dup: boolean, after?: Promise<void>): boolean {
    if (this.mountPoint !== undefined) return this.sendMountedPublish(d, packetId, dup, after);
    const topic = d.message.topic;
    const alias = this.topicAliases?.outboundFor(topic);
    return this.sendPublishBytes(encodeDelivery(d, packetId, dup, this.version, alias, Date.now()), topic, alias, after);
  }

  /** A client of a mount_point listener is sent the topic without the prefix, in a packet encoded for it alone. */
  private sendMountedPublish(d: Delivery, packetId: number, dup: boolean, after: Promise<void> | undefined): boolean {
    const topic = unmountTopic(this.mountPoint!, d.message.topic);
    if (topic === undefined) return false;
    const alias = this.topicAliases?.outboundFor(topic);
    return this.sendPublishBytes(encodeDeliveryAs(topic, d, packetId, dup, this.version, alias, Date.now()), topic, alias, after);
  }

  private sendPublishBytes(bytes: Buffer, topic: string, alias: number | undefined, after: Promise<void> | undefined): boolean {
    if (this.clientMaxPacketSize > 0 && bytes.length > this.clientMaxPacketSize) {
      // [MQTT-3.1.2-25] never send a packet larger than the client's Maximum Packet Size
      if (alias !== undefined && alias > 0) this.topicAliases?.forgetOutbound(topic);
      counters.messagesDroppedTooLarge++;
      return false;
    }
    counters.messagesSent++;
    counters.publishBytesSent += bytes.length;
    this.writeAfter(after, bytes);
    return true;
  }

  sendPubrel(packetId: number, after?: Promise<void>): void {
    this.writeAfter(after, encodeAck('pubrel', packetId, this.version));
  }

  /** Writes at once, or (keeping the order of everything written) once `after` has resolved or earlier writes that wait have gone. */
  private writeAfter(after: Promise<void> | undefined, bytes: Buffer): void {
    if (after === undefined && !this.acksWaiting) this.write(bytes);
    else this.afterCommit(after, () => this.write(bytes));
  }

  private onDrain(): void {
    if (this.state === State.Connected && !this.congested) this.session?.pump(Date.now());
  }

  // ---- errors and close -------------------------------------------------------------------

  /** The one place that decides how a protocol error is told to the peer (STYLE pattern 9). */
  fail(err: unknown): void {
    if (this.state === State.Closed) return;
    if (!(err instanceof MqttProtocolError)) {
      this.broker.log.error(`client ${this.clientId || this.remoteAddress}: internal error`, err);
      this.disconnect(ReasonCode.ImplementationSpecificError, 'internal error');
      return;
    }
    counters.protocolErrors++;
    this.broker.log.debug(`client ${this.clientId || this.remoteAddress}: ${err.code} ${err.message}`);
    if (this.state === State.AwaitConnect) {
      // A CONNECT that cannot be decoded is closed without CONNACK in every version, as Mosquitto 2.0.11
      // does (the spec lets the server choose, 4.13.1); only the errors a return code names (a bad
      // protocol level, a 3.1/3.1.1 client id refused) are answered
      const v = err.protocolVersion;
      if (v !== undefined && hasV3ReturnCode(err.reasonCode)) {
        this.version = v;
        this.refuse(err.reasonCode, err.message);
      } else {
        this.noteClose(closeLine(UNKNOWN_CLIENT, err.reasonCode, err.message));
        this.closeAfterFlush();
      }
      return;
    }
    this.disconnect(err.reasonCode, err.message);
    this.release(); // the will goes now, not when a peer that lingers closes its side
  }

  /** Server-initiated close: v5 gets a DISCONNECT with the reason [MQTT-4.13.2-1], v3 just the close. */
  disconnect(reasonCode: number, reasonString?: string): void {
    if (this.state === State.Closed) return;
    this.noteClose(closeLine(this.logId, reasonCode, reasonString));
    if (this.version === 5 && this.state === State.Connected) {
      this.write(encodeDisconnect(5, reasonCode, reasonString === undefined ? undefined : this.reasonString(reasonCode, reasonString)));
    }
    this.closeAfterFlush();
  }

  /** `text` as the Reason String of a CONNACK or DISCONNECT with `reasonCode`, where it adds to the code and
   *  the client allows it [MQTT-3.1.2-29]; else undefined. */
  private reasonString(reasonCode: number, text: string): string | undefined {
    return this.problemInformation && reasonStringAdds(reasonCode) ? text : undefined;
  }

  /**
   * Takeover by a new connection with the same client id [MQTT-3.1.4-3]; `cleanStart`: the new one's.
   * A 3.1/3.1.1 connection replaced by one that resumes its persistent session loses its will, as in
   * Mosquitto 2.0.11 (handle_connect.c: the will is sent only when either side is a clean session): a
   * device replacing its own stale connection is not reported gone. v5 keeps the will, and its Will
   * Delay Interval, as the spec says.
   */
  takeOver(cleanStart: boolean): void {
    // Mosquitto handle_connect.c logs this (an error line) only for a connection still open
    if (this.state !== State.Closed && this.broker.log.connectionMessages) this.broker.log.write('error', `Client ${this.clientId} already connected, closing old connection.`);
    if (this.version !== 5 && this.connectSessionExpiry !== 0 && !cleanStart) this.discardWill = true;
    this.disconnect(ReasonCode.SessionTakenOver);
    this.release();
  }

  /** Hands the session back to the broker, once, whichever of close or takeover comes first. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    const log = this.broker.log;
    if (log.connectionMessages) {
      const line = this.closeLogLine ?? `Client ${this.logId} closed its connection.`;
      if (line !== '') log.notice(line);
    }
    if (this.session !== undefined) counters.clientsConnected--;
    this.state = State.Closed;
    this.framer.discard(); // a half-read packet is not kept alive by this object
    this.outbox.remove(this);
    this.broker.onClosed(this, this.discardWill);
  }

  /** The client id in the close lines: `<unknown>` until CONNECT succeeded, as Mosquitto. */
  private get logId(): string {
    return this.session !== undefined ? this.clientId : UNKNOWN_CLIENT;
  }

  /** Records why the connection closes, for the line logged when it has (the first reason wins). */
  private noteClose(line: string): void {
    this.closeLogLine ??= line;
  }

  private closeAfterFlush(): void {
    this.state = State.Closed;
    this.flush();
    this.socket.end();
    this.socket.pause();
    this.outbox.endLater(this.socket);
  }

  private onClose(): void {
    this.release();
  }

  /** Keep-alive expiry [MQTT-3.1.2-24]. */
  keepaliveExpired(): void {
    counters.keepaliveTimeouts++;
    this.disconnect(ReasonCode.KeepAliveTimeout);
    this.release(); // a dead peer never closes its side: the will goes now
  }

  /** no CONNACK yet: CONNECT not received or being authenticated (the CONNECT deadline applies) */
  get isAwaitingConnect(): boolean {
    return this.state === State.AwaitConnect || this.state === State.Authenticating;
  }
}

/**
 * A bridge's connection to the remote broker: one MQTT client connection over TCP or TLS, coded
 * with mqtt-packet (acks with culex's own encoder, in their short form). It moves packets, not
 * messages: the Bridge (bridge.ts) chooses packet ids
 * (its session's, so that a restart resends with the same ids) and decides what a received
 * PUBLISH becomes. Keep-alive: a PINGREQ every keepalive seconds; one unanswered by the next
 * closes the connection, as Mosquitto's client does.
 * called from: worker
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pskKeyBytes } from '../auth/pskFile.ts';
import { MOSQUITTO_DEFAULT_CIPHERS } from '../config/tlsCiphers.ts';
import mqttPacket from 'mqtt-packet';
import type { IConnackPacket, IConnectPacket, IPublishPacket, Packet } from 'mqtt-packet';
import type { BridgeTls } from '../config/types.ts';
import { encodeAck, type AckCmd } from '../protocol/packets/ack.ts';

/** What the remote connection reports to its Bridge. */
export interface RemoteEvents {
  /** CONNACK accepted */
  connected(connack: IConnackPacket): void;
  publish(p: IPublishPacket): void;
  pubrel(packetId: number): void;
  puback(packetId: number, reasonCode: number): void;
  pubrec(packetId: number, reasonCode: number): void;
  pubcomp(packetId: number): void;
  drain(): void;
  /** once, whatever the cause; `refusedCode` = the CONNACK's code when the broker refused */
  closed(reason: string, refusedCode: number | undefined): void;
}

/** How to reach and greet the remote broker. */
export interface RemoteOptions {
  readonly host: string;
  readonly port: number;
  /** the local address to connect from (bridge_bind_address, resolved: an IP address) */
  readonly localAddress: string | undefined;
  readonly version: 3 | 4 | 5;
  /** the bridge bit in the protocol level (try_private) */
  readonly bridgeBit: boolean;
  readonly connect: Omit<IConnectPacket, 'cmd' | 'protocolId' | 'protocolVersion'>;
  readonly tls: ConnectionOptions | undefined;
  /** closes when no CONNACK came within this many ms */
  readonly connectTimeoutMs: number;
}

/** Node TLS options from the bridge_* TLS settings (files read now: at each connection, as Mosquitto). */
export function bridgeTlsOptions(t: BridgeTls, host: string): ConnectionOptions {
  const ca: Buffer[] = [];
  if (t.cafile !== undefined) ca.push(readFileSync(t.cafile));
  if (t.capath !== undefined) {
    for (const name of readdirSync(t.capath)) if (/\.(pem|crt)$/.test(name)) ca.push(readFileSync(join(t.capath, name)));
  }
  const versions = { 'tlsv1.1': 'TLSv1.1', 'tlsv1.2': 'TLSv1.2', 'tlsv1.3': 'TLSv1.3' } as const;
  return {
    ...(ca.length > 0 ? { ca } : {}),
    ...(t.certfile !== undefined ? { cert: readFileSync(t.certfile) } : {}),
    ...(t.keyfile !== undefined ? { key: readFileSync(t.keyfile) } : {}),
    ...(t.alpn !== undefined ? { ALPNProtocols: [t.alpn] } : {}),
    ...(t.tlsVersion !== undefined ? { minVersion: versions[t.tlsVersion] } : {}),
    ...(isIP(host) === 0 ? { servername: host } : {}),
    // bridge_insecure: the certificate chain is checked, its host name is not
    ...(t.insecure ? { checkServerIdentity: () => undefined } : {}),
    // TLS-PSK: the key authenticates the remote, which has no certificate to check; TLS 1.2
    // with Mosquitto's cipher list, which holds the PSK ciphers Node's default leaves out
    ...(t.psk !== undefined
      ? { pskCallback: () => ({ identity: t.pskIdentity!, psk: pskKeyBytes(t.psk!) }), ciphers: MOSQUITTO_DEFAULT_CIPHERS, checkServerIdentity: () => undefined }
      : {}),
  };
}

/** One connection to the remote broker; `events` hears what it receives and when it closes. */
export class RemoteClient {
  private readonly socket: Socket;
  private readonly version: 3 | 4 | 5;
  private readonly events: RemoteEvents;
  private readonly parser: ReturnType<typeof mqttPacket.parser>;
  /** the CONNECT timeout until CONNACK, then the keep-alive interval */
  private timer: NodeJS.Timeout | undefined;
  /** seconds between PINGREQs (the Server Keep Alive of a v5 CONNACK wins) */
  private readonly keepalive: number;
  private pingOutstanding = false;
  private closed = false;
  private refusedCode: number | undefined = undefined;
  /** set by a CONNACK that accepted the connection */
  connack: IConnackPacket | undefined = undefined;

  constructor(opts: RemoteOptions, events: RemoteEvents) {
    this.version = opts.version;
    this.events = events;
    this.parser = mqttPacket.parser({ protocolVersion: opts.version });
    this.parser.on('packet', (p: Packet) => this.onPacket(p));
    this.parser.on('error', (err: Error) => this.close(`malformed packet from the remote broker: ${err.message}`));
    const connectPacket = {
      cmd: 'connect',
      protocolId: opts.version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: opts.version,
      ...(opts.bridgeBit ? { bridgeMode: true } : {}),
      ...opts.connect,
    } as IConnectPacket;
    const onOpen = (): void => this.send(connectPacket);
    const to = { host: opts.host, port: opts.port, ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}) };
    this.socket = opts.tls === undefined ? netConnect(to, onOpen) : tlsConnect({ ...to, ...opts.tls }, onOpen);
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.parser.parse(chunk));
    this.socket.on('drain', () => this.events.drain());
    this.socket.on('error', (err: Error) => this.close(err.message));
    this.socket.on('close', () => this.close('connection closed by the remote broker'));
    this.timer = setTimeout(() => this.close('no CONNACK from the remote broker'), opts.connectTimeoutMs);
    this.keepalive = opts.connect.keepalive ?? 0;
  }

  /** bytes the socket could not hand to the kernel before this turn (this turn's corked writes not counted) */
  get backlog(): number {
    return Math.max(0, this.socket.writableLength - this.turnBytes);
  }

  get isOpen(): boolean {
    return !this.closed && this.connack !== undefined;
  }

  /**
   * Writes one packet. Writes of one turn go out together: the socket is corked at the first and
   * uncorked once the turn's synchronous work is done (one writev, STYLE pattern 7).
   */
  send(packet: Packet): void {
    if (this.closed) return;
    this.write(mqttPacket.generate(packet, { protocolVersion: this.version }));
  }

  /** A success ack, in its short form as Mosquitto and culex's own listeners write it (a v5 0x00 and no properties take no bytes). */
  sendAck(cmd: AckCmd, packetId: number): void {
    if (this.closed) return;
    this.write(encodeAck(cmd, packetId, this.version));
  }

  private write(bytes: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.turnBytes += bytes.length;
    this.socket.write(bytes);
  }

  private corked = false;
  /** bytes written while corked in this turn */
  private turnBytes = 0;
  private readonly uncork = (): void => {
    this.corked = false;
    this.turnBytes = 0;
    this.socket.uncork();
  };

  /** Ends the connection (a DISCONNECT first when it was open). Idempotent. */
  close(reason: string, disconnect = false): void {
    if (this.closed) return;
    if (disconnect && this.connack !== undefined) this.send({ cmd: 'disconnect' });
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.timer);
    this.timer = undefined;
    if (disconnect) this.socket.end();
    else this.socket.destroy();
    this.events.closed(reason, this.refusedCode);
  }

  private onPacket(p: Packet): void {
    if (this.closed) return;
    switch (p.cmd) {
      case 'connack':
        return this.onConnack(p);
      case 'publish':
        return this.events.publish(p);
      case 'puback':
        return this.events.puback(p.messageId ?? 0, p.reasonCode ?? 0);
      case 'pubrec':
        return this.events.pubrec(p.messageId ?? 0, p.reasonCode ?? 0);
      case 'pubrel':
        return this.events.pubrel(p.messageId ?? 0);
      case 'pubcomp':
        return this.events.pubcomp(p.messageId ?? 0);
      case 'pingresp':
        this.pingOutstanding = false;
        return;
      case 'pingreq':
        // only clients send it, but Mosquitto's bridge answers one from its remote: so does this one
        return this.send({ cmd: 'pingresp' });
      case 'disconnect':
        return this.close(`the remote broker disconnected (reason ${p.reasonCode ?? 0})`);
      case 'suback':
      case 'unsuback':
        return;
      default:
        return this.close(`unexpected ${p.cmd} from the remote broker`);
    }
  }

  private onConnack(p: IConnackPacket): void {
    const code = this.version === 5 ? (p.reasonCode ?? 0) : (p.returnCode ?? 0);
    if (code !== 0) {
      this.refusedCode = code;
      this.close(`the remote broker refused the connection (code ${code})`);
      return;
    }
    clearTimeout(this.timer);
    this.connack = p;
    const seconds = p.properties?.serverKeepAlive ?? this.keepalive;
    if (seconds > 0) {
      this.timer = setInterval(() => {
        if (this.pingOutstanding) {
          this.close('no PINGRESP from the remote broker within the keep-alive');
          return;
        }
        this.pingOutstanding = true;
        this.send({ cmd: 'pingreq' });
      }, seconds * 1000);
      this.timer.unref();
    }
    this.events.connected(p);
  }
}

/**
 * MQTT.js helpers for black-box tests: connect with a protocol version, collect and wait for
 * messages, and a teardown that closes every client, raw socket and broker a test opened
 * (no handle may outlive a test file).
 */
import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import { startTestBroker, type TestBroker } from './broker.ts';
import { RawClient } from './raw.ts';
import type { BrokerConfig } from '../../src/config/types.ts';
import type { StartOptions } from '../../src/server.ts';
import type * as pk from './packets.ts';

export type { MqttClient };

/** MQTT protocol levels MQTT.js speaks: 3 = 3.1, 4 = 3.1.1, 5 = 5.0. */
export type ProtocolVersion = 3 | 4 | 5;

/** The versions most behaviours are tested at. */
export const versions: readonly (4 | 5)[] = [4, 5];

/** One message as MQTT.js delivered it. */
export interface Received {
  readonly topic: string;
  readonly payload: Buffer;
  readonly packet: IPublishPacket;
}

let idCounter = 0;

/** Waits `ms`; only for proving a negative or letting a timer-driven behaviour elapse. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A client id unique within this test process. */
export function uniqueId(prefix = 'c'): string {
  return `${prefix}-${process.pid}-${++idCounter}`;
}

/** Resolves with `value` from the first of `events` on `emitter`; rejects after `timeoutMs`. */
export function once<T = unknown>(
  emitter: { once(e: string, f: (...a: any[]) => void): unknown; removeListener(e: string, f: (...a: any[]) => void): unknown },
  event: string,
  timeoutMs = 10000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const onEvent = (v: T) => { clearTimeout(t); resolve(v); };
    const t = setTimeout(() => {
      emitter.removeListener(event, onEvent);
      reject(new Error(`no '${event}' within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.once(event, onEvent);
  });
}

/** Messages received by one client, in arrival order, with waits on their count. */
export class Inbox {
  readonly messages: Received[] = [];
  private wake: (() => void) | undefined;

  constructor(client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload, packet });
      this.wake?.();
    });
  }

  /** Waits until at least `n` messages have arrived in total; returns all of them. */
  async waitFor(n: number, timeoutMs = 10000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`got ${this.messages.length} of ${n} messages within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => { clearTimeout(t); this.wake = undefined; resolve(); };
      });
    }
    return this.messages;
  }

  /** The next message after those already taken with `next` (first call: the first message). */
  async next(timeoutMs = 10000): Promise<Received> {
    await this.waitFor(this.taken + 1, timeoutMs);
    return this.messages[this.taken++]!;
  }

  private taken = 0;

  /** Asserts that the total stays at `count` (default: as now) for `ms`. */
  async expectNone(ms = 250, count = this.messages.length): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    if (this.messages.length !== count) {
      const extra = this.messages.slice(count).map((m) => `${m.topic}:${m.payload.toString()}`);
      throw new Error(`unexpected message(s): ${extra.join(', ')}`);
    }
  }

  /** Payloads as strings, in arrival order. */
  payloads(): string[] {
    return this.messages.map((m) => m.payload.toString());
  }
}

/**
 * Owns what a test opens. `teardown()` force-closes every MQTT.js client and raw socket, then
 * stops the brokers; call it from `after` / `afterEach`.
 */
export class Harness {
  private readonly clients = new Set<MqttClient>();
  private readonly raws = new Set<RawClient>();
  private readonly brokers = new Set<TestBroker>();

  /** Starts a test broker owned by this harness. */
  async broker(overrides: Partial<BrokerConfig> = {}, options: StartOptions = {}): Promise<TestBroker> {
    const b = await startTestBroker(overrides, options);
    this.brokers.add(b);
    return b;
  }

  /**
   * Connects MQTT.js (`reconnectPeriod: 0`) and waits for a successful CONNACK.
   * Rejects with the CONNACK error (its `code` is the return/reason code) otherwise.
   */
  async connect(url: string, opts: IClientOptions & { protocolVersion?: ProtocolVersion } = {}): Promise<MqttClient> {
    const client = this.client(url, opts);
    await new Promise<void>((resolve, reject) => {
      const onConnect = () => { cleanup(); resolve(); };
      const onError = (e: Error) => { cleanup(); reject(e); };
      const onClose = () => { cleanup(); reject(new Error('closed before CONNACK')); };
      const cleanup = () => {
        client.removeListener('connect', onConnect);
        client.removeListener('error', onError);
        client.removeListener('close', onClose);
      };
      client.on('connect', onConnect);
      client.on('error', onError);
      client.on('close', onClose);
    });
    return client;
  }

  /** Connects and returns the client with the CONNACK it got. */
  async connectWithConnack(url: string, opts: IClientOptions = {}): Promise<{ client: MqttClient; connack: IConnackPacket }> {
    const client = this.client(url, opts);
    const connack = await once<IConnackPacket>(client, 'connect');
    return { client, connack };
  }

  /** Creates an MQTT.js client owned by the harness without waiting for it to connect. */
  client(url: string, opts: IClientOptions = {}): MqttClient {
    const client = mqtt.connect(url, {
      clientId: uniqueId(),
      reconnectPeriod: 0,
      connectTimeout: 10000,
      ...opts,
    });
    client.on('error', () => { /* surfaced through the promises that wait on the client */ });
    this.clients.add(client);
    return client;
  }

  /** Opens a raw socket owned by the harness. */
  async raw(port: number, version: pk.Version = 4): Promise<RawClient> {
    const r = await RawClient.open(port, version);
    this.raws.add(r);
    return r;
  }

  /** Opens a raw socket, sends CONNECT, waits for a successful CONNACK. */
  async rawConnected(port: number, f: pk.ConnectFields = {}): Promise<{ client: RawClient; connack: pk.Packet }> {
    const r = await RawClient.connected(port, f);
    this.raws.add(r.client);
    return r;
  }

  /** Ends the clients (forcefully) and raw sockets opened so far; the brokers keep running. */
  async closeClients(): Promise<void> {
    const ends = [...this.clients].map((c) => new Promise<void>((resolve) => {
      if (c.disconnected && !c.connected && (c.stream?.destroyed ?? true)) { resolve(); return; }
      c.end(true, {}, () => resolve());
    }));
    for (const r of this.raws) r.destroy();
    await Promise.all([...ends, ...[...this.raws].map((r) => r.closed)]);
    this.clients.clear();
    this.raws.clear();
  }

  /** Closes everything: clients, raw sockets, then brokers. */
  async teardown(): Promise<void> {
    await this.closeClients();
    await Promise.all([...this.brokers].map((b) => b.stop()));
    this.brokers.clear();
  }
}

/** Subscribes and returns the granted QoS list (128 = failure). */
export async function subscribe(
  client: MqttClient,
  filter: string | string[],
  opts: { qos: 0 | 1 | 2; nl?: boolean; rap?: boolean; rh?: number; properties?: Record<string, unknown> } = { qos: 0 },
): Promise<number[]> {
  const granted = await client.subscribeAsync(filter, opts as never);
  return granted.map((g) => g.qos);
}

/** Publishes and waits for the flow to complete (PUBACK / PUBCOMP, or written for QoS 0). */
export async function publish(
  client: MqttClient,
  topic: string,
  payload: string | Buffer,
  opts: { qos?: 0 | 1 | 2; retain?: boolean; properties?: IPublishPacket['properties'] } = {},
): Promise<void> {
  await client.publishAsync(topic, payload, opts);
}

/** Publishes at QoS 1 and returns the PUBACK reason code: 0, or the refusal MQTT.js reports (-1 without one). */
export async function pubackCode(client: MqttClient, topic: string, payload: string | Buffer = 'x'): Promise<number> {
  try {
    await client.publishAsync(topic, payload, { qos: 1 });
    return 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

/** The CONNACK refusal code of a connection attempt (0 when accepted: the client is then ended). */
export async function connackCode(connecting: Promise<MqttClient>): Promise<number> {
  try {
    (await connecting).end(true);
    return 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

/** Resolves with the DISCONNECT reason code the server sent (-1 without one) once `c` closes. */
export function closeReason(c: MqttClient, timeoutMs?: number): Promise<number> {
  let reason = -1;
  c.on('disconnect', (p) => (reason = p.reasonCode ?? 0));
  return once(c, 'close', timeoutMs).then(() => reason);
}

/**
 * Publishes `count` messages (payload = their index, or `payload(i)`) keeping at most `window`
 * QoS 1/2 flows open, so the publisher never exceeds the broker's Receive Maximum whatever
 * MQTT.js does with it.
 */
export async function publishMany(
  client: MqttClient,
  topic: string,
  count: number,
  qos: 0 | 1 | 2,
  window = 10,
  payload: (i: number) => string | Buffer = String,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      await client.publishAsync(topic, payload(i), { qos });
    }
  };
  await Promise.all(Array.from({ length: qos === 0 ? 1 : window }, lane));
}

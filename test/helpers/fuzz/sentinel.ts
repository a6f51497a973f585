/**
 * A well-behaved pair of MQTT.js clients that keep using the broker while it is fuzzed: a QoS 1
 * subscriber and a QoS 1 publisher on a topic of their own, numbering every message. The rule:
 * the subscriber gets every message, exactly once, in order (no reconnects, so no duplicates are
 * allowed), and neither client loses its connection.
 * called from: tests, scripts/fuzz.ts
 */
import mqtt, { type MqttClient } from 'mqtt';

export interface SentinelOptions {
  /** where the subscriber connects (mqtt://… or ws://…) */
  readonly subUrl: string;
  /** where the publisher connects */
  readonly pubUrl: string;
  /** a topic no fuzz session publishes to */
  readonly topic: string;
  /** one message every intervalMs while fuzzing */
  readonly intervalMs: number;
}

/**
 * Messages sent and not yet received at most: fewer than the broker lets wait for a slow
 * subscriber (max_inflight_messages + max_queued_messages), so a loss is never the broker's queue
 * limit doing its job.
 */
const MAX_OUTSTANDING = 5;

export class Sentinel {
  /** messages handed to the publisher */
  sent = 0;
  /** PUBACKs the publisher got */
  acked = 0;
  /** messages the subscriber got, in order */
  received = 0;
  readonly violations: string[] = [];
  private readonly sub: MqttClient;
  private readonly pub: MqttClient;
  private readonly opts: SentinelOptions;
  private timer: NodeJS.Timeout | undefined;
  private finishing = false;
  private wake: (() => void) | undefined;

  private constructor(sub: MqttClient, pub: MqttClient, opts: SentinelOptions) {
    this.sub = sub;
    this.pub = pub;
    this.opts = opts;
    sub.on('message', (topic, payload) => this.onMessage(topic, payload));
    for (const [name, c] of [['subscriber', sub], ['publisher', pub]] as const) {
      c.on('close', () => { if (!this.finishing) this.violation(`sentinel ${name} lost its connection`); });
      c.on('error', (err) => this.violation(`sentinel ${name}: ${err.message}`));
    }
  }

  /** Connects both clients, subscribes, and starts publishing. */
  static async start(opts: SentinelOptions): Promise<Sentinel> {
    const id = `sentinel-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
    const sub = await mqtt.connectAsync(opts.subUrl, { clientId: `${id}-s`, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10000 });
    const pub = await mqtt.connectAsync(opts.pubUrl, { clientId: `${id}-p`, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10000 });
    await sub.subscribeAsync(opts.topic, { qos: 1 });
    const s = new Sentinel(sub, pub, opts);
    s.timer = setInterval(() => { if (s.sent - s.received < MAX_OUTSTANDING) s.publishOne(); }, opts.intervalMs);
    return s;
  }

  private violation(message: string): void {
    if (this.violations.length < 10) this.violations.push(message);
  }

  private publishOne(): void {
    const seq = ++this.sent;
    this.pub.publish(this.opts.topic, String(seq), { qos: 1 }, (err) => {
      if (err) this.violation(`sentinel message ${seq} not acknowledged: ${err.message}`);
      else this.acked++;
      this.wake?.();
    });
  }

  private onMessage(topic: string, payload: Buffer): void {
    const seq = Number(payload.toString());
    if (topic !== this.opts.topic) this.violation(`sentinel got a message on ${topic}`);
    else if (seq !== this.received + 1) this.violation(`sentinel expected message ${this.received + 1}, got ${seq}${seq <= this.received ? ' (a duplicate or out of order)' : ' (messages lost)'}`);
    this.received = Math.max(this.received, seq);
    this.wake?.();
  }

  /**
   * Stops the steady stream, publishes `extra` more messages (the broker must still work after
   * the fuzzing), and waits until every message sent has been acknowledged and received.
   */
  async finish(extra: number, timeoutMs: number): Promise<void> {
    clearInterval(this.timer);
    const deadline = Date.now() + timeoutMs;
    let left = extra;
    while ((left > 0 || this.acked < this.sent || this.received < this.sent) && Date.now() < deadline) {
      while (left > 0 && this.sent - this.received < MAX_OUTSTANDING) {
        this.publishOne();
        left--;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.wake = () => { clearTimeout(t); resolve(); };
      });
    }
    this.wake = undefined;
    if (this.acked < this.sent) this.violation(`sentinel publisher: ${this.acked} of ${this.sent} messages acknowledged after ${timeoutMs} ms`);
    if (this.received < this.sent) this.violation(`sentinel subscriber: ${this.received} of ${this.sent} messages received after ${timeoutMs} ms`);
    this.finishing = true;
    // a client whose connection the broker dropped may never finish a graceful end
    const ended = Promise.all([this.sub.endAsync(), this.pub.endAsync()]);
    await Promise.race([ended, new Promise((r) => setTimeout(r, 5000).unref())]);
    this.destroy();
  }

  /** Closes both clients at once (teardown after a failure). */
  destroy(): void {
    clearInterval(this.timer);
    this.finishing = true;
    this.sub.end(true);
    this.pub.end(true);
  }
}

/**
 * The platform floor: the least a Node.js MQTT forwarder can do per message, measured in the
 * same rounds as culex and Mosquitto. Never part of the broker. In N worker threads (`workers`
 * of the configuration, default 1), each a `net` server with reusePort, on 'data' events: CONNECT
 * -> CONNACK, SUBSCRIBE -> SUBACK (QoS as asked), PINGREQ -> PINGRESP, QoS 1 PUBLISH -> PUBACK,
 * and every PUBLISH's bytes forwarded unchanged to the subscribers of its thread (no topic
 * matching, no state, no persistence; a subscriber's PUBACK is dropped). One write per socket per
 * event-loop turn, as culex does. Reads the `listener PORT HOST` and `workers N` lines of a
 * culex/mosquitto configuration, so the bench starts it like a broker: `floor.ts -c FILE`.
 * called from: main (the bench runner starts it as a process)
 */
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { Worker, isMainThread, workerData } from 'node:worker_threads';

interface FloorConfig {
  readonly port: number;
  readonly host: string;
  readonly workers: number;
}

function readConfig(file: string): FloorConfig {
  const text = readFileSync(file, 'utf8');
  const listener = /^listener\s+(\d+)(?:\s+(\S+))?/m.exec(text);
  const workers = /^workers\s+(\d+)/m.exec(text);
  if (listener === null) throw new Error(`${file}: no listener line`);
  return { port: Number(listener[1]), host: listener[2] ?? '0.0.0.0', workers: Math.max(1, Number(workers?.[1] ?? 1)) };
}

/** One thread's forwarder. */
function serve(cfg: FloorConfig): void {
  const subscribers = new Set<Socket>();
  const pending = new Map<Socket, Buffer[]>();
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    for (const [s, chunks] of pending) if (!s.destroyed) s.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    pending.clear();
  };
  const send = (s: Socket, b: Buffer): void => {
    const list = pending.get(s);
    if (list === undefined) pending.set(s, [b]);
    else list.push(b);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  const server = createServer({ noDelay: true }, (s) => {
    let rest: Buffer | undefined;
    s.on('data', (chunk: Buffer) => {
      const buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
      rest = undefined;
      let pos = 0;
      while (pos + 2 <= buf.length) {
        let len = 0;
        let mul = 1;
        let i = pos + 1;
        for (; i < buf.length; i++) {
          len += (buf[i]! & 0x7f) * mul;
          mul *= 128;
          if ((buf[i]! & 0x80) === 0) break;
        }
        if (i >= buf.length || i + 1 + len > buf.length) break;
        const type = buf[pos]! >> 4;
        const end = i + 1 + len;
        if (type === 3) {
          // PUBLISH: forwarded as it came; QoS 1 acknowledged to the publisher
          const frame = buf.subarray(pos, end);
          for (const sub of subscribers) send(sub, frame);
          if (((buf[pos]! >> 1) & 3) === 1) {
            const topicLen = buf.readUInt16BE(i + 1);
            const id = buf.readUInt16BE(i + 3 + topicLen);
            send(s, Buffer.from([0x40, 2, id >> 8, id & 0xff]));
          }
        } else if (type === 1) {
          send(s, Buffer.from([0x20, 2, 0, 0]));
        } else if (type === 8) {
          subscribers.add(s);
          const id = buf.readUInt16BE(i + 1);
          const granted: number[] = [];
          for (let p = i + 3; p < end; ) {
            const n = buf.readUInt16BE(p);
            granted.push(buf[p + 2 + n]! & 3);
            p += 3 + n;
          }
          send(s, Buffer.from([0x90, 2 + granted.length, id >> 8, id & 0xff, ...granted]));
        } else if (type === 12) {
          send(s, Buffer.from([0xd0, 0]));
        } else if (type === 14) {
          s.end();
        }
        pos = end;
      }
      // a frame forwarded above must not see its bytes change: keep a copy of the remainder only
      if (pos < buf.length) rest = Buffer.from(buf.subarray(pos));
    });
    s.on('error', () => {});
    s.on('close', () => {
      subscribers.delete(s);
      pending.delete(s);
    });
  });
  server.listen({ port: cfg.port, host: cfg.host, reusePort: true, backlog: 4096 });
}

if (isMainThread) {
  const i = process.argv.indexOf('-c');
  if (i < 0 || process.argv[i + 1] === undefined) throw new Error('usage: floor.ts -c FILE');
  const cfg = readConfig(process.argv[i + 1]!);
  const workers = Array.from({ length: cfg.workers }, () => new Worker(new URL(import.meta.url), { workerData: cfg }));
  // a stop the runner asks for ends the threads first, so that --cpu-prof writes their profiles
  process.once('SIGTERM', () => void Promise.all(workers.map((w) => w.terminate())).then(() => process.exit(0)));
} else {
  serve(workerData as FloorConfig);
}

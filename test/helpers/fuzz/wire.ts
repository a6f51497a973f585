/**
 * The fuzzer's connection to a listener: raw bytes over TCP, or over a WebSocket (each write one
 * binary message), with the same small interface for both.
 * called from: tests, scripts/fuzz.ts
 */
import net from 'node:net';
import WebSocket from 'ws';

/** A listener to fuzz. */
export interface Target {
  /** for reports, e.g. "tcp:1883" */
  readonly name: string;
  readonly kind: 'tcp' | 'ws';
  readonly host: string;
  readonly port: number;
}

export interface Wire {
  write(bytes: Buffer): void;
  /** closes our side at once (no DISCONNECT) */
  destroy(): void;
  /** writes the last bytes and closes our side once they are sent */
  end(bytes: Buffer): void;
  /** called with each chunk the broker sends */
  onData: (chunk: Buffer) => void;
  /** called once when the connection has closed, whoever closed it */
  onClose: () => void;
}

/** Opens a connection; rejects when it cannot be made within `timeoutMs`. */
export function openWire(target: Target, timeoutMs: number): Promise<Wire> {
  return target.kind === 'ws' ? openWs(target, timeoutMs) : openTcp(target, timeoutMs);
}

function openTcp(target: Target, timeoutMs: number): Promise<Wire> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`TCP connect to ${target.name} timed out`)); }, timeoutMs);
    socket.once('error', (err) => { clearTimeout(timer); reject(err); });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.on('error', () => { /* a reset by the broker is an outcome, seen as close */ });
      const wire: Wire = {
        write: (b) => { if (!socket.destroyed) socket.write(b); },
        destroy: () => socket.destroy(),
        end: (b) => { if (!socket.destroyed) socket.end(b); },
        onData: () => {},
        onClose: () => {},
      };
      socket.on('data', (c: Buffer) => wire.onData(c));
      socket.once('close', () => wire.onClose());
      resolve(wire);
    });
  });
}

function openWs(target: Target, timeoutMs: number): Promise<Wire> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${target.host}:${target.port}/mqtt`, 'mqtt', { handshakeTimeout: timeoutMs });
    ws.once('error', (err) => reject(err));
    ws.once('open', () => {
      ws.removeAllListeners('error');
      ws.on('error', () => { /* seen as close */ });
      const wire: Wire = {
        write: (b) => { if (ws.readyState === WebSocket.OPEN) ws.send(b, { binary: true }); },
        destroy: () => ws.terminate(),
        end: (b) => {
          if (ws.readyState !== WebSocket.OPEN) return;
          ws.send(b, { binary: true });
          ws.close(1000);
        },
        onData: () => {},
        onClose: () => {},
      };
      ws.on('message', (data: Buffer) => wire.onData(data));
      ws.once('close', () => wire.onClose());
      resolve(wire);
    });
  });
}

import type { Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { ListenerConfig } from '../config/types.ts';
import { bindOptions } from './tcp.ts';
import type { BindAddress } from './bindAddresses.ts';
import { guardTlsServer, tlsServerOptions, type TlsClientEvents } from './tlsServer.ts';
import { httpFiles } from './httpFiles.ts';

/**
 * node:http and node:https are taken with process.getBuiltinModule, not `import`: an ESM import
 * of node:http reads every export, which loads undici (Node's fetch and WebSocket, a 760 KB
 * module) into the worker, which has no use for it: 2.5 MB more heap per thread for V8 to mark
 * (8.0 MB against 5.5 MB in a bare worker thread).
 */
const http = process.getBuiltinModule('node:http');
const https = process.getBuiltinModule('node:https');

/**
 * MQTT over WebSockets (Mosquitto's `protocol websockets`): each WebSocket becomes a byte stream
 * for the same Connection class as TCP. Binary frames only; the `mqtt` subprotocol is chosen when
 * offered. Over TLS the listener's TLS options apply as on an MQTT listener (client
 * certificates, crlfile, tls_version, ciphers; a client turned away is reported to
 * `events`), and the stream of a client that presented a certificate answers
 * `getPeerX509Certificate()` as a TLSSocket does, for certificate usernames
 * (link/certificateIdentity.ts). One socket per call: `address` is one of the listener's.
 * called from: worker
 */
export function listenWebSocket(
  listener: ListenerConfig,
  address: BindAddress,
  port: number,
  onStream: (stream: Duplex, peer: Socket) => void,
  events: TlsClientEvents,
  maxPayload: number,
  maxHeaderSize: number,
  debug: (line: string) => void,
): Promise<HttpServer> {
  const t = listener.tls;
  // websockets_headers_size: the handshake's HTTP headers larger than this are refused (431); 0 = Node's default (16 KiB)
  const httpOptions = maxHeaderSize > 0 ? { maxHeaderSize } : {};
  let server: HttpServer;
  if (t !== undefined) {
    const tlsServer = https.createServer({ ...tlsServerOptions(listener.port, t), ...httpOptions });
    const gate = guardTlsServer(tlsServer, listener.port, t, events);
    // after the HTTP server's own listener, in the same turn: a refused client is gone before its request is read
    tlsServer.on('secureConnection', (socket: TLSSocket) => gate.admit(socket));
    server = tlsServer;
  } else server = http.createServer(httpOptions);
  // a request that is not a WebSocket upgrade: http_dir's files, or 404
  server.on('request', httpFiles(listener.port, listener.httpDir, debug));
  const wss = new WebSocketServer({
    server,
    perMessageDeflate: false,
    maxPayload,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
  });
  wss.on('connection', (ws, req) => {
    const stream = createWebSocketStream(ws);
    const socket = req.socket;
    if (socket instanceof TLSSocket) {
      Object.assign(stream, { getPeerX509Certificate: () => socket.getPeerX509Certificate() });
    }
    // The stream emits 'close' only once destroyed; when the peer closes the WebSocket its readable
    // side merely ends, and the Connection (which waits for 'close') would never be released.
    ws.once('close', () => stream.destroy());
    onStream(stream, req.socket);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, ...bindOptions(address) }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

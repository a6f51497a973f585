import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { ListenerConfig } from '../config/types.ts';
import { guardTlsServer, tlsServerOptions, type TlsClientEvents } from './tlsServer.ts';

/**
 * Opens one listener in this worker. Every worker listens on every listener with reusePort, so
 * the kernel spreads new connections across workers (DESIGN.md "Connections"). `admit` sees each
 * connection at its TCP accept, before any TLS handshake; one it refuses, it has destroyed. A TLS
 * client reaches `onSocket` once its handshake and certificate have passed; `events` is told of
 * each admitted TLS connection and of each one the handshake turns away.
 * called from: worker
 */
export function listen(
  listener: ListenerConfig,
  port: number,
  noDelay: boolean,
  admit: (socket: Socket) => boolean,
  onSocket: (socket: Socket) => void,
  events: TlsClientEvents,
): Promise<Server> {
  let server: Server;
  if (listener.tls !== undefined) {
    const tlsServer = createTlsServer({ ...tlsServerOptions(listener.port, listener.tls), noDelay });
    const gate = guardTlsServer(tlsServer, listener.port, listener.tls, events, admit);
    tlsServer.on('secureConnection', (socket: TLSSocket) => gate.admit(socket) && onSocket(socket));
    server = tlsServer;
  } else {
    server = createServer({ noDelay }, (socket: Socket) => admit(socket) && onSocket(socket));
  }
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: bindHost(listener), ipv6Only: ipv6Only(listener), reusePort: true, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * `socket_domain ipv6`: IPv6 only, as Mosquitto (IPV6_V6ONLY on its IPv6 sockets); without it a
 * socket bound to `::` would take IPv4 clients too.
 */
export function ipv6Only(listener: ListenerConfig): boolean {
  return listener.socketDomain === 'ipv6';
}

/** The address to bind: the configured one, or every address of the listener's socket_domain. */
export function bindHost(listener: ListenerConfig): string | undefined {
  if (listener.host !== undefined) return listener.host;
  if (listener.socketDomain === 'ipv4') return '0.0.0.0';
  if (listener.socketDomain === 'ipv6') return '::';
  return undefined;
}

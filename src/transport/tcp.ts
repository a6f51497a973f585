import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { ListenerConfig } from '../config/types.ts';
import type { BindAddress } from './bindAddresses.ts';
import { guardTlsServer, tlsServerOptions, type PskKeys, type TlsClientEvents } from './tlsServer.ts';

/**
 * Opens one socket of a listener, at `address`, in this worker. Every worker listens on every
 * listener with reusePort, so the kernel spreads new connections across workers (DESIGN.md
 * "Connections"). `admit` sees each connection at its TCP accept, before any TLS handshake; one
 * it refuses, it has destroyed. A TLS client reaches `onSocket` once its handshake and
 * certificate have passed; `events` is told of each admitted TLS connection and of each one the
 * handshake turns away; `pskKeys` are the keys of a TLS-PSK listener.
 * called from: worker
 */
export function listen(
  listener: ListenerConfig,
  address: BindAddress,
  port: number,
  noDelay: boolean,
  admit: (socket: Socket) => boolean,
  onSocket: (socket: Socket) => void,
  events: TlsClientEvents,
  pskKeys?: PskKeys,
): Promise<Server> {
  let server: Server;
  if (listener.tls !== undefined) {
    const tlsServer = createTlsServer({ ...tlsServerOptions(listener.port, listener.tls, pskKeys), noDelay });
    const gate = guardTlsServer(tlsServer, listener.port, listener.tls, events, admit);
    tlsServer.on('secureConnection', (socket: TLSSocket) => gate.admit(socket) && onSocket(socket));
    server = tlsServer;
  } else {
    server = createServer({ noDelay }, (socket: Socket) => admit(socket) && onSocket(socket));
  }
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, ...bindOptions(address), backlog: 4096 }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** server.listen's options for one of a listener's addresses: IPv6 only for an IPv6 address, as Mosquitto's IPV6_V6ONLY. */
export function bindOptions(address: BindAddress): { host: string; ipv6Only: boolean; reusePort: true } {
  return { host: address.host, ipv6Only: address.family === 6, reusePort: true };
}

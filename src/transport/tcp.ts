import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { ListenerConfig } from '../config/types.ts';
import { tlsServerOptions } from './tlsServer.ts';

/**
 * Opens one listener in this worker. Every worker listens on every listener with reusePort, so
 * the kernel spreads new connections across workers (DESIGN.md "Connections").
 * called from: worker
 */
export function listen(
  listener: ListenerConfig,
  port: number,
  noDelay: boolean,
  onSocket: (socket: Socket) => void,
): Promise<Server> {
  let server: Server;
  if (listener.tls !== undefined) {
    server = createTlsServer({ ...tlsServerOptions(listener.port, listener.tls), noDelay }, onSocket);
  } else {
    server = createServer({ noDelay }, onSocket);
  }
  if (listener.maxConnections > 0) server.maxConnections = listener.maxConnections;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: bindHost(listener), reusePort: true, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** The address to bind: the configured one, or every address of the listener's socket_domain. */
export function bindHost(listener: ListenerConfig): string | undefined {
  if (listener.host !== undefined) return listener.host;
  if (listener.socketDomain === 'ipv4') return '0.0.0.0';
  if (listener.socketDomain === 'ipv6') return '::';
  return undefined;
}

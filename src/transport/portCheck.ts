/**
 * Start-up check that a configured listener port is free. Workers bind with SO_REUSEPORT, and
 * Linux lets any process of the same user join such a port: a second broker started on a port
 * in use would silently take a share of its connections. Binding it once without SO_REUSEPORT
 * refuses that start instead, as Mosquitto's "Address already in use".
 * called from: main thread
 */
import { createServer } from 'node:net';
import type { ListenerConfig } from '../config/types.ts';
import { bindHost, ipv6Only } from './tcp.ts';

/** Resolves when nothing is bound to `listener`'s port (port 0: nothing to check). @throws Error naming the address */
export async function checkPortFree(listener: ListenerConfig): Promise<void> {
  if (listener.port === 0) return;
  const host = bindHost(listener);
  const probe = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new Error(`listener ${host ?? '*'}:${listener.port}: Address already in use`) : err);
    });
    probe.listen({ port: listener.port, host, ipv6Only: ipv6Only(listener) }, () => probe.close(() => resolve()));
  });
}

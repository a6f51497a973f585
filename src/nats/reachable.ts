/**
 * Before any worker starts: does a NATS server answer at one of `cluster_nats_url`'s URLs? A TCP
 * connect and NATS's first line (INFO), no client library: a node whose NATS is down refuses to
 * start with one line naming the URLs, before its workers open the store (a worker failing to
 * connect later stops the start too, but as one of several threads).
 * called from: main thread (server.ts)
 */
import { connect } from 'node:net';

/** Whether `url` (nats://host:port, default port 4222) sends NATS's INFO within `timeoutMs`. */
function answers(url: string, timeoutMs: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || 4222) });
    let seen = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (d: Buffer) => {
      seen += d.toString('latin1');
      if (seen.length >= 5) done(seen.startsWith('INFO '));
    });
  });
}

/** @throws Error naming the URLs when none of them answers within `timeoutMs` */
export async function checkNatsReachable(urls: readonly string[], timeoutMs = 5000): Promise<void> {
  const results = await Promise.all(urls.map((u) => answers(u, timeoutMs)));
  if (!results.includes(true)) throw new Error(`cluster_nats_url: no NATS server answered at ${urls.join(', ')}`);
}

import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { sumCounters } from './counters.ts';

/**
 * The admin HTTP listener: `/metrics` in Prometheus text format, `/healthz`. Counters come from
 * the workers' plain-number counters, summed on scrape: nothing is counted per message here.
 * called from: main
 */

/** counters that only go up; everything else is a gauge */
const GAUGES = new Set(['clientsConnected', 'retainedMessages', 'subscriptions', 'sessions']);

function metricName(key: string): string {
  return 'culex_' + key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()) + (GAUGES.has(key) ? '' : '_total');
}

export function startMetricsServer(
  host: string,
  port: number,
  workerStats: () => Promise<Record<string, number>[]>,
  healthy: () => boolean,
): Promise<Server> {
  const registry = new Registry();
  /** connections per worker: how evenly the kernel spreads them */
  const perWorker = new Gauge({ name: 'culex_worker_clients_connected', help: 'connected clients per worker thread', labelNames: ['worker'], registers: [registry] });
  const stats = async (): Promise<Record<string, number>> => {
    const parts = await workerStats();
    parts.forEach((p, i) => perWorker.set({ worker: String(i) }, p.clientsConnected ?? 0));
    return sumCounters(parts);
  };
  const gauges = new Map<string, Gauge>();
  const counters = new Map<string, { metric: Counter; last: number }>();
  const update = (s: Record<string, number>) => {
    for (const [key, value] of Object.entries(s)) {
      if (GAUGES.has(key)) {
        let g = gauges.get(key);
        if (g === undefined) {
          g = new Gauge({ name: metricName(key), help: key, registers: [registry] });
          gauges.set(key, g);
        }
        g.set(value);
      } else {
        let c = counters.get(key);
        if (c === undefined) {
          c = { metric: new Counter({ name: metricName(key), help: key, registers: [registry] }), last: 0 };
          counters.set(key, c);
        }
        // a restarted worker starts from 0 again: never let a counter go down
        if (value > c.last) c.metric.inc(value - c.last);
        c.last = Math.max(c.last, value);
      }
    }
  };
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      const ok = healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'unhealthy\n');
      return;
    }
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    stats()
      .then(async (s) => {
        update(s);
        res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
      })
      .catch((err: unknown) => res.writeHead(500).end(String(err)));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { startBroker } from '../../src/server.ts';
import { defaultConfig } from '../../src/config/defaults.ts';
import { freePort } from '../helpers/broker.ts';


test('$SYS/broker topics are published retained with Mosquitto names, and /metrics and /healthz answer', async () => {
  const metricsPort = await freePort();
  const b = await startBroker(defaultConfig({
    listeners: [{ port: 0, host: '127.0.0.1', protocol: 'mqtt', maxConnections: -1 }],
    workers: 1, persistence: false, sysInterval: 1, connectionMessages: false,
    metricsListener: { host: '127.0.0.1', port: metricsPort },
  }));
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.ports[0]}`, { reconnectPeriod: 0 });
  try {
    const seen = new Map<string, { value: string; retain: boolean }>();
    const connected = new Promise<void>((resolve) => {
      c.on('message', (topic, payload, packet) => {
        seen.set(topic, { value: payload.toString(), retain: packet.retain });
        if (topic === '$SYS/broker/clients/connected' && payload.toString() === '1') resolve();
      });
    });
    await c.subscribeAsync('$SYS/broker/#');
    await connected;
    assert.match(seen.get('$SYS/broker/version')!.value, /^culex version \d+\.\d+\.\d+/);
    assert.equal(seen.get('$SYS/broker/version')!.retain, true, 'delivered from the retained store on subscribe');
    assert.match(seen.get('$SYS/broker/uptime')!.value, /^\d+ seconds$/);

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /^culex_clients_connected 1$/m);
    assert.match(metrics, /^culex_connections_accepted_total [1-9]\d*$/m);
    assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status, 200);
  } finally {
    await c.endAsync();
    await b.stop();
  }
});

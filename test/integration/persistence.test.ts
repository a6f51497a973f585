/**
 * What persistence writes, seen through the broker's counters (culex_store_writes_total,
 * culex_store_commits_total): clean sessions, and QoS 0 to online clients, never touch the disk;
 * a QoS 1 message owed to a persistent session does.
 * The durability itself (kill -9, restarts) is tested in test/restart/.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, Inbox, sleep, subscribe, uniqueId } from '../helpers/clients.ts';
import { culexOnly, tempDir } from '../helpers/broker.ts';

const h = new Harness();
after(() => h.teardown());

describe('what persistence writes', { skip: culexOnly }, () => {
  test('clean sessions and QoS 0 to an online persistent session never touch the disk; QoS 1 owed to a persistent session does', { timeout: 60000 }, async () => {
    const tmp = tempDir('culex-nodisk-');
    try {
      const b = await h.broker({ persistence: true, persistenceLocation: tmp.dir });
      const clean = await h.connect(b.url, { protocolVersion: 5, clientId: uniqueId('clean'), clean: true });
      await subscribe(clean, 'nodisk/all/#', { qos: 2 });
      const durable = await h.connect(b.url, { protocolVersion: 5, clientId: uniqueId('durable'), clean: false, properties: { sessionExpiryInterval: 600 } });
      await subscribe(durable, 'nodisk/q0/#', { qos: 0 });
      await subscribe(durable, 'nodisk/q1/#', { qos: 1 });
      const v311 = await h.connect(b.url, { protocolVersion: 4, clientId: uniqueId('v311'), clean: true });
      await subscribe(v311, 'nodisk/all/#', { qos: 1 });
      const toClean = new Inbox(clean);
      const toDurable = new Inbox(durable);
      await sleep(300); // the subscriptions' session record is committed
      const before = await b.stats();

      const pub = await h.connect(b.url, { protocolVersion: 5, clientId: uniqueId('pub'), clean: true });
      for (let n = 0; n < 30; n++) await pub.publishAsync('nodisk/all/x', `m${n}`, { qos: (n % 3) as 0 | 1 | 2 });
      for (let n = 0; n < 20; n++) await pub.publishAsync('nodisk/q0/x', `d${n}`, { qos: (n % 3) as 0 | 1 | 2 });
      await toClean.waitFor(30);
      await toDurable.waitFor(20);
      await sleep(300);
      const quiet = await b.stats();
      assert.equal(quiet.storeWrites, before.storeWrites, 'no record written for clean sessions or for QoS 0 to an online client');
      assert.equal(quiet.storeCommits, before.storeCommits, 'no transaction');

      // the control: a QoS 1 message owed to the persistent session is written (and deleted on PUBACK)
      await pub.publishAsync('nodisk/q1/x', 'owed', { qos: 1 });
      await toDurable.waitFor(21);
      await sleep(300);
      const after = await b.stats();
      assert.ok(after.storeWrites >= before.storeWrites + 2, `the entry is written and deleted (${after.storeWrites - before.storeWrites} writes)`);
      assert.ok(after.storeCommits > before.storeCommits);
      await h.closeClients();
      await b.stop();
    } finally {
      tmp.cleanup();
    }
  });
});

/**
 * Where the sessions `persistent_subscription` declares live (src/workers/declaredSessions.ts):
 * every declared client id is planned on exactly one worker — the one that restores its stored
 * session, else its home worker — whatever the number of workers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeclaredSessions, homeWorker } from '../../../src/workers/declaredSessions.ts';
import type { PersistentSubscription } from '../../../src/config/types.ts';

const lines: PersistentSubscription[] = Array.from({ length: 40 }, (_, i) => [
  { clientId: `dev-${i}`, filter: `a/${i}/#`, qos: 1 as const },
  { clientId: `dev-${i}`, filter: 'all', qos: 2 as const },
]).flat();

describe('declared sessions: placement', () => {
  for (const workers of [1, 2, 4, 7]) {
    test(`${workers} worker(s): each declared id on exactly one worker, with its lines in file order`, () => {
      // every third id has a stored session, recorded by a run with 8 workers
      const store = { sessionOwner: (id: string) => (Number(id.slice(4)) % 3 === 0 ? Number(id.slice(4)) % 8 : undefined) };
      const seen = new Map<string, number>();
      for (let self = 0; self < workers; self++) {
        for (const d of DeclaredSessions.plan(lines, store, self, workers).mine) {
          assert.equal(seen.has(d.clientId), false, `${d.clientId} planned twice`);
          seen.set(d.clientId, self);
          const n = Number(d.clientId.slice(4));
          assert.equal(self, n % 3 === 0 ? (n % 8) % workers : homeWorker(d.clientId, workers), d.clientId);
          assert.deepEqual(d.subscriptions.map((s) => [s.filter.raw, s.filter.group, s.options.qos]), [[`a/${n}/#`, undefined, 1], ['all', undefined, 2]]);
        }
      }
      assert.equal(seen.size, 40);
      if (workers > 1) assert.ok(new Set(seen.values()).size > 1, 'ids without a stored session spread over the workers');
    });
  }

  test('without a store (persistence off), the home worker', () => {
    const mine = DeclaredSessions.plan(lines, undefined, homeWorker('dev-5', 4), 4).mine;
    assert.ok(mine.some((d) => d.clientId === 'dev-5'));
  });
});

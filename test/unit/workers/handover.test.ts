/**
 * The new owner's side of a session handover (src/workers/handover.ts) against a real client-id
 * registry and a recorded cluster: a CONNECT waits for the old owner's answer while that owner
 * lives, however long it takes to read a long stored queue, and starts afresh only once it died.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Handover } from '../../../src/workers/handover.ts';
import { ClientRegistry, createRegistry } from '../../../src/workers/registry.ts';
import { Kind } from '../../../src/workers/wire.ts';

function setup(): { handover: Handover; registry: ClientRegistry; sent: number[]; kill: () => void } {
  const registry = new ClientRegistry(createRegistry(1024));
  const sent: number[] = [];
  let oldOwnerAlive = true;
  // this worker is 1; worker 0 holds the session
  const cluster = {
    self: 1,
    workers: 2,
    registry,
    alive: (w: number) => w === 1 || oldOwnerAlive,
    send: (_to: number, kind: number) => void sent.push(kind),
    broadcast: () => {},
  };
  const broker = { log: { warning: () => {} }, flushSoon: () => {} };
  return { handover: new Handover(cluster as never, broker as never), registry, sent, kill: () => (oldOwnerAlive = false) };
}

test('a CONNECT waits for an old owner that took the request and is still reading a long queue, and gets its answer', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { handover, registry, sent } = setup();
  assert.equal(registry.claim('c', 0), 0);
  let outcome = 'waiting';
  assert.equal(handover.acquire('c', false, undefined, (moved) => (outcome = moved === undefined ? 'fresh' : 'moved')), true);
  assert.deepEqual(sent, [Kind.Takeover]);
  // the old owner takes the request: the id is moved to this worker first, then the queue is read (600,000 entries: seconds)
  assert.ok(registry.transfer('c', 0, 1));
  t.mock.timers.tick(30_000);
  assert.equal(outcome, 'waiting', 'no fresh session while the old owner lives and has not answered');
  handover.receive(0, Kind.Session, { id: 'c', s: null });
  assert.equal(outcome, 'fresh', 'its answer (here: no session to hand over) completes the CONNECT');
});

test('a CONNECT whose old owner dies before answering starts afresh', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { handover, registry, kill } = setup();
  registry.claim('c', 0);
  let outcome = 'waiting';
  handover.acquire('c', false, undefined, (moved) => (outcome = moved === undefined ? 'fresh' : 'moved'));
  registry.transfer('c', 0, 1);
  t.mock.timers.tick(3_000);
  assert.equal(outcome, 'waiting');
  kill();
  t.mock.timers.tick(3_000);
  assert.equal(outcome, 'fresh', 'the step timer notices the death too, not only peerDown');
  assert.equal(registry.owner('c'), 1);
});

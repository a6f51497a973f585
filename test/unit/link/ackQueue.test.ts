/**
 * The ordered-acknowledgement queue of a connection (src/link/ackQueue.ts), without sockets:
 * acknowledgements leave in the order of the packets they answer whatever order their commits
 * resolve in [MQTT-4.6.0-2]; a failed commit is either reported in the acknowledgement or closes
 * the client; nothing waits when nothing was written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckQueue, type AckQueueOwner } from '../../../src/link/ackQueue.ts';

class Owner implements AckQueueOwner {
  closed = false;
  aborted = 0;
  flushes = 0;
  abort(): void {
    this.aborted++;
  }
  sent(): void {
    this.flushes++;
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('with nothing to wait for, an acknowledgement is sent at once and nothing is held', () => {
  const q = new AckQueue(new Owner());
  const out: string[] = [];
  q.after(undefined, () => out.push('PUBACK 1'));
  assert.deepEqual(out, ['PUBACK 1']);
  assert.equal(q.waiting, false);
});

test('[MQTT-4.6.0-2] acknowledgements keep the order of the packets they answer when later commits resolve first', async () => {
  const owner = new Owner();
  const q = new AckQueue(owner);
  const out: string[] = [];
  const first = deferred();
  const second = deferred();
  q.after(first.promise, () => out.push('PUBACK 1'));
  q.after(second.promise, () => out.push('PUBACK 2'));
  q.after(undefined, () => out.push('PUBACK 3')); // written nothing, but must not overtake 1 and 2
  assert.equal(q.waiting, true);
  second.resolve();
  await turn();
  assert.deepEqual(out, [], 'the second commit alone releases nothing');
  first.resolve();
  await turn();
  assert.deepEqual(out, ['PUBACK 1', 'PUBACK 2', 'PUBACK 3']);
  assert.equal(q.waiting, false);
  assert.ok(owner.flushes > 0, 'the owner is told to flush what was released');
});

test('a failed commit: the acknowledgement says so when `failed` takes it, otherwise the client is disconnected', async () => {
  const owner = new Owner();
  const q = new AckQueue(owner);
  const out: string[] = [];
  const told = deferred();
  let reason = 0;
  q.after(told.promise, () => out.push(`PUBACK 1 rc${reason}`), () => {
    reason = 0x80;
    return true;
  });
  told.reject(new Error('disk full'));
  await turn();
  assert.deepEqual(out, ['PUBACK 1 rc128']);
  assert.equal(owner.aborted, 0);

  const refused = deferred();
  q.after(refused.promise, () => out.push('PUBACK 2'), () => false);
  q.after(undefined, () => out.push('PUBACK 3'));
  refused.reject(new Error('disk full'));
  await turn();
  assert.equal(owner.aborted, 1, '3.1.1 has no way to say "not stored": the client is closed');
  assert.deepEqual(out, ['PUBACK 1 rc128'], 'nothing after the failed one is acknowledged');
});

test('a closed connection sends nothing more', async () => {
  const owner = new Owner();
  const q = new AckQueue(owner);
  const out: string[] = [];
  const c = deferred();
  q.after(c.promise, () => out.push('PUBACK 1'));
  owner.closed = true;
  c.resolve();
  await turn();
  assert.deepEqual(out, []);
});

/** AckScope (src/durability/ackScope.ts): what an acknowledgement waits for, including another party's confirmation (waitAlso). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckScope } from '../../../src/durability/ackScope.ts';

/** A promise and its resolver, with a flag saying whether it settled. */
function gate(): { p: Promise<void>; open(): void } {
  let open!: () => void;
  const p = new Promise<void>((resolve) => (open = resolve));
  return { p, open };
}

const settled = async (p: Promise<void>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

test('nothing written, nothing to confirm: no wait (no store, or a store)', () => {
  assert.equal(new AckScope(undefined).open().close(), undefined);
  assert.equal(new AckScope(() => Promise.resolve()).open().close(), undefined);
});

test('without a store, waitAlso alone decides: the acknowledgement waits for the confirmation', async () => {
  const s = new AckScope(undefined).open();
  const nats = gate();
  s.waitAlso(nats.p);
  const waiting = s.close()!;
  assert.equal(await settled(waiting), false);
  nats.open();
  assert.equal(await settled(waiting), true);
  // close() took it: the next acknowledgement does not wait for it again
  assert.equal(s.open().close(), undefined);
});

test('a write and a confirmation: the acknowledgement waits for both', async () => {
  const commit = gate();
  const s = new AckScope(() => commit.p).open();
  s.noteWrite();
  const a = gate();
  const b = gate();
  s.waitAlso(a.p);
  s.waitAlso(b.p);
  s.waitAlso(b.p);
  const waiting = s.close()!;
  a.open();
  commit.open();
  assert.equal(await settled(waiting), false);
  b.open();
  assert.equal(await settled(waiting), true);
});

test('open() forgets a confirmation left by work no acknowledgement waited for', () => {
  const s = new AckScope(undefined);
  s.waitAlso(new Promise<void>(() => {}));
  assert.equal(s.open().close(), undefined);
});

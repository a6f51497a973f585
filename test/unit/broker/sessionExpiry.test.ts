/**
 * When offline sessions expire (src/broker/sessionExpiry.ts), on a clock the test moves: a
 * session ends in the pass of the second its expiry falls in, never before; one that came back
 * online, one that never expires, one forgotten (ended or handed over) and one the broker no
 * longer holds are not ended; a pass that comes late catches up, however long the gap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionExpiry } from '../../../src/broker/sessionExpiry.ts';
import { NEVER_EXPIRES, Session, type QueueLimits, type SessionLink } from '../../../src/broker/session.ts';

const limits: QueueLimits = { maxQueuedMessages: 0, maxQueuedBytes: 0, queueQos0Messages: false, dropOldest: false };
const T0 = 1_800_000_000_000;

/** A session offline from `now` with `interval` seconds of expiry, told to `expiry`. */
function offline(expiry: SessionExpiry, id: string, interval: number, now: number): Session {
  const s = new Session(id, limits);
  s.expiryInterval = interval;
  s.detach(now);
  expiry.offline(s, now);
  return s;
}

/** Passes once a second from `from` to `to` (ms); returns each ended session's id and the pass's time. */
function run(expiry: SessionExpiry, from: number, to: number, step = 1000, holds: (s: Session) => boolean = () => true): [string, number][] {
  const ended: [string, number][] = [];
  for (let now = from; now <= to; now += step) expiry.pass(now, holds, (s) => ended.push([s.clientId, now]));
  return ended;
}

/** `ended` with the ids of one pass in order, for comparison */
const sorted = (ended: [string, number][]): [string, number][] => [...ended].sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0]));

test('a session ends at the first pass at or after its expiry, not before', () => {
  const expiry = new SessionExpiry(T0);
  offline(expiry, 'a', 3, T0 + 200); // expires at T0 + 3200
  offline(expiry, 'b', 1, T0);
  offline(expiry, 'c', 3, T0 + 200);
  assert.deepEqual(sorted(run(expiry, T0 + 1000, T0 + 10_000)), [['b', T0 + 1000], ['a', T0 + 4000], ['c', T0 + 4000]]);
});

test('a pass in the second of the expiry but before it leaves the session to the next pass', () => {
  const expiry = new SessionExpiry(T0);
  offline(expiry, 'a', 2, T0 + 500); // T0 + 2500
  assert.deepEqual(run(expiry, T0 + 400, T0 + 5400), [['a', T0 + 3400]]);
});

test('a session online again, one that never expires, one forgotten and one not held are not ended', () => {
  const expiry = new SessionExpiry(T0);
  const back = offline(expiry, 'back', 1, T0);
  back.attach({} as SessionLink, T0 + 500);
  offline(expiry, 'never', NEVER_EXPIRES, T0);
  const gone = offline(expiry, 'gone', 1, T0);
  expiry.forget(gone);
  offline(expiry, 'other worker', 1, T0);
  offline(expiry, 'kept', 2, T0);
  const ended = run(expiry, T0 + 1000, T0 + 5000, 1000, (s) => s.clientId !== 'other worker');
  assert.deepEqual(ended, [['kept', T0 + 2000]]);
});

test('offline again after coming back: the later expiry counts', () => {
  const expiry = new SessionExpiry(T0);
  const s = offline(expiry, 's', 2, T0);
  s.attach({} as SessionLink, T0 + 1000);
  s.detach(T0 + 1500);
  expiry.offline(s, T0 + 1500); // T0 + 3500
  assert.deepEqual(run(expiry, T0 + 1000, T0 + 6000), [['s', T0 + 4000]]);
});

test('a pass that comes late catches up; an expiry past the horizon comes on time', () => {
  const expiry = new SessionExpiry(T0);
  offline(expiry, 'soon', 5, T0);
  offline(expiry, 'day', 86_400, T0);
  // nothing for a minute, then once a second
  assert.deepEqual(run(expiry, T0 + 60_000, T0 + 60_000), [['soon', T0 + 60_000]]);
  assert.deepEqual(run(expiry, T0 + 61_000, T0 + 86_399_000, 1000), [], 'not before its day');
  assert.deepEqual(run(expiry, T0 + 86_400_000, T0 + 86_401_000), [['day', T0 + 86_400_000]]);
  // a gap longer than the wheel's lap: every slot is visited once
  const late = new SessionExpiry(T0);
  offline(late, 'hour', 3600, T0);
  offline(late, 'week', 7 * 86_400, T0);
  assert.deepEqual(run(late, T0 + 7200_000, T0 + 7200_000), [['hour', T0 + 7200_000]]);
  assert.deepEqual(run(late, T0 + 7 * 86_400_000, T0 + 7 * 86_400_000), [['week', T0 + 7 * 86_400_000]]);
});

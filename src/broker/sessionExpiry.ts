/**
 * When a worker's offline sessions expire. Each waits in a DeadlineWheel in the slot of the
 * second its expiry falls in, so the once-a-second pass looks only at the sessions due, not at
 * every session the worker holds, connected or not (a pass over 18,000 took 0.4–0.8 ms).
 *
 * Invariants:
 * - Every session of the worker that is offline with an expiry (link undefined, expiresAt ≠ 0,
 *   expiryInterval ≠ NEVER_EXPIRES) is in the wheel, in the slot of the second it expires in or,
 *   beyond the wheel's horizon, earlier: the broker calls offline() each time a session goes
 *   offline, and forget() each time one leaves the worker (ended, or handed to another).
 * - A session that came online again stays in the wheel until its slot comes, and is dropped
 *   then; one that the broker no longer holds (`isCurrent` false) is never expired.
 * - Ticks are wall-clock seconds (expiresAt is wall-clock time): a pass that comes late goes
 *   over every second it missed, at most one lap of the wheel, which visits every slot.
 * called from: worker (the broker)
 */
import { DeadlineWheel, WHEEL_HORIZON } from './deadlineWheel.ts';
import { NEVER_EXPIRES, type Session } from './session.ts';

const SECOND_MS = 1000;

const expires = (s: Session): boolean => s.link === undefined && s.expiresAt !== 0 && s.expiryInterval !== NEVER_EXPIRES;

export class SessionExpiry {
  private readonly wheel = new DeadlineWheel<Session>();
  /** the last second a pass went over */
  private tick: number;

  constructor(now: number) {
    this.tick = Math.floor(now / SECOND_MS);
  }

  /** `session` is offline now (its expiresAt set): it waits for its second, when it has one. */
  offline(session: Session, now: number): void {
    this.wheel.remove(session);
    // from the last second passed at the earliest: a slot already passed would wait a whole lap
    if (expires(session)) this.wheel.insert(session, Math.floor(session.expiresAt / SECOND_MS), Math.max(this.tick, Math.floor(now / SECOND_MS)));
  }

  /** `session` left the worker (ended, or handed over): it is not looked at again. */
  forget(session: Session): void {
    this.wheel.remove(session);
  }

  /**
   * The once-a-second pass: calls `expire` for each session of the seconds up to `now` whose
   * expiry has come, while `isCurrent` says the worker still holds it; puts the others due then
   * back at their own second.
   */
  pass(now: number, isCurrent: (session: Session) => boolean, expire: (session: Session) => void): void {
    const tick = Math.floor(now / SECOND_MS);
    for (let t = Math.max(this.tick + 1, tick - WHEEL_HORIZON); t <= tick; t++) {
      for (let s = this.wheel.takeDue(t); s !== undefined; s = this.wheel.takeDue(t)) {
        if (!expires(s) || !isCurrent(s)) continue;
        if (s.expiresAt <= now) expire(s);
        // placed from `t`, strictly after it: a slot still ahead in this pass is visited again, never this one
        else this.wheel.insert(s, Math.floor(s.expiresAt / SECOND_MS), t);
      }
    }
    this.tick = Math.max(this.tick, tick);
  }
}

/**
 * When and where a bridge connects again (Mosquitto src/bridge.c bridge_check and
 * bridge__backoff_step): after every failed attempt or lost connection the next address is
 * tried, after `restart_timeout` seconds — constant, or Mosquitto's "decorrelated jitter"
 * backoff between base and cap, reset by a successful connection.
 * called from: worker, tests
 */
import type { BridgeConfig } from '../config/types.ts';

export class RestartPolicy {
  private readonly restart: BridgeConfig['restart'];
  private readonly addressCount: number;
  /** the address of the current or next attempt */
  address = 0;
  /** seconds before the next attempt */
  private delay: number;
  private readonly random: () => number;

  constructor(restart: BridgeConfig['restart'], addressCount: number, random: () => number = Math.random) {
    this.restart = restart;
    this.addressCount = addressCount;
    this.random = random;
    this.delay = restart.kind === 'constant' ? restart.seconds : restart.base;
  }

  /** A connection was made: the backoff starts from its base again. */
  connected(): void {
    if (this.restart.kind === 'backoff') this.delay = this.restart.base;
  }

  /**
   * The connection failed or ended: moves to the next address and returns the seconds to wait.
   * `toPrimary`: the primary address answered a probe, so the next attempt goes there.
   */
  next(toPrimary = false): number {
    this.address = toPrimary ? 0 : (this.address + 1) % this.addressCount;
    const r = this.restart;
    if (r.kind === 'constant') return r.seconds;
    const wait = this.delay;
    const high = Math.max(r.base + 1, this.delay * 3);
    this.delay = Math.min(r.cap, Math.floor(r.base + this.random() * (high - r.base)));
    return wait;
  }
}

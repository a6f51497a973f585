/**
 * The main thread's look at the store before any worker starts: an unwritable or unreadable
 * location stops the start with a clear error, and every keyspace is read once so that corrupt
 * or unknown records are moved to quarantine (and logged) by one thread only. After a clean stop
 * with as many workers (cleanStop.ts) the marks are taken out and the counts come from them: no
 * queued entry is read here or in the workers. Otherwise (a crash) one pass over every entry
 * (queueTally.ts) tidies the message log and writes the tallies a clean stop would have, so that
 * the workers again read no queued entry. A Mosquitto persistence file found in the location is
 * reported (how to import it), never read.
 * called from: main
 */
import type { BrokerConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { RefTally } from '../records/stored.ts';
import { randomInt } from 'node:crypto';
import { Store } from './store.ts';
import { tallyQueues } from './queueTally.ts';
import { findMosquittoDbs, mosquittoDbNotice } from './mosquittoFile.ts';

export interface StoreCheck {
  /** the greatest stamp of a stored retained message: new stamps continue above it */
  readonly retainStamp: number;
  readonly retained: number;
  readonly sessions: number;
  /** queue entries of all sessions */
  readonly queued: number;
  /** messages in the log after tidying (entries may also carry their message inline) */
  readonly messages: number;
  /**
   * the run whose queue tallies the workers start from: the last run's, when it stopped cleanly
   * (nothing was tidied), or the one the pass over every entry wrote (queueTally.ts)
   */
  readonly cleanRun?: number | undefined;
  /** why the last run's tallies could not be used (or that it left none): every entry was read here */
  readonly unclean?: string | undefined;
  /**
   * with `unclean`: each worker's reference counts of run `cleanRun`, in shared memory (the pass
   * does not write them); after a clean stop each worker reads its own from the store
   */
  readonly refs?: readonly RefTally[] | undefined;
}

/**
 * Also tidies the message log for the `workers` that will run (queueTally.ts), unless the last
 * run stopped cleanly with as many workers.
 */
export async function checkStore(config: BrokerConfig, log: Logger, workers: number): Promise<StoreCheck> {
  // a Mosquitto persistence file left where Mosquitto ran is never read on its own: say how to import it
  for (const file of findMosquittoDbs(config.persistenceLocation)) log.notice(mosquittoDbNotice(file));
  const store = Store.open({ path: config.persistenceLocation, durability: config.persistenceDurability, batchWindowMs: config.persistenceBatchWindowMs, log });
  try {
    // before anything here writes: a clean stop's marks are taken out, so that a crash from now on never looks clean
    const clean = store.takeCleanStop(workers);
    const retained = store.loadRetained();
    const retainStamp = retained.reduce((m, r) => Math.max(m, r.s ?? 0), 0);
    // nothing to tidy after a clean stop with as many workers: no crash left orphans, no session changed owner
    if ('run' in clean) return { retainStamp, retained: retained.length, sessions: clean.sessions, queued: clean.entries, messages: clean.messages, cleanRun: clean.run };
    const unclean = clean.reason;
    // one pass over every entry: the log tidied, and tallies of a run of its own, so that the workers start as after a clean stop
    const run = randomInt(1, 2 ** 47);
    const t = await tallyQueues(store, config.persistenceLocation, log, workers, run);
    if (t.orphans > 0 || t.copied > 0) log.info(`persistence: ${t.orphans} messages no session refers to deleted, ${t.copied} copied for sessions on different workers`);
    return { retainStamp, retained: retained.length, sessions: t.sessions, queued: t.queued, messages: t.messages, cleanRun: run, unclean, refs: t.refs };
  } finally {
    await store.close();
  }
}

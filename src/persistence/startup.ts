/**
 * The main thread's look at the store before any worker starts: an unwritable or unreadable
 * location stops the start with a clear error, and every keyspace but the message log is read
 * once so that corrupt or unknown records are moved to quarantine (and logged) by one thread
 * only. Messages are read by the one worker whose entries refer to them (after the tidy below,
 * no two workers share one), which quarantines an unreadable one. When the message log is empty
 * (every entry carries its message inline) there is nothing to tidy: only the entries' keys are
 * read here, and each worker checks the values of its own sessions' entries. A Mosquitto
 * persistence file found in the location is reported (how to import it), never read. After a
 * clean stop with as many workers (cleanStop.ts) none of this is needed: the marks are taken out
 * and the counts come from them, no queued entry is read here or in the workers.
 * called from: main
 */
import type { BrokerConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import { Store } from './store.ts';
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
  /** the last run stopped cleanly: its workers' queue tallies hold, and nothing was tidied (cleanStop.ts) */
  readonly cleanRun?: number | undefined;
  /** why the tallies could not be used (or that the last run left none) */
  readonly unclean?: string | undefined;
}

/**
 * Also tidies the message log for the `workers` that will run (journal.ts: every message is
 * counted and deleted by one worker): messages no queue entry refers to are deleted (left by a
 * crash, or by sessions that moved between workers), and a message referred to by sessions that
 * different workers will own is copied, so that each worker has its own.
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
    // the log's seqs only: a message is read (and decoded) when it is copied, or to check an orphan before it goes;
    // each worker reads its own sessions' messages (an unreadable one is quarantined there)
    const messages = new Set(store.messageSeqs());
    if (messages.size === 0) {
      // every entry carries its message inline: nothing to tidy, and the entries' values are left to the workers
      const counted = store.countSessions();
      return { retainStamp, retained: retained.length, sessions: counted.sessions, queued: counted.queued, messages: 0, unclean };
    }
    const sessions = store.loadSessions();
    /** seq → the worker that will own it */
    const owner = new Map<number, number>();
    /** seq → (worker → the copy's seq) for messages several workers need */
    const copies = new Map<number, Map<number, number>>();
    let next = store.maxMessageSeq();
    let queued = 0;
    for (const s of sessions) {
      const w = s.meta.owner % workers;
      for (const { qseq, entry } of s.queue) {
        queued++;
        if (entry.x !== undefined) continue; // the message is inline
        const first = owner.get(entry.m);
        if (first === undefined) owner.set(entry.m, w);
        if (first === undefined || first === w || !messages.has(entry.m)) continue;
        const perWorker = copies.get(entry.m) ?? new Map<number, number>();
        copies.set(entry.m, perWorker);
        let seq = perWorker.get(w);
        if (seq === undefined) {
          const record = store.getMessage(entry.m);
          if (record === undefined) continue; // unreadable (now in quarantine): the owning worker drops the entry, with a warning
          seq = ++next;
          perWorker.set(w, seq);
          store.putMessage(seq, record);
        }
        store.putQueued(s.clientId, qseq, { ...entry, m: seq });
      }
    }
    let orphans = 0;
    for (const seq of messages) {
      if (owner.has(seq)) continue;
      // an unreadable orphan is moved to quarantine rather than deleted
      if (store.getMessage(seq) !== undefined) store.deleteMessage(seq);
      orphans++;
    }
    await store.flush();
    if (orphans > 0 || copies.size > 0) log.info(`persistence: ${orphans} messages no session refers to deleted, ${copies.size} copied for sessions on different workers`);
    return {
      retainStamp,
      retained: retained.length,
      sessions: sessions.length,
      queued,
      messages: messages.size - orphans + [...copies.values()].reduce((n, c) => n + c.size, 0),
      unclean,
    };
  } finally {
    await store.close();
  }
}

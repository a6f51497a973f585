/**
 * The main thread's look at the store before any worker starts: an unwritable or unreadable
 * location stops the start with a clear error, and every keyspace is read once so that corrupt
 * or unknown records are moved to quarantine (and logged) by one thread only.
 * called from: main
 */
import type { BrokerConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import { Store } from './store.ts';

export interface StoreCheck {
  /** the greatest stamp of a stored retained message: new stamps continue above it */
  readonly retainStamp: number;
  readonly retained: number;
}

export async function checkStore(config: BrokerConfig, log: Logger): Promise<StoreCheck> {
  const store = Store.open({ path: config.persistenceLocation, durability: config.persistenceDurability, batchWindowMs: config.persistenceBatchWindowMs, log });
  try {
    const retained = store.loadRetained();
    store.loadSessions();
    store.loadMessages();
    return { retainStamp: retained.reduce((m, r) => Math.max(m, r.s ?? 0), 0), retained: retained.length };
  } finally {
    await store.close();
  }
}

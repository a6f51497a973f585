/**
 * The quarantine keyspace: records that cannot be decoded or do not belong (a bad key, an
 * orphaned queue entry) are moved there with the reason, in one transaction, and logged; and what
 * it holds can be read back for operators and tests. Key: [keyspace, key as text, at, index].
 * Invariants: a record is never dropped: it is moved only if it is still unchanged inside the
 * moving transaction, and stays in place (and is skipped) if the move fails; every move is logged
 * (the first WARN_EACH one by one, the rest summed up).
 * called from: worker | main (the reads of load.ts, Store.getMessage)
 */
import type { Database, Key, RootDatabase } from 'lmdb';
import { keyText, rawKeyOf } from './keys.ts';
import { decodeQuarantine, encodeQuarantine } from './format.ts';
import type { Keyspace, Keyspaces, StoreLog } from './open.ts';

/** A record found in the quarantine keyspace. */
export interface QuarantinedRecord {
  keyspace: string;
  /** the original key, as readable text (JSON) */
  key: string;
  /** the original key, ordered-binary bytes */
  rawKey: Uint8Array;
  /** the original value */
  raw: Uint8Array;
  reason: string;
  at: number;
}

/** A record to move to quarantine: where it is, its value as read, and why. */
export interface BadRecord {
  ks: Keyspace;
  key: Key;
  raw: Uint8Array;
  reason: string;
}

/** Quarantine warnings logged one by one per load; the rest are summed up. */
const WARN_EACH = 20;

/** Moves `bad` records to quarantine in one transaction (only those still unchanged), then logs each. */
export function moveToQuarantine(root: RootDatabase<Buffer, Key>, dbs: Keyspaces, dir: string, log: StoreLog, bad: BadRecord[]): void {
  if (bad.length === 0) return;
  const at = Date.now();
  const texts = bad.map((b) => keyText(b.key));
  try {
    root.transactionSync(() => {
      bad.forEach((b, i) => {
        const db = dbs[b.ks];
        const current = db.getBinary(b.key);
        if (current === undefined || !current.equals(b.raw)) return; // changed since it was read: not ours to move
        dbs.quarantine.putSync([b.ks, texts[i]!, at, i], encodeQuarantine({ ks: b.ks, key: rawKeyOf(b.key), raw: b.raw, reason: b.reason, at }));
        db.removeSync(b.key);
      });
    });
  } catch (err) {
    log.error(`persistence store ${dir}: could not move ${bad.length} bad record(s) to quarantine; they stay in place and are skipped`, err);
  }
  bad.slice(0, WARN_EACH).forEach((b, i) => log.warning(`persistence store ${dir}: ${b.ks} record ${texts[i]} moved to quarantine: ${b.reason}`));
  if (bad.length > WARN_EACH) log.warning(`persistence store ${dir}: ... and ${bad.length - WARN_EACH} more record(s) moved to quarantine`);
}

/** What the quarantine keyspace `db` holds. */
export function readQuarantine(db: Database<Buffer, Key>): QuarantinedRecord[] {
  const out: QuarantinedRecord[] = [];
  for (const { key, value } of db.getRange()) {
    const d = decodeQuarantine(value);
    const k = key as unknown[];
    if (d.ok) out.push({ keyspace: d.value.ks, key: String(k[1]), rawKey: d.value.key, raw: d.value.raw, reason: d.value.reason, at: d.value.at });
    else out.push({ keyspace: String(k[0]), key: String(k[1]), rawKey: new Uint8Array(0), raw: value, reason: `unreadable quarantine record: ${d.reason}`, at: Number(k[2]) });
  }
  return out;
}

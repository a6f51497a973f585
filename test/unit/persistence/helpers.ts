/**
 * Shared pieces of the persistence tests: temp directories, sample records, a log that keeps
 * what it is told, and the Node binary for child processes.
 * called from: tests (main thread, child processes, worker threads)
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MessageRecord } from '../../../src/records/message.ts';
import type { QueueEntry, SessionMeta } from '../../../src/records/stored.ts';
import type { StoreLog } from '../../../src/persistence/store.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Node 24 for child processes: the repository's node_modules/.bin/node (the test runner's own as a fallback). */
export const nodeBin = existsSync(path.join(repoRoot, 'node_modules/.bin/node')) ? path.join(repoRoot, 'node_modules/.bin/node') : process.execPath;

/** A fresh temp directory; the returned function removes it. */
export function tempDir(prefix = 'culex-store-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Interleaved, repeated names: their order is part of the message [MQTT-3.3.2-17/18]. */
export const PAIRS: [string, string][] = [['z', '1'], ['a', '2'], ['z', '3'], ['a', '4'], ['m', 'x']];

/** A message record with every field set (properties, user properties, binary correlation data). */
export function fullMessage(tag: string | number): MessageRecord {
  return {
    t: `sensors/${tag}/temp`,
    p: Buffer.from([0, 1, 2, 0xfe, 0xff, ...Buffer.from(`payload ${tag}`)]),
    q: 2,
    r: true,
    pr: { payloadFormatIndicator: false, messageExpiryInterval: 120, contentType: 'application/x', responseTopic: `reply/${tag}`, correlationData: Buffer.from([9, 8, 7, 0]) },
    up: [...PAIRS, ['tag', String(tag)]],
    x: 1_700_000_120_000,
    o: `publisher-${tag}`,
    s: 42,
  };
}

/** A minimal message record (no properties). */
export function plainMessage(seq: number): MessageRecord {
  return { t: `t/${seq}`, p: Buffer.from(`m${seq}`), q: 1, r: false, pr: undefined, up: undefined, x: 0, o: 'p', s: 0 };
}

export function queueEntry(m: number, overrides: Partial<QueueEntry> = {}): QueueEntry {
  return { m, q: 1, r: false, i: undefined, p: 0, s: 0, ...overrides };
}

export function sessionMeta(overrides: Partial<SessionMeta> = {}): SessionMeta {
  return {
    owner: 2,
    user: 'alice',
    expiry: 3600,
    expiresAt: 1_700_000_000_000,
    subs: [
      { f: { raw: 'a/+/c', filter: 'a/+/c', group: undefined }, o: { qos: 1, noLocal: false, retainAsPublished: true, retainHandling: 1, subscriptionId: 7 } },
      { f: { raw: '$share/g/x/#', filter: 'x/#', group: 'g' }, o: { qos: 2, noLocal: true, retainAsPublished: false, retainHandling: 0, subscriptionId: 0 } },
    ],
    lastId: 65535,
    will: {
      topic: 'wills/alice',
      payload: Buffer.from('gone'),
      qos: 1,
      retain: false,
      delay: 30,
      clientId: 'alice-1',
      username: 'alice',
      pr: { contentType: 'text/plain' },
      up: [['b', '1'], ['a', '2'], ['b', '3']],
    },
    ...overrides,
  };
}

/** A StoreLog that records warnings and errors. */
export function recordingLog(): StoreLog & { warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  return { warnings, errors, warning: (m) => warnings.push(m), error: (m, err) => errors.push(`${m}${err === undefined ? '' : `: ${String(err)}`}`) };
}

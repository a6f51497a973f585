/**
 * A JetStream key-value bucket every worker of every node follows (the retained messages, the
 * durable interest): opened or created with one revision per key, watched for good, and loaded
 * before the caller goes on.
 * called from: worker (retainedBucket.ts, durableInterest.ts)
 */
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../log.ts';

/** How long a start waits for a bucket's current entries before it goes on (the rest follows). */
const LOAD_TIMEOUT_MS = 10_000;

/** Opens (or creates) bucket `name`, keeping the last revision of each key. */
export function openBucket(nc: NatsConnection, name: string): Promise<KV> {
  return new Kvm(jetstream(nc)).create(name, { history: 1 });
}

/**
 * Calls `apply` for every entry of `kv`, those already there and every change after, until the
 * connection closes; resolves once the entries already there are applied, or after
 * LOAD_TIMEOUT_MS with a warning naming `what`.
 */
export async function watchBucket(kv: KV, what: string, log: Logger, apply: (e: KvEntry) => void): Promise<void> {
  const empty = (await kv.status()).values === 0;
  const watch = await kv.watch();
  let loaded!: () => void;
  const current = new Promise<void>((resolve) => (loaded = resolve));
  if (empty) loaded();
  void (async () => {
    for await (const e of watch) {
      apply(e);
      if (e.delta === 0) loaded();
    }
  })().catch((err: unknown) => log.error(`cluster: ${what} watch ended`, err));
  const timer = setTimeout(() => {
    log.warning(`cluster: the ${what} was not read within ${LOAD_TIMEOUT_MS} ms; going on, the rest follows`);
    loaded();
  }, LOAD_TIMEOUT_MS);
  await current;
  clearTimeout(timer);
}

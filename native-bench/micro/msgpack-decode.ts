/**
 * Decoding a queue entry read back from the store (src/persistence/format.ts) with msgpackr's
 * native string extraction and without it (MSGPACKR_NATIVE_ACCELERATION_DISABLED, which the
 * broker sets for its workers, src/server.ts). The flag is read when msgpackr loads, so each
 * variant runs in a child process of this script. (A hand-written reader for the store's subset
 * of msgpack was tried: 1.19M entries/s against msgpackr's JS decoder's 1.31M, so it was not kept.)
 *   node native-bench/micro/msgpack-decode.ts
 * called from: main (a command-line script)
 */
import { spawnSync } from 'node:child_process';
import { bench } from './harness.ts';
import { Packr } from 'msgpackr';
import { encodeQueueEntry } from '../../src/persistence/format.ts';

if (process.env.DECODE_CHILD === undefined) {
  for (const disabled of [false, true]) {
    const env = { ...process.env, DECODE_CHILD: '1' } as NodeJS.ProcessEnv;
    if (disabled) env.MSGPACKR_NATIVE_ACCELERATION_DISABLED = 'true';
    else delete env.MSGPACKR_NATIVE_ACCELERATION_DISABLED;
    spawnSync(process.execPath, [new URL(import.meta.url).pathname], { env, stdio: 'inherit' });
  }
} else {
  const message = { t: 'city/zone3/device-123/status', p: Buffer.alloc(64, 7), q: 1 as const, r: false, pr: undefined, up: undefined, x: 0, o: 'publisher-123', s: 0 };
  const raw = encodeQueueEntry({ m: 0, x: message, q: 1, r: false, i: undefined, p: 0, s: 0 });
  const packr = new Packr({ useRecords: false });
  const disabled = process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED === 'true';
  bench(`queue entry (${raw.length} B, inline message), msgpackr ${disabled ? 'JS decoder' : 'native string extraction'}`, 1000, () => {
    for (let i = 0; i < 1000; i++) packr.unpack(raw, { start: 1, end: raw.length });
  });
}

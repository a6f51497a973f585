/**
 * Child process for the kill -9 test of the dynamic security file: `atomicWriter.ts FILE`.
 * Saves version 1, 2, 3… of a large dynamic security state to FILE, one after the other, with
 * writeFileAtomic, and prints "saved N" once version N's write has resolved. Prints "ready"
 * first. Runs until killed.
 * called from: main (a child process of the test)
 */
import { writeFileAtomic } from '../../../../src/auth/dynsec/atomicWrite.ts';
import { versionText } from './atomicVersions.ts';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: atomicWriter.ts FILE');
process.stdout.write('ready\n');
for (let n = 1; n < 1_000_000; n++) {
  await writeFileAtomic(file, versionText(n));
  process.stdout.write(`saved ${n}\n`);
}

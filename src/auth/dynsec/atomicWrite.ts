/**
 * Replaces a file so that a crash at any point (kill -9, power loss) leaves either the old
 * content or the new, never a torn file: write `FILE.new` (Mosquitto's name for it), fsync it,
 * rename it over FILE, fsync the directory so that the rename itself is durable. The new file
 * keeps the old one's permission bits (it holds password hashes); a new file gets 0600.
 * called from: main
 */
import { open, rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function writeFileAtomic(path: string, text: string): Promise<void> {
  let mode = 0o600;
  try {
    mode = (await stat(path)).mode & 0o7777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const temp = `${path}.new`;
  const file = await open(temp, 'w', mode);
  try {
    // a FILE.new left by a crash keeps its old mode through open(): set it
    await file.chmod(mode);
    await file.writeFile(text, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

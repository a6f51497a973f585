/**
 * A sanity check of an existing LMDB data file before it is opened. LMDB trusts its file: with
 * lmdb-js 3.5, opening a data.mdb whose meta pages are garbage (zeros, text, a foreign file)
 * crashes the process with SIGSEGV instead of returning MDB_INVALID. So the store reads the two
 * meta pages first and refuses, with a clear error, a file whose magic numbers or page size are
 * wrong. This catches a foreign or overwritten file; damage deeper inside a file with valid meta
 * pages is LMDB's to detect.
 * Meta page layout (liblmdb mdb.c): a page header (16 bytes, or 24 in lmdb-js's data format v2
 * which adds the page's txn id), then MDB_meta: mm_magic u32 = 0xBEEFC0DE, mm_version u32,
 * mm_address u64, mm_mapsize u64, mm_dbs[0].md_pad u32 = page size. Meta page 0 is at offset 0,
 * meta page 1 at offset `page size`. Both are checked (LMDB reads both).
 * called from: worker | main (Store.open)
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';

const MDB_MAGIC = 0xbeefc0de;
const HEADER_SIZES = [24, 16] as const;

/** What is wrong with `dir`/data.mdb, or undefined when it is absent, empty or plausible. */
export function checkDataFile(dir: string): string | undefined {
  const file = path.join(dir, 'data.mdb');
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined; // absent (a new store), or unreadable: LMDB reports that as an open error
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return undefined;
    const head = Buffer.alloc(64);
    if (size < head.length) return `${file} is truncated (${size} bytes): not an LMDB data file`;
    readSync(fd, head, 0, head.length, 0);
    const header = HEADER_SIZES.find((h) => head.readUInt32LE(h) === MDB_MAGIC);
    if (header === undefined) return `${file} is not an LMDB data file (bad magic number in meta page 0)`;
    const pageSize = head.readUInt32LE(header + 24);
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return `${file} has a bad page size (${pageSize}) in meta page 0`;
    if (size < 2 * pageSize) return `${file} is truncated (${size} bytes, page size ${pageSize})`;
    const meta1 = Buffer.alloc(4);
    readSync(fd, meta1, 0, 4, pageSize + header);
    if (meta1.readUInt32LE(0) !== MDB_MAGIC) return `${file} is damaged (bad magic number in meta page 1)`;
    return undefined;
  } finally {
    closeSync(fd);
  }
}

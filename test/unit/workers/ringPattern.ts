/**
 * The record stream shared by the two-thread ring test's producer and consumer: record `seq`
 * has a length in 1..300 and a byte pattern both sides can compute; bodies of 4 bytes or more
 * start with `seq` as uint32 LE.
 * called from: worker (ringProducer.ts), main (ring.test.ts)
 */

/** Body length of record `seq`: 1..300, spread by a multiplicative hash. */
export function recordLength(seq: number): number {
  return 1 + (Math.imul(seq, 0x9e3779b1) >>> 0) % 300;
}

/** Writes record `seq`'s body into `buf` at `offset`. */
export function writeRecord(buf: Buffer, offset: number, seq: number): void {
  const len = recordLength(seq);
  let i = 0;
  if (len >= 4) {
    buf.writeUInt32LE(seq >>> 0, offset);
    i = 4;
  }
  for (; i < len; i++) buf[offset + i] = (seq + i * 31) & 0xff;
}

/** Why the body at `offset`/`length` is not record `seq`, or undefined when it is. */
export function checkRecord(buf: Buffer, offset: number, length: number, seq: number): string | undefined {
  const len = recordLength(seq);
  if (length !== len) return `record ${seq}: length ${length}, expected ${len}`;
  let i = 0;
  if (len >= 4) {
    const got = buf.readUInt32LE(offset);
    if (got !== seq >>> 0) return `record ${seq}: sequence number ${got}`;
    i = 4;
  }
  for (; i < len; i++) {
    if (buf[offset + i] !== ((seq + i * 31) & 0xff)) return `record ${seq}: byte ${i} is ${buf[offset + i]}`;
  }
  return undefined;
}

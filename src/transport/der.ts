/**
 * A reader of DER (ASN.1's distinguished encoding), enough to walk X.509 certificates and CRLs:
 * tag, definite length, contents. Every read checks that the element lies inside its parent, so
 * a truncated or inflated length is a DerError, never a read past the bytes.
 * called from: worker (transport/crlCheck.ts), at listener start and per TLS client
 */

export class DerError extends Error {}

/** Universal tags used by X.509 */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
} as const;

/** One element: `bytes` is all of its parent's buffer; its contents are bytes[start, end). */
export interface Element {
  readonly tag: number;
  /** the first byte of the tag */
  readonly from: number;
  /** the first byte of the contents */
  readonly start: number;
  /** one past the last byte of the contents (and of the element) */
  readonly end: number;
}

/** The element at `at`, which must end by `limit`. Tags are one byte (no X.509 field needs more). */
export function readElement(bytes: Uint8Array, at: number, limit: number): Element {
  if (at + 2 > limit) throw new DerError('truncated element');
  const tag = bytes[at]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte tag at ${at}`);
  let length = bytes[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new DerError(`unsupported length form at ${at}`);
    if (start + count > limit) throw new DerError('truncated length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i]!;
    start += count;
  }
  const end = start + length;
  if (end > limit) throw new DerError(`element at ${at} runs past its parent`);
  return { tag, from: at, start, end };
}

/** The children of a constructed element, in order. */
export function children(bytes: Uint8Array, parent: Element): Element[] {
  const out: Element[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const e = readElement(bytes, at, parent.end);
    out.push(e);
    at = e.end;
  }
  return out;
}

/** `e`, after checking that its tag is `tag`. */
export function expect(e: Element | undefined, tag: number, what: string): Element {
  if (e === undefined) throw new DerError(`${what} missing`);
  if (e.tag !== tag) throw new DerError(`${what}: tag 0x${e.tag.toString(16)} where 0x${tag.toString(16)} was expected`);
  return e;
}

/** The whole element (tag, length and contents), as a view. */
export function encoded(bytes: Uint8Array, e: Element): Uint8Array {
  return bytes.subarray(e.from, e.end);
}

/** The contents, as a view. */
function contents(bytes: Uint8Array, e: Element): Uint8Array {
  return bytes.subarray(e.start, e.end);
}

/** An OBJECT IDENTIFIER's dotted form. */
export function oid(bytes: Uint8Array, e: Element): string {
  expect(e, TAG.OID, 'object identifier');
  const arcs: number[] = [];
  let value = 0;
  for (let i = e.start; i < e.end; i++) {
    const b = bytes[i]!;
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  return arcs.join('.');
}

/**
 * An INTEGER's magnitude as lowercase hex without leading zeros ("0" for zero): serial numbers,
 * compared as the same number whatever padding the encoder used.
 */
export function integerHex(bytes: Uint8Array, e: Element): string {
  expect(e, TAG.INTEGER, 'integer');
  let i = e.start;
  while (i < e.end - 1 && bytes[i] === 0) i++;
  return Buffer.from(bytes.subarray(i, e.end)).toString('hex').replace(/^0+(?=.)/, '');
}

/** A UTCTime or GeneralizedTime (the forms RFC 5280 allows: Z, whole seconds) in ms since the epoch. */
export function time(bytes: Uint8Array, e: Element): number {
  const text = Buffer.from(contents(bytes, e)).toString('latin1');
  const m = e.tag === TAG.UTC_TIME ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : e.tag === TAG.GENERALIZED_TIME ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : null;
  if (m === null) throw new DerError(`not an RFC 5280 time: ${JSON.stringify(text)}`);
  let year = Number(m[1]);
  if (e.tag === TAG.UTC_TIME) year += year < 50 ? 2000 : 1900; // RFC 5280 4.1.2.5.1
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

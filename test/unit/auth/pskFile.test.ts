/**
 * psk_file as Mosquitto 2.0.11 reads it (src/auth/pskFile.ts): `identity:hexkey` lines, and
 * the key bytes its mosquitto__hex2bin makes of the digits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePskFile } from '../../../src/auth/pskFile.ts';

const hexOf = (text: string): Record<string, string> =>
  Object.fromEntries([...parsePskFile(text, 'psk')].map(([identity, key]) => [identity, key.toString('hex')]));

test('identity:key lines, trimmed; # lines and lines without a colon skipped; the key up to a second colon', () => {
  assert.deepEqual(hexOf('# devices\ndev1:deadbeef\n  dev2 :  CAFE \r\nno colon here\n\ndev3:0102:ignored\n'), {
    dev1: 'deadbeef', dev2: 'cafe', dev3: '0102',
  });
});

test('key bytes as mosquitto__hex2bin makes them: leading 00 pairs kept, an odd digit count read with a leading 0', () => {
  assert.deepEqual(hexOf('a:00\nb:000a\nc:0ab\nd:abc\ne:0000\nf:000\n'), { a: '00', b: '000a', c: 'ab', d: '0abc', e: '0000', f: '00' });
});

test('an empty key, a non-hex key, an empty identity, a repeated identity, a key over 512 bytes: refused naming the line', () => {
  assert.throws(() => parsePskFile('a:aa\nb:\n', 'psk'), /psk:2: empty psk for identity "b"/);
  assert.throws(() => parsePskFile('a:0x12\n', 'psk'), /psk:1: psk for identity "a" contains non-hexadecimal characters/);
  assert.throws(() => parsePskFile(':aa\n', 'psk'), /psk:1: empty identity/);
  assert.throws(() => parsePskFile('a:aa\na:bb\n', 'psk'), /psk:2: identity 'a' is listed twice \(first at line 1\)/);
  assert.throws(() => parsePskFile(`a:${'ab'.repeat(513)}\n`, 'psk'), /psk:1: psk for identity "a" is longer than 512 bytes/);
  assert.equal(parsePskFile(`a:${'ab'.repeat(512)}\n`, 'psk').get('a')!.length, 512);
});

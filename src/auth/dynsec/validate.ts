/**
 * The input checks the dynamic security commands make, with Mosquitto 2.0.11's rules:
 * mosquitto_validate_utf8 (lib/utf8_mosq.c) and mosquitto_sub_topic_check as the broker
 * builds it (lib/util_topic.c with WITH_BROKER).
 * called from: main
 */

/** Most `/` separators a filter may have (TOPIC_HIERARCHY_LIMIT). */
const HIERARCHY_LIMIT = 200;

/**
 * mosquitto_validate_utf8 over a decoded string: at most 65536 UTF-8 bytes, no U+0000,
 * no lone surrogate (the decoder's trace of malformed bytes), no control characters
 * (U+0001–U+001F, U+007F–U+009F), no non-characters (U+FDD0–U+FDEF, U+xFFFE, U+xFFFF).
 * `malformedInput`: the payload the string came from was not valid UTF-8, so a U+FFFD in it
 * may stand for bytes Mosquitto would have refused.
 */
export function validUtf8(s: string, malformedInput = false): boolean {
  if (Buffer.byteLength(s, 'utf8') > 65536) return false;
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00);
      i++;
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
      return false;
    }
    if (cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f)) return false;
    if (cp >= 0xfdd0 && cp <= 0xfdef) return false;
    if ((cp & 0xfffe) === 0xfffe) return false;
    if (malformedInput && cp === 0xfffd) return false;
  }
  return true;
}

/**
 * mosquitto_sub_topic_check: `+` and `#` only as whole levels, `#` last, at most 65535 bytes
 * and 200 `/`. The empty string passes, as in Mosquitto.
 */
export function validAclTopic(topic: string): boolean {
  if (Buffer.byteLength(topic, 'utf8') > 65535) return false;
  let slashes = 0;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    const prev = i === 0 ? 0 : topic.charCodeAt(i - 1);
    const next = i + 1 < topic.length ? topic.charCodeAt(i + 1) : 0;
    if (c === 0x2b /* + */) {
      if ((prev !== 0 && prev !== 0x2f) || (next !== 0 && next !== 0x2f)) return false;
    } else if (c === 0x23 /* # */) {
      if ((prev !== 0 && prev !== 0x2f) || next !== 0) return false;
    } else if (c === 0x2f) {
      slashes++;
    }
  }
  return slashes <= HIERARCHY_LIMIT;
}

/**
 * Topic name and topic filter syntax (spec 4.7, 4.8.2). Pure; called from: worker.
 * Matching lives in the broker; this file only says what is well-formed.
 */
import { MAX_STRING_BYTES, utf8LengthExceeds } from './utf8.ts';

const PLUS = 0x2b;
const HASH = 0x23;
const SLASH = 0x2f;
const NUL = 0x00;
const SHARE_PREFIX = '$share/';

/**
 * The most '/' separators a topic name or filter may hold: 200, i.e. 201 levels. Mosquitto 2.0.11's
 * TOPIC_HIERARCHY_LIMIT (lib/util_topic.c counts the '/' of the whole string, `$share/group/` included),
 * so the topic tree cannot be made arbitrarily deep. A PUBLISH or will topic past it is refused at
 * decoding, as is a SUBSCRIBE or UNSUBSCRIBE filter; together with the 65535-byte string limit
 * ({@link MAX_STRING_BYTES}) this bounds every key of the tree.
 */
export const MAX_TOPIC_SEPARATORS = 200;

/** [MQTT-4.7.3-1] non-empty; [MQTT-4.7.1-1] no + or # in a topic name; no U+0000; at most 65535 UTF-8 bytes
 *  and {@link MAX_TOPIC_SEPARATORS} separators */
export function isValidTopicName(topic: string): boolean {
  const length = topic.length;
  if (length === 0) return false; // [MQTT-4.7.3-1]
  let separators = 0;
  for (let i = 0; i < length; i++) {
    const c = topic.charCodeAt(i);
    if (c === PLUS || c === HASH || c === NUL) return false; // [MQTT-4.7.1-1] [MQTT-4.7.3-2]
    if (c === SLASH) separators++;
  }
  return separators <= MAX_TOPIC_SEPARATORS && !utf8LengthExceeds(topic, MAX_STRING_BYTES);
}

/** '#' only last and alone in its level [MQTT-4.7.1-2]; '+' alone in its level [MQTT-4.7.1-3]; non-empty; no U+0000;
 *  at most 65535 UTF-8 bytes and {@link MAX_TOPIC_SEPARATORS} separators */
export function isValidTopicFilter(filter: string): boolean {
  const length = filter.length;
  if (length === 0) return false; // [MQTT-4.7.3-1]
  if (tooDeep(filter)) return false;
  for (let i = 0; i < length; i++) {
    const c = filter.charCodeAt(i);
    if (c === NUL) return false; // [MQTT-4.7.3-2]
    if (c === HASH) {
      if (i !== length - 1) return false; // [MQTT-4.7.1-2]
      if (i > 0 && filter.charCodeAt(i - 1) !== SLASH) return false;
    } else if (c === PLUS) {
      if (i > 0 && filter.charCodeAt(i - 1) !== SLASH) return false; // [MQTT-4.7.1-3]
      if (i < length - 1 && filter.charCodeAt(i + 1) !== SLASH) return false;
    }
  }
  return !utf8LengthExceeds(filter, MAX_STRING_BYTES);
}

/** More than {@link MAX_TOPIC_SEPARATORS} '/' in `topic` (counted without allocating). */
export function tooDeep(topic: string): boolean {
  if (topic.length <= MAX_TOPIC_SEPARATORS) return false;
  let separators = 0;
  for (let i = 0; i < topic.length; i++) {
    if (topic.charCodeAt(i) === SLASH && ++separators > MAX_TOPIC_SEPARATORS) return true;
  }
  return false;
}

/**
 * Splits a shared subscription filter `$share/{ShareName}/{filter}`.
 * Returns undefined when `filter` is not a shared filter (does not start with `$share/`); otherwise
 * `{ group, filter, valid }` where valid=false when the share name is empty or contains + or #, or the
 * filter part is missing or not a valid filter [MQTT-4.8.2-1] [MQTT-4.8.2-2].
 */
export function parseSharedFilter(filter: string): { group: string; filter: string; valid: boolean } | undefined {
  if (!filter.startsWith(SHARE_PREFIX)) return undefined;
  const slash = filter.indexOf('/', SHARE_PREFIX.length);
  if (slash === -1) return { group: filter.slice(SHARE_PREFIX.length), filter: '', valid: false };
  const group = filter.slice(SHARE_PREFIX.length, slash);
  const inner = filter.slice(slash + 1);
  const valid = group.length > 0 && group.indexOf('+') === -1 && group.indexOf('#') === -1 && // [MQTT-4.8.2-1]
    isValidTopicFilter(inner); // [MQTT-4.8.2-2]
  return { group, filter: inner, valid };
}

/**
 * `persistent_subscription CLIENT_ID FILTER QOS` (culex's own option, one line per filter): a
 * persistent session declared ahead of its client, so that messages are kept for it from the
 * moment the broker starts (src/workers/declaredSessions.ts creates it). Several lines may name
 * the same client; the same client and filter twice is refused, naming the first line.
 * called from: main (config load), tests
 */
import { ConfigError, OptionValueError } from './errors.ts';
import { parseIntegerToken, valueTokens } from './lineSyntax.ts';
import type { PersistentSubscription } from './types.ts';
import { isValidTopicFilter, parseSharedFilter } from '../protocol/topic.ts';
import { MAX_STRING_BYTES, utf8LengthExceeds } from '../protocol/utf8.ts';

interface At {
  readonly file: string;
  readonly line: number;
}

const USAGE = 'expected CLIENT_ID FILTER QOS';

/** Parses the text after the key. @throws OptionValueError */
export function parsePersistentSubscription(rest: string): PersistentSubscription {
  const tokens = valueTokens(rest);
  if (tokens.length < 3) {
    // the values are separated by blanks: an empty client id reads as a missing value
    throw new OptionValueError(`${tokens.length} of 3 values (${USAGE}${tokens.length === 0 ? '' : `, got '${tokens.join(' ')}'`})`);
  }
  if (tokens.length > 3) throw new OptionValueError(`unexpected text after the QoS: '${tokens.slice(3).join(' ')}' (${USAGE})`);
  const [clientId, filter, qosText] = tokens as [string, string, string];
  // a client id is a non-empty UTF-8 string of at most 65535 bytes without U+0000 [MQTT-1.5.4-2]
  if (clientId.includes('\0') || utf8LengthExceeds(clientId, MAX_STRING_BYTES)) {
    throw new OptionValueError(`invalid client id '${clientId}'`);
  }
  if (parseSharedFilter(filter) !== undefined) {
    throw new OptionValueError(`'${filter}': a shared subscription ($share/…) cannot be declared: it keeps no queue of its own`);
  }
  if (!isValidTopicFilter(filter)) throw new OptionValueError(`invalid topic filter '${filter}'`);
  let qos: number;
  try {
    qos = parseIntegerToken(qosText);
  } catch {
    throw new OptionValueError(`invalid QoS '${qosText}' (expected 0, 1 or 2)`);
  }
  if (qos < 0 || qos > 2) throw new OptionValueError(`invalid QoS ${qos} (expected 0, 1 or 2)`);
  return Object.freeze({ clientId, filter, qos: qos as 0 | 1 | 2 });
}

/** The persistent_subscription lines of one configuration, in file order. */
export class PersistentSubscriptionLines {
  private readonly seen = new Map<string, At>();
  private readonly list: PersistentSubscription[] = [];

  /** One line. @throws OptionValueError (bad value), ConfigError (a repeated client and filter) */
  add(at: At, rest: string): void {
    const sub = parsePersistentSubscription(rest);
    const key = `${sub.clientId}\0${sub.filter}`;
    const first = this.seen.get(key);
    if (first !== undefined) {
      throw new ConfigError(at.file, at.line, `persistent_subscription: ${sub.clientId} ${sub.filter} is already declared at ${first.file}:${first.line}`);
    }
    this.seen.set(key, at);
    this.list.push(sub);
  }

  /**
   * The declared subscriptions, frozen. A QoS above max_qos is lowered to it, as a SUBSCRIBE
   * would be granted, with a warning naming the line.
   */
  finish(maxQos: 0 | 1 | 2, warnings: string[]): readonly PersistentSubscription[] {
    const out = this.list.map((s) => {
      if (s.qos <= maxQos) return s;
      const at = this.seen.get(`${s.clientId}\0${s.filter}`)!;
      warnings.push(`${at.file}:${at.line}: persistent_subscription ${s.clientId} ${s.filter}: QoS ${s.qos} is above max_qos; using ${maxQos}`);
      return Object.freeze({ ...s, qos: maxQos });
    });
    return Object.freeze(out);
  }
}

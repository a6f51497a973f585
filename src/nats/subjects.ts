/**
 * MQTT topics and filters as NATS subjects (pure; no NATS import).
 *
 * A topic `a/b/c` becomes `culex.m.a.b.c`: one NATS token per MQTT level. A topic whose first
 * level starts with `$` goes under `culex.d.` instead, so that the subjects of `#` (`culex.m.>`)
 * and of a leading `+` (`culex.m.*…`) never match it, as in MQTT [MQTT-4.7.2-1].
 *
 * Escaping, reversible: NATS forbids in a token `.`, `*`, `>`, whitespace and the empty token.
 * Inside a level, `%`, `.`, `*`, `>` and every character at or below U+0020 or equal to U+007F
 * become `%XX` (two upper-case hex digits of the code); an empty level is the token `%` alone,
 * which no non-empty level can produce (a literal `%` is `%25`). Other characters, non-ASCII
 * included, pass as they are: NATS subjects are UTF-8 and split only on `.` and whitespace.
 *
 * A filter maps to the subjects whose union matches exactly the topics the filter matches
 * (the receiving worker matches its own topic tree again, so a superset would only cost
 * traffic): `+` → `*`; a trailing `#` → both the parent subject and `parent.>` (MQTT `a/#`
 * matches `a` too); `#` alone → `culex.m.>`.
 * called from: worker, tests
 */

/** subjects of topics that do not start with `$` */
export const TOPIC_PREFIX = 'culex.m.';
/** subjects of `$` topics ($SYS/…, …): reached only by filters whose first level is literal */
export const DOLLAR_PREFIX = 'culex.d.';

const HEX = '0123456789ABCDEF';

function mustEscape(c: number): boolean {
  // % . * > , control characters and space, DEL
  return c === 0x25 || c === 0x2e || c === 0x2a || c === 0x3e || c <= 0x20 || c === 0x7f;
}

/** One MQTT topic level as one NATS token. */
export function escapeLevel(level: string): string {
  if (level === '') return '%';
  let out: string | undefined;
  for (let i = 0; i < level.length; i++) {
    const c = level.charCodeAt(i);
    if (!mustEscape(c)) {
      if (out !== undefined) out += level[i];
      continue;
    }
    out ??= level.slice(0, i);
    out += '%' + HEX[c >> 4] + HEX[c & 15];
  }
  return out ?? level;
}

/** The level an escaped token stands for (inverse of escapeLevel). */
export function unescapeLevel(token: string): string {
  if (token === '%') return '';
  if (!token.includes('%')) return token;
  return token.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** The subject a message on `topic` is published to. */
export function topicSubject(topic: string): string {
  const levels = topic.split('/');
  let s = topic.charCodeAt(0) === 36 /* $ */ ? DOLLAR_PREFIX : TOPIC_PREFIX;
  for (let i = 0; i < levels.length; i++) s += (i === 0 ? '' : '.') + escapeLevel(levels[i]!);
  return s;
}

/** The MQTT topic of a subject made by topicSubject; undefined for any other subject. */
export function subjectTopic(subject: string): string | undefined {
  const prefix = subject.startsWith(TOPIC_PREFIX) ? TOPIC_PREFIX : subject.startsWith(DOLLAR_PREFIX) ? DOLLAR_PREFIX : undefined;
  if (prefix === undefined) return undefined;
  const topic = subject.slice(prefix.length).split('.').map(unescapeLevel).join('/');
  const dollar = topic.charCodeAt(0) === 36;
  return dollar === (prefix === DOLLAR_PREFIX) ? topic : undefined;
}

/**
 * The subjects to subscribe to for a (valid, unshared) MQTT filter: one, or two for a filter
 * ending in `/#`.
 */
export function filterSubjects(filter: string): string[] {
  const levels = filter.split('/');
  const first = levels[0]!;
  // a wildcard first level never matches a `$` topic; a literal one starting with `$` only those
  const prefix = first.charCodeAt(0) === 36 ? DOLLAR_PREFIX : TOPIC_PREFIX;
  if (levels.length === 1 && first === '#') return [TOPIC_PREFIX + '>'];
  const tokens: string[] = [];
  for (const level of levels) tokens.push(level === '+' ? '*' : level === '#' ? '>' : escapeLevel(level));
  const subject = prefix + tokens.join('.');
  if (tokens[tokens.length - 1] !== '>') return [subject];
  // `a/#` matches `a` too [MQTT-4.7.1-2]
  return [prefix + tokens.slice(0, -1).join('.'), subject];
}

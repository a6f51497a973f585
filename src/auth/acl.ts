/**
 * Mosquitto ACL files (`acl_file`) and the access check, with Mosquitto 2.0's semantics
 * (src/security.c acl__check_dollar + src/security_default.c mosquitto_acl_check_default,
 * cross-checked against mosquitto 2.0.11):
 *
 *   topic [read|write|readwrite|deny] TOPIC     (access defaults to readwrite)
 *   user NAME                                   (following topic lines are NAME's)
 *   pattern [read|write|readwrite|deny] TOPIC   (%c = client id, %u = username; all clients)
 *
 * `topic` lines before the first `user` line belong to anonymous clients. A check runs in
 * two phases, and the first decision wins:
 *   1. the client's own `topic` rules (its user's, or the anonymous ones): a matching deny
 *      refuses; a matching rule that grants the access allows;
 *   2. only if the file has patterns: a username or client id containing + or # is refused
 *      (CVE-2017-7650); then the patterns with %c/%u substituted as text (a client id with
 *      '/' spans levels, as in Mosquitto): deny refuses, a grant allows.
 * Nothing matched: refused. A client whose user has no rules and with no patterns in the
 * file is refused everything. Patterns using %u never match anonymous clients.
 * Before the file is consulted (and also without any acl_file): publishing to `$SYS/…` is
 * refused except `$SYS/broker/connection/+/state`, and publishing to `$share/…` is refused.
 * A rule not starting with `$` never matches a topic starting with `$` (`#` does not cover
 * `$SYS`). SUBSCRIBE and UNSUBSCRIBE are always allowed: Mosquitto 2.0's acl_file does not judge
 * them (security_default.c: "FIXME - implement ACL subscription strings"); every
 * delivered message is checked for `read` instead, retained ones included.
 *
 * Hot path: aclCheck allocates nothing after a client's first check. Rules are validated and
 * kept as filter strings matched in place; patterns are substituted once per (client, Acl)
 * and cached on the client object.
 * called from: main (parse, on start and reload), worker (aclCheck, per PUBLISH and delivery)
 */
import { ConfigError } from '../config/errors.ts';
import { filterCovers, filtersOverlap } from './filterOverlap.ts';

/** Access bits, as Mosquitto's MOSQ_ACL_READ / MOSQ_ACL_WRITE; 0 = deny. */
const READ = 1;
const WRITE = 2;

interface Rule {
  readonly filter: string;
  /** READ | WRITE bits; 0 = deny */
  readonly access: number;
}

interface PatternRule extends Rule {
  readonly usesClientId: boolean;
  readonly usesUsername: boolean;
}

/**
 * A parsed ACL file. Opaque: use aclCheck. Immutable (a reload makes a new one) and plain
 * data, so it can be posted to a worker (structured clone) as well as parsed there.
 */
export interface Acl {
  /** `topic` lines before any `user` line (deny rules first) */
  readonly anonymous: readonly Rule[] | undefined;
  /** per-username rules (deny rules first) */
  readonly users: ReadonlyMap<string, readonly Rule[]>;
  /** `pattern` lines (deny rules first) */
  readonly patterns: readonly PatternRule[];
  /** notes for the operator, `file:line: message` (e.g. a pattern without %c or %u) */
  readonly warnings: readonly string[];
}

/** The identity an access check is made for. */
export interface AclClient {
  readonly clientId: string;
  /** undefined = anonymous */
  readonly username?: string;
}

export type AclAccess = 'read' | 'write' | 'subscribe' | 'unsubscribe';

interface ClientPatterns {
  readonly clientId: string;
  readonly username: string | undefined;
  /** a + or # in the username or client id: patterns refuse everything */
  readonly dangerous: boolean;
  /** substituted filters, parallel to acl.patterns; undefined = not applicable (%u, anonymous) */
  readonly filters: readonly (string | undefined)[];
}

const ACCESS_WORDS: Readonly<Record<string, number>> = { read: READ, write: WRITE, readwrite: READ | WRITE, deny: 0 };

/** Is `filter` a valid subscription filter (Mosquitto's mosquitto_sub_topic_check)? */
export function isValidFilter(filter: string): boolean {
  if (filter.length === 0 || filter.length > 65535) return false;
  for (let i = 0; i < filter.length; i++) {
    const c = filter.charCodeAt(i);
    if (c === 0x2b /* + */) {
      if ((i > 0 && filter.charCodeAt(i - 1) !== 0x2f) || (i + 1 < filter.length && filter.charCodeAt(i + 1) !== 0x2f)) {
        return false;
      }
    } else if (c === 0x23 /* # */) {
      if ((i > 0 && filter.charCodeAt(i - 1) !== 0x2f) || i + 1 !== filter.length) return false;
    } else if (c === 0) {
      return false;
    }
  }
  return true;
}

/** Puts deny rules first, keeping file order otherwise (Mosquitto's add__acl). */
function denyFirst<T extends Rule>(rules: T[]): T[] {
  return [...rules.filter((r) => r.access === 0), ...rules.filter((r) => r.access !== 0)];
}

/**
 * Parses an ACL file. `file` names it in errors.
 * @throws ConfigError naming the line of an invalid access word, topic or line.
 */
export function parseAclFile(text: string, file: string): Acl {
  let anonymous: Rule[] | undefined;
  const users = new Map<string, Rule[]>();
  const patterns: PatternRule[] = [];
  const warnings: string[] = [];
  let currentUser: string | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.replace(/\s+$/, '');
    if (line.startsWith('#')) continue;
    const trimmed = line.replace(/^[ \t]+/, '');
    if (trimmed === '') continue;
    const keyMatch = /^(\S+)(?:[ \t]+(.*))?$/.exec(trimmed)!;
    const keyword = keyMatch[1]!;
    const rest = keyMatch[2] ?? '';
    if (keyword === 'user') {
      if (rest === '') throw new ConfigError(file, lineNo, 'missing username after user');
      currentUser = rest;
      continue;
    }
    if (keyword !== 'topic' && keyword !== 'pattern') {
      throw new ConfigError(file, lineNo, `invalid line (expected topic, pattern or user): '${trimmed}'`);
    }
    const { access, filter } = parseRuleValue(rest, file, lineNo, keyword);
    if (keyword === 'pattern') {
      const usesClientId = filter.includes('%c');
      const usesUsername = filter.includes('%u');
      if (!usesClientId && !usesUsername) {
        warnings.push(`${file}:${lineNo}: pattern '${filter}' contains neither %c nor %u`);
      }
      patterns.push({ filter, access, usesClientId, usesUsername });
    } else if (currentUser === undefined) {
      (anonymous ??= []).push({ filter, access });
    } else {
      let list = users.get(currentUser);
      if (list === undefined) users.set(currentUser, (list = []));
      list.push({ filter, access });
    }
  }
  const sortedUsers = new Map<string, readonly Rule[]>();
  for (const [name, rules] of users) sortedUsers.set(name, Object.freeze(denyFirst(rules)));
  return Object.freeze({
    anonymous: anonymous === undefined ? undefined : Object.freeze(denyFirst(anonymous)),
    users: sortedUsers,
    patterns: Object.freeze(denyFirst(patterns)),
    warnings: Object.freeze(warnings),
  });
}

/** `[access] TOPIC`; a lone word is the topic with readwrite access (Mosquitto). */
function parseRuleValue(rest: string, file: string, lineNo: number, keyword: string): { access: number; filter: string } {
  const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(rest);
  if (m === null) throw new ConfigError(file, lineNo, `empty ${keyword}`);
  let access = READ | WRITE;
  let filter = m[1]!;
  if (m[2] !== undefined && m[2] !== '') {
    const word = ACCESS_WORDS[m[1]!];
    if (word === undefined) {
      throw new ConfigError(file, lineNo, `invalid access '${m[1]}' (expected read, write, readwrite or deny)`);
    }
    access = word;
    filter = m[2].trim();
  }
  if (!isValidFilter(filter)) throw new ConfigError(file, lineNo, `invalid ${keyword} filter '${filter}'`);
  return { access, filter };
}

/**
 * MQTT topic matching (Mosquitto's mosquitto_topic_matches_sub): `+` one level, `#` the rest
 * including the parent level (`a/#` matches `a`), and a filter and a topic match only when
 * both or neither start with `$`. Walks both strings in place; allocates nothing. With `who`,
 * a whole level `%c` / `%u` matches that client's id / username (dynamic security patterns).
 */
export function topicMatchesFilter(filter: string, topic: string, who?: { readonly clientId: string; readonly username: string | undefined }): boolean {
  const fl = filter.length;
  const tl = topic.length;
  if (fl === 0 || tl === 0) return false;
  if ((filter.charCodeAt(0) === 0x24) !== (topic.charCodeAt(0) === 0x24)) return false;
  let f = 0;
  let t = 0;
  for (;;) {
    let fEnd = filter.indexOf('/', f);
    if (fEnd === -1) fEnd = fl;
    if (fEnd - f === 1 && filter.charCodeAt(f) === 0x23) return true; // '#'
    let tEnd = topic.indexOf('/', t);
    if (tEnd === -1) tEnd = tl;
    const n = fEnd - f;
    if (who !== undefined && n === 2 && filter.charCodeAt(f) === 0x25 /* % */ && (filter.charCodeAt(f + 1) === 0x63 || filter.charCodeAt(f + 1) === 0x75)) {
      // a whole level `%c` / `%u` (dynamic security): the client id / username, never empty
      const value = filter.charCodeAt(f + 1) === 0x63 ? who.clientId : who.username;
      if (value === undefined || value.length === 0 || value.length !== tEnd - t || !topic.startsWith(value, t)) return false;
    } else if (!(n === 1 && filter.charCodeAt(f) === 0x2b /* + */)) {
      if (n !== tEnd - t) return false;
      for (let k = 0; k < n; k++) if (filter.charCodeAt(f + k) !== topic.charCodeAt(t + k)) return false;
    }
    const filterDone = fEnd >= fl;
    const topicDone = tEnd >= tl;
    if (filterDone) return topicDone;
    if (topicDone) return fl - fEnd === 2 && filter.charCodeAt(fEnd + 1) === 0x23; // 'a/#' matches 'a'
    f = fEnd + 1;
    t = tEnd + 1;
  }
}

/**
 * May a subscription to `filter` ever deliver anything? Refused when a deny rule that decides
 * first takes every topic of the filter, or when no read rule grants any topic it can match.
 * Deliveries are still checked one by one ('read'); this only tells a client at SUBSCRIBE that
 * nothing would come (SUBACK 0x80 / v5 0x87).
 */
function mayReadAny(acl: Acl, client: AclClient, filter: string): boolean {
  const own = client.username === undefined ? acl.anonymous : acl.users.get(client.username);
  if (own !== undefined) {
    for (const rule of own) {
      if (rule.access === 0 && filterCovers(rule.filter, filter)) return false;
    }
    for (const rule of own) if ((rule.access & READ) !== 0 && filtersOverlap(rule.filter, filter)) return true;
  }
  if (acl.patterns.length === 0) return false;
  const mine = patternsFor(acl, client);
  if (mine.dangerous) return false;
  for (let i = 0; i < acl.patterns.length; i++) {
    const f = mine.filters[i];
    if (f === undefined) continue;
    if (acl.patterns[i]!.access === 0 && filterCovers(f, filter)) return false;
    if ((acl.patterns[i]!.access & READ) !== 0 && filtersOverlap(f, filter)) return true;
  }
  return false;
}

/** The filter of `$share/group/filter`; any other filter as it is. */
function sharedInner(filter: string): string {
  if (!filter.startsWith('$share/')) return filter;
  const slash = filter.indexOf('/', 7);
  return slash === -1 ? filter : filter.slice(slash + 1);
}

/** acl__check_dollar: what no client may do, whatever the ACL says. */
function dollarAllowed(topic: string, write: boolean): boolean {
  if (topic.charCodeAt(0) !== 0x24) return true;
  if (topic.startsWith('$SYS')) return !write || topicMatchesFilter('$SYS/broker/connection/+/state', topic);
  if (topic.startsWith('$share')) return false;
  return true;
}

/** 1 = allowed, -1 = refused, 0 = no rule decided. Deny rules come first in every list. */
function decide(rules: readonly Rule[], topic: string, bit: number): number {
  const dollar = topic.charCodeAt(0) === 0x24;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (dollar && rule.filter.charCodeAt(0) !== 0x24) continue;
    if (!topicMatchesFilter(rule.filter, topic)) continue;
    if (rule.access === 0) return -1;
    if ((rule.access & bit) !== 0) return 1;
  }
  return 0;
}

function substitute(filter: string, clientId: string, username: string | undefined): string {
  let out = '';
  for (let i = 0; i < filter.length; i++) {
    const c = filter[i]!;
    if (c === '%' && i + 1 < filter.length) {
      const next = filter[i + 1];
      if (next === 'c') {
        out += clientId;
        i++;
        continue;
      }
      if (next === 'u' && username !== undefined) {
        out += username;
        i++;
        continue;
      }
    }
    out += c;
  }
  return out;
}

/** Substituted patterns per Acl, per client object. Kept off the Acl so that it stays cloneable. */
const patternCaches = new WeakMap<Acl, WeakMap<object, ClientPatterns>>();
let lastAcl: Acl | undefined;
let lastCache: WeakMap<object, ClientPatterns> | undefined;

function cacheOf(acl: Acl): WeakMap<object, ClientPatterns> {
  if (acl === lastAcl) return lastCache!;
  let cache = patternCaches.get(acl);
  if (cache === undefined) patternCaches.set(acl, (cache = new WeakMap()));
  lastAcl = acl;
  lastCache = cache;
  return cache;
}

/** The patterns of `acl` with this client's id and username substituted (cached per client object). */
function patternsFor(acl: Acl, client: AclClient): ClientPatterns {
  const cache = cacheOf(acl);
  const cached = cache.get(client);
  if (cached !== undefined && cached.clientId === client.clientId && cached.username === client.username) {
    return cached;
  }
  const { clientId, username } = client;
  const entry: ClientPatterns = {
    clientId,
    username,
    dangerous: /[+#]/.test(clientId) || (username !== undefined && /[+#]/.test(username)),
    filters: acl.patterns.map((p) =>
      p.usesUsername && username === undefined ? undefined : substitute(p.filter, clientId, username),
    ),
  };
  cache.set(client, entry);
  return entry;
}

/**
 * May `client` do `access` on `topic`? `acl` undefined = no acl_file (everything allowed,
 * except the `$SYS`/`$share` publish rule). For `read`, pass the topic of each message about
 * to be delivered; for `write`, the PUBLISH topic; for `subscribe`/`unsubscribe`, the filter.
 * Pure and synchronous; pass the same client object each time to reuse its substituted patterns.
 */
export function aclCheck(acl: Acl | undefined, client: AclClient, topic: string, access: AclAccess): boolean {
  if (access === 'unsubscribe') return true;
  // a shared subscription reads what its filter matches: `$share/group/` is not part of a topic
  if (access === 'subscribe') return acl === undefined || mayReadAny(acl, client, sharedInner(topic));
  const write = access === 'write';
  if (!dollarAllowed(topic, write)) return false;
  if (acl === undefined) return true;
  const bit = write ? WRITE : READ;
  const own = client.username === undefined ? acl.anonymous : acl.users.get(client.username);
  if (own === undefined && acl.patterns.length === 0) return false;
  if (own !== undefined) {
    const verdict = decide(own, topic, bit);
    if (verdict !== 0) return verdict > 0;
  }
  if (acl.patterns.length === 0) return false;
  const mine = patternsFor(acl, client);
  if (mine.dangerous) return false;
  const patterns = acl.patterns;
  for (let i = 0; i < patterns.length; i++) {
    const filter = mine.filters[i];
    if (filter === undefined || !topicMatchesFilter(filter, topic)) continue;
    if (patterns[i]!.access === 0) return false;
    if ((patterns[i]!.access & bit) !== 0) return true;
  }
  return false;
}

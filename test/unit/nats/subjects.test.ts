/**
 * MQTT topics and filters as NATS subjects (src/nats/subjects.ts): valid tokens, reversible
 * escaping, and filter subjects that match exactly the topics the MQTT filter matches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeLevel, filterSubjects, subjectTopic, topicSubject, unescapeLevel } from '../../../src/nats/subjects.ts';
import { topicMatchesFilter } from '../../../src/auth/acl.ts';

/** NATS's own subject match: `*` one token, `>` one or more at the end. */
function natsMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** What NATS refuses in a token of a published subject. */
function validToken(token: string): boolean {
  return token !== '' && !/[\s.*>]/.test(token);
}

test('plain topics map level by level under culex.m., $ topics under culex.d.', () => {
  assert.equal(topicSubject('a/b/c'), 'culex.m.a.b.c');
  assert.equal(topicSubject('$SYS/broker/uptime'), 'culex.d.$SYS.broker.uptime');
  assert.equal(topicSubject('a/$b'), 'culex.m.a.$b');
  assert.equal(topicSubject('/'), 'culex.m.%.%');
  assert.equal(topicSubject('a.b/c d/*/>/%'), 'culex.m.a%2Eb.c%20d.%2A.%3E.%25');
});

test('escaping is reversible for every awkward level', () => {
  const levels = ['', '%', '%%', '.', '..', '*', '>', ' ', '\t', '\u007f', 'a b', 'é', '日本', 'x%2Ey', '%25', 'a.b*c>d', '$', '%00'];
  for (const level of levels) {
    const token = escapeLevel(level);
    assert.ok(validToken(token), `${JSON.stringify(level)} → ${JSON.stringify(token)} is not a valid token`);
    assert.equal(unescapeLevel(token), level);
  }
  const topics = ['a', 'a/b', '/a', 'a/', '//', '$SYS/x', 'a.b/c', ' /%/.', 'é/日本/x y', '$', 'a/$'];
  for (const topic of topics) {
    const subject = topicSubject(topic);
    assert.ok(subject.split('.').every(validToken), subject);
    assert.equal(subjectTopic(subject), topic);
  }
  assert.equal(subjectTopic('other.a.b'), undefined);
  // a `$` topic under the plain prefix is no subject of ours
  assert.equal(subjectTopic('culex.m.$SYS'), undefined);
});

test('filters: + → *, # → >, a/# also its parent, # never reaches $ topics', () => {
  assert.deepEqual(filterSubjects('a/+/c'), ['culex.m.a.*.c']);
  assert.deepEqual(filterSubjects('#'), ['culex.m.>']);
  assert.deepEqual(filterSubjects('+'), ['culex.m.*']);
  assert.deepEqual(filterSubjects('a/#'), ['culex.m.a', 'culex.m.a.>']);
  assert.deepEqual(filterSubjects('$SYS/#'), ['culex.d.$SYS', 'culex.d.$SYS.>']);
  assert.deepEqual(filterSubjects('a.b/+'), ['culex.m.a%2Eb.*']);
});

test('[MQTT-4.7.2-1] the filter subjects match exactly the topics the MQTT filter matches', () => {
  const topics = ['a', 'a/b', 'a/b/c', '/', '/a', 'a/', 'b/a', '$SYS', '$SYS/x', '$SYS/x/y', 'a/$x', 'x.y/z', 'a b/c', '%/c', 'é/c'];
  const filters = ['#', '+', '+/+', 'a/#', 'a/+', '+/a', '/#', '+/#', 'a/+/c', '$SYS/#', '$SYS/+', '+/+/+', 'x.y/#', 'a b/+', '%/c', 'é/#', 'a/b/c/#', '$SYS'];
  for (const filter of filters) {
    const subjects = filterSubjects(filter);
    for (const topic of topics) {
      const mqtt = topicMatchesFilter(filter, topic);
      const nats = subjects.some((s) => natsMatches(s, topicSubject(topic)));
      assert.equal(nats, mqtt, `filter ${filter} vs topic ${topic}`);
      // never two of a filter's subjects for one topic: a message is not received twice through one filter
      assert.ok(subjects.filter((s) => natsMatches(s, topicSubject(topic))).length <= 1, `${filter} ${topic}`);
    }
  }
});

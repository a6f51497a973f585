import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { aclCheck, isValidFilter, parseAclFile, topicMatchesFilter } from '../../../src/auth/acl.ts';
import type { ConfigError } from '../../../src/config/errors.ts';
import { expectConfigError } from '../config/expectConfigError.ts';
import { ACL_CASES, ACL_TEXT } from './aclTable.ts';

describe('topic matching (cases from Mosquitto test/unit/util_topic_test.c)', () => {
  const matching: [string, string][] = [
    ['foo/#', 'foo/'],
    ['foo/#', 'foo'],
    ['foo//bar', 'foo//bar'],
    ['foo//+', 'foo//bar'],
    ['foo/+/+/baz', 'foo///baz'],
    ['foo/bar/+', 'foo/bar/'],
    ['foo/bar', 'foo/bar'],
    ['foo/+', 'foo/bar'],
    ['foo/+/baz', 'foo/bar/baz'],
    ['A/B/+/#', 'A/B/B/C'],
    ['foo/+/#', 'foo/bar/baz'],
    ['foo/+/#', 'foo/bar'],
    ['#', 'foo/bar/baz'],
    ['#', '/foo/bar'],
    ['/#', '/foo/bar'],
    ['$SYS/#', '$SYS/broker/uptime'],
    ['$SYS/broker/connection/+/state', '$SYS/broker/connection/b1/state'],
  ];
  for (const [filter, topic] of matching) {
    test(`'${filter}' matches '${topic}'`, () => assert.equal(topicMatchesFilter(filter, topic), true));
  }
  const notMatching: [string, string][] = [
    ['test/6/#', 'test/3'],
    ['foo/bar', 'foo'],
    ['foo/+', 'foo/bar/baz'],
    ['foo/+/baz', 'foo/bar/bar'],
    ['foo/+/#', 'fo2/bar/baz'],
    ['/#', 'foo/bar'],
    ['#', '$SYS/bar'],
    ['$BOB/bar', '$SYS/bar'],
    ['+/bar', '$SYS/bar'],
    ['foo/+', 'foo'],
    ['foo', 'foo/bar'],
    ['foo/bar', 'foo/bar/'],
    ['foo', 'fo'],
    ['fo', 'foo'],
  ];
  for (const [filter, topic] of notMatching) {
    test(`'${filter}' does not match '${topic}'`, () => assert.equal(topicMatchesFilter(filter, topic), false));
  }

  test('valid and invalid filters (mosquitto_sub_topic_check)', () => {
    for (const ok of ['#', '+', 'a/+/b', 'a/#', '/', '//', '+/+', 'a//b', '$SYS/#', '%c/x', 'a b/c']) {
      assert.equal(isValidFilter(ok), true, ok);
    }
    for (const bad of ['', 'a#', 'a/#/b', '#/a', 'a+', '+a', 'a/b+/c', 'a/+b', 'a\u0000b']) {
      assert.equal(isValidFilter(bad), false, bad);
    }
  });
});

describe('parseAclFile', () => {
  const refusal = (text: string): ConfigError => expectConfigError(() => parseAclFile(text, 'acl'));

  test('an invalid access word names the line', () => {
    const err = refusal('# c\n\ntopic readonly a/b\n');
    assert.equal(err.line, 3);
    assert.equal(err.message, "acl:3: invalid access 'readonly' (expected read, write, readwrite or deny)");
  });

  test('an invalid filter names the line', () => {
    assert.match(refusal('user u\ntopic read a/#/b').message, /^acl:2: invalid topic filter 'a\/#\/b'/);
    assert.match(refusal('pattern write %c/+x').message, /^acl:1: invalid pattern filter/);
  });

  test('an unknown keyword and a user without name are refused', () => {
    assert.match(refusal('topic read a\ngroup admins\n').message, /^acl:2: invalid line/);
    assert.match(refusal('user\n').message, /^acl:1: missing username/);
    assert.match(refusal('topic\n').message, /^acl:1: empty topic/);
  });

  test("'topic WORD' alone is a readwrite rule on topic WORD (Mosquitto)", () => {
    const acl = parseAclFile('topic read\n', 'acl');
    const anon = { clientId: 'x' };
    assert.equal(aclCheck(acl, anon, 'read', 'write'), true);
    assert.equal(aclCheck(acl, anon, 'read', 'read'), true);
  });

  test('topics may contain spaces; tabs, CRLF and indentation are accepted', () => {
    const acl = parseAclFile('user u\r\n  topic\tread  my topic/with space \r\n', 'acl');
    assert.equal(aclCheck(acl, { clientId: 'c', username: 'u' }, 'my topic/with space', 'read'), true);
  });

  test('a pattern without %c or %u gives a warning', () => {
    const acl = parseAclFile('pattern read a/b\npattern read %c/b\n', 'acl');
    assert.deepEqual(acl.warnings, ["acl:1: pattern 'a/b' contains neither %c nor %u"]);
  });

  test('a user block may be reopened; its rules add up', () => {
    const acl = parseAclFile('user u\ntopic read a\nuser v\ntopic read b\nuser u\ntopic read c\n', 'acl');
    const u = { clientId: 'c', username: 'u' };
    assert.equal(aclCheck(acl, u, 'a', 'read'), true);
    assert.equal(aclCheck(acl, u, 'c', 'read'), true);
    assert.equal(aclCheck(acl, u, 'b', 'read'), false);
  });
});

describe('aclCheck: Mosquitto 2.0 decisions', () => {
  const acl = parseAclFile(ACL_TEXT, 'acl');
  for (const c of ACL_CASES) {
    test(`${c.username ?? 'anonymous'} (${c.clientId}) ${c.access} ${c.topic}: ${c.allowed ? 'allowed' : 'refused'} — ${c.why}`, () => {
      const client = c.username === undefined ? { clientId: c.clientId } : { clientId: c.clientId, username: c.username };
      assert.equal(aclCheck(acl, client, c.topic, c.access), c.allowed);
    });
  }

  test('a user rule that grants wins before a pattern deny is looked at (phase order)', () => {
    const a = parseAclFile('user u\ntopic readwrite #\npattern deny secret/%u\n', 'acl');
    assert.equal(aclCheck(a, { clientId: 'c', username: 'u' }, 'secret/u', 'write'), true);
    assert.equal(aclCheck(a, { clientId: 'c', username: 'v' }, 'secret/v', 'write'), false);
  });

  test('a + or # in the client id or username refuses every pattern (CVE-2017-7650)', () => {
    const a = parseAclFile('user u+\ntopic read own\npattern readwrite %c/#\npattern readwrite %u/#\n', 'acl');
    assert.equal(aclCheck(a, { clientId: 'c#' }, 'c#/x', 'read'), false);
    assert.equal(aclCheck(a, { clientId: '+' }, 'x/y', 'read'), false);
    assert.equal(aclCheck(a, { clientId: 'ok', username: 'u+' }, 'ok/x', 'read'), false);
    // …but the user's own rules are checked first.
    assert.equal(aclCheck(a, { clientId: 'ok', username: 'u+' }, 'own', 'read'), true);
  });

  test('a user without rules and a file without patterns: everything refused', () => {
    const a = parseAclFile('user u\ntopic read a\n', 'acl');
    assert.equal(aclCheck(a, { clientId: 'c', username: 'stranger' }, 'a', 'read'), false);
    assert.equal(aclCheck(a, { clientId: 'c' }, 'a', 'read'), false);
  });

  test('$ topics need a rule that starts with $', () => {
    const a = parseAclFile('topic read #\ntopic read $SYS/broker/#\n', 'acl');
    const anon = { clientId: 'c' };
    assert.equal(aclCheck(a, anon, '$SYS/broker/uptime', 'read'), true);
    assert.equal(aclCheck(a, anon, '$SYS/other', 'read'), false);
    assert.equal(aclCheck(a, anon, 'x/y', 'read'), true);
  });

  test('subscribe is refused when the ACL grants read on nothing the filter can match; deliveries are still checked one by one', () => {
    const a = parseAclFile('user u\ntopic read a/b\ntopic deny a/secret/#\ntopic read a/#\npattern read p/%c/#\n', 'acl');
    const u = { clientId: 'c', username: 'u' };
    for (const filter of ['#', 'a/+', 'a/b', '+/b', 'a', 'a/x/y', 'p/c/z', 'p/+/z']) assert.equal(aclCheck(a, u, filter, 'subscribe'), true, filter);
    for (const filter of ['c/d', '$SYS/#', 'b/#', 'a/secret/x', 'a/secret/#', 'p/other/z']) assert.equal(aclCheck(a, u, filter, 'subscribe'), false, filter);
    // '#' is granted, but what it delivers is only what read allows
    assert.equal(aclCheck(a, u, 'a/b', 'read'), true);
    assert.equal(aclCheck(a, u, 'c/d', 'read'), false);
    assert.equal(aclCheck(a, u, 'a/secret/x', 'read'), false);
    const anon = { clientId: 'anon' };
    assert.equal(aclCheck(a, anon, 'a/b', 'subscribe'), false, 'no rules for anonymous clients');
  });

  test('without an acl_file everything is allowed except publishing to $SYS and $share', () => {
    const anon = { clientId: 'c' };
    assert.equal(aclCheck(undefined, anon, 'a/b', 'write'), true);
    assert.equal(aclCheck(undefined, anon, '$SYS/broker/uptime', 'read'), true);
    assert.equal(aclCheck(undefined, anon, '$SYS/x', 'write'), false);
    assert.equal(aclCheck(undefined, anon, '$share/g/t', 'write'), false);
    assert.equal(aclCheck(undefined, anon, '$SYS/broker/connection/b/state', 'write'), true);
  });

  test('the same client object reuses its substituted patterns; a changed identity is noticed', () => {
    const a = parseAclFile('pattern read %c/#\n', 'acl');
    const client = { clientId: 'one' };
    assert.equal(aclCheck(a, client, 'one/x', 'read'), true);
    assert.equal(aclCheck(a, client, 'one/y', 'read'), true);
    client.clientId = 'two';
    assert.equal(aclCheck(a, client, 'one/x', 'read'), false);
    assert.equal(aclCheck(a, client, 'two/x', 'read'), true);
  });

  test('an Acl survives structured cloning (posted to a worker) with the same decisions', () => {
    const original = parseAclFile(ACL_TEXT, 'acl');
    const copy = structuredClone(original);
    for (const c of ACL_CASES) {
      const client = c.username === undefined ? { clientId: c.clientId } : { clientId: c.clientId, username: c.username };
      assert.equal(aclCheck(copy, client, c.topic, c.access), c.allowed, `${c.username} ${c.topic}`);
    }
  });
});

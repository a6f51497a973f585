/**
 * The dynamic security ACL check (Mosquitto's plugins/dynamic-security/acl.c and
 * sub_matches_sub.c), over snapshots compiled from states built with the file format.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ALLOW, DEFER, DENY, dynsecVerdict, subscriptionMatchesAcl, topicMatchesPattern } from '../../../../src/auth/dynsec/aclEval.ts';
import { DynsecAuthorizer } from '../../../../src/auth/dynsec/authorizer.ts';
import { parseDynsecFile } from '../../../../src/auth/dynsec/configFile.ts';
import { compileSnapshot, type DynsecSnapshot } from '../../../../src/auth/dynsec/snapshot.ts';
import { aclCheck, parseAclFile } from '../../../../src/auth/acl.ts';

function snapshotOf(file: object): DynsecSnapshot {
  return compileSnapshot(parseDynsecFile(JSON.stringify(file), 'f.json'));
}

const acl = (acltype: string, topic: string, allow: boolean, priority = 0) => ({ acltype, topic, allow, priority });

describe('subscription patterns (sub_matches_sub.c, its own test table)', () => {
  const cases: [acl: string, sub: string, expected: boolean][] = [
    ['foo/+/bar', 'foo/#', false],
    ['foo/+/ba℞/#', 'foo/baz/ba℞', true],
    ['foo/+/ba℞/#', 'foo/baz/ba℞/+', true],
    ['foo/+/ba℞/#', 'foo/baz/ba℞/#', true],
    ['foo/+/ba℞/#', 'foo/baz/+/#', false],
    ['/+//#', '/foo///#', true],
    ['#', '#', true],
    ['#', '+', true],
    ['/#', '+', false],
    ['/#', '/+', true],
    ['/+', '#', false],
    ['/+', '+', false],
    ['+/+', 'topic/topic', true],
    ['+/+', 'topic/topic/', false],
    ['+', '#', false],
    ['+', '+', true],
    ['a/b/c/d/e', 'a/b/c/d/e', true],
    ['a/b/ /d/e', 'a/b/c/d/e', false],
    ['a/#', 'a', true],
    ['#', '$SYS/#', true],
  ];
  for (const [a, s, expected] of cases) {
    test(`ACL '${a}' ${expected ? 'covers' : 'does not cover'} subscription '${s}'`, () => {
      assert.equal(subscriptionMatchesAcl(a, s), expected);
    });
  }
});

describe('publish ACLs with %c / %u (Mosquitto after 2.0.11: whole levels only)', () => {
  const cases: [filter: string, topic: string, clientId: string, username: string | undefined, expected: boolean][] = [
    ['pattern/%c/topic/#', 'pattern/dev1/topic/x', 'dev1', 'u', true],
    ['pattern/%c/topic/#', 'pattern/dev2/topic/x', 'dev1', 'u', false],
    ['pattern/%u/#', 'pattern/bob', 'c', 'bob', true],
    ['pattern/%u/#', 'pattern/bob/a/b', 'c', 'bob', true],
    ['pattern/%u', 'pattern/bob', 'c', undefined, false],
    ['pattern/%u', 'pattern/', 'c', '', false],
    ['pattern/%c', 'pattern/a/b', 'a/b', 'u', false],
    ['pattern/x%c', 'pattern/xdev', 'dev', 'u', false],
    ['pattern/x%c', 'pattern/x%c', 'dev', 'u', true],
    ['+/%c/+', 'a/dev/b', 'dev', 'u', true],
    ['%c/#', '$SYS/x', '$SYS', 'u', false],
  ];
  for (const [filter, topic, clientId, username, expected] of cases) {
    test(`'${filter}' ${expected ? 'matches' : 'does not match'} '${topic}' for ${clientId}/${username}`, () => {
      assert.equal(topicMatchesPattern(filter, topic, clientId, username), expected);
    });
  }
});

describe('the verdict', () => {
  const roles = [
    { rolename: 'high', acls: [acl('publishClientSend', 'a/secret', false, 10), acl('publishClientSend', 'a/#', true, 1)] },
    { rolename: 'low', acls: [acl('publishClientSend', 'a/secret', true), acl('publishClientSend', 'b/#', true)] },
    { rolename: 'group', acls: [acl('publishClientSend', 'b/deny', false), acl('publishClientSend', 'c/#', true), acl('publishClientReceive', 'c/hidden', false)] },
    { rolename: 'subs', acls: [acl('subscribeLiteral', 's/exact', false), acl('subscribePattern', 's/#', true), acl('unsubscribeLiteral', 's/keep', false)] },
    { rolename: 'anon', acls: [acl('publishClientSend', 'public/#', true), acl('publishClientSend', '$CONTROL/dynamic-security/#', true)] },
    { rolename: 'own', acls: [acl('publishClientSend', 'devices/%c/#', true), acl('publishClientReceive', 'users/%u/#', true)] },
  ];
  const s = snapshotOf({
    defaultACLAccess: { publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true },
    roles,
    clients: [
      { username: 'u', roles: [{ rolename: 'low' }, { rolename: 'high', priority: 5 }, { rolename: 'subs' }, { rolename: 'own' }] },
      { username: 'plain' },
    ],
    groups: [{ groupname: 'g', roles: [{ rolename: 'group' }], clients: [{ username: 'u' }] }, { groupname: 'anonymous', roles: [{ rolename: 'anon' }] }],
    anonymousGroup: 'anonymous',
  });

  test('client roles by priority, first matching ACL by priority decides', () => {
    assert.equal(dynsecVerdict(s, 'c', 'u', 'a/secret', 'write'), DENY); // high (5) before low (-1)
    assert.equal(dynsecVerdict(s, 'c', 'u', 'a/other', 'write'), ALLOW);
    assert.equal(dynsecVerdict(s, 'c', 'u', 'b/deny', 'write'), ALLOW); // the client's own role before the group's
  });

  test("group roles after the client's roles", () => {
    assert.equal(dynsecVerdict(s, 'c', 'u', 'c/x', 'write'), ALLOW);
    assert.equal(dynsecVerdict(s, 'c', 'u', 'c/hidden', 'read'), DENY);
  });

  test('nothing matched: the default access allows, or gives no opinion', () => {
    assert.equal(dynsecVerdict(s, 'c', 'u', 'elsewhere', 'write'), DEFER);
    assert.equal(dynsecVerdict(s, 'c', 'u', 'elsewhere', 'read'), ALLOW);
    assert.equal(dynsecVerdict(s, 'c', 'plain', 'x', 'subscribe'), DEFER);
    assert.equal(dynsecVerdict(s, 'c', 'plain', 'x', 'unsubscribe'), ALLOW);
  });

  test('the default access never opens $CONTROL topics: they must be granted explicitly', () => {
    assert.equal(dynsecVerdict(s, 'c', 'plain', '$CONTROL/dynamic-security/v1/response', 'read'), DEFER);
    assert.equal(dynsecVerdict(s, 'c', 'plain', '$SYS/broker/uptime', 'read'), ALLOW);
  });

  test('a user name the plugin does not know gets no opinion at all, default access included', () => {
    assert.equal(dynsecVerdict(s, 'c', 'stranger', 'elsewhere', 'read'), DEFER);
  });

  test('anonymous clients get the anonymous group', () => {
    assert.equal(dynsecVerdict(s, 'c', undefined, 'public/x', 'write'), ALLOW);
    assert.equal(dynsecVerdict(s, 'c', undefined, '$CONTROL/dynamic-security/v1', 'write'), ALLOW);
    assert.equal(dynsecVerdict(s, 'c', undefined, 'a/other', 'write'), DEFER);
  });

  test('subscribeLiteral is looked up before subscribePattern in each role; unsubscribe has its own lists', () => {
    assert.equal(dynsecVerdict(s, 'c', 'u', 's/exact', 'subscribe'), DENY);
    assert.equal(dynsecVerdict(s, 'c', 'u', 's/other', 'subscribe'), ALLOW);
    assert.equal(dynsecVerdict(s, 'c', 'u', 's/+', 'subscribe'), ALLOW);
    assert.equal(dynsecVerdict(s, 'c', 'u', 's/keep', 'unsubscribe'), DENY);
    assert.equal(dynsecVerdict(s, 'c', 'u', 's/other', 'unsubscribe'), ALLOW);
  });

  test('%c and %u in publish ACLs', () => {
    assert.equal(dynsecVerdict(s, 'dev7', 'u', 'devices/dev7/t', 'write'), ALLOW);
    assert.equal(dynsecVerdict(s, 'dev7', 'u', 'devices/dev8/t', 'write'), DEFER);
    assert.equal(dynsecVerdict(s, 'c', 'u', 'users/u/inbox', 'read'), ALLOW);
  });

  test('the Authorizer: $SYS and $share publishes refused first; acl_file consulted only without an opinion; neither: refused', () => {
    const withoutAcl = new DynsecAuthorizer(s, undefined);
    assert.equal(withoutAcl.allows({ clientId: 'c', username: 'u' }, '$SYS/x', 'write'), false);
    assert.equal(withoutAcl.allows({ clientId: 'c', username: 'stranger' }, 'x', 'write'), false);
    const file = parseAclFile('user stranger\ntopic write x\ntopic read y/#\n', 'acl');
    const withAcl = new DynsecAuthorizer(s, { allows: (client, topic, access) => aclCheck(file, client, topic, access) });
    assert.equal(withAcl.allows({ clientId: 'c', username: 'stranger' }, 'x', 'write'), true);
    assert.equal(withAcl.allows({ clientId: 'c', username: 'stranger' }, 'y', 'write'), false);
    assert.equal(withAcl.allows({ clientId: 'c', username: 'stranger' }, 'y/+', 'subscribe'), true, 'the acl_file grants read under y/');
    assert.equal(withAcl.allows({ clientId: 'c', username: 'stranger' }, 'z', 'subscribe'), false, 'nothing readable: the acl_file refuses the SUBSCRIBE');
    assert.equal(withAcl.allows({ clientId: 'c', username: 'u' }, 'a/secret', 'write'), false, 'the plugin decides first');
  });

  test('update() replaces the rules', () => {
    const authorizer = new DynsecAuthorizer(s, undefined);
    assert.equal(authorizer.allows({ clientId: 'c', username: 'u' }, 'a/other', 'write'), true);
    authorizer.update(snapshotOf({ clients: [{ username: 'u' }] }));
    assert.equal(authorizer.allows({ clientId: 'c', username: 'u' }, 'a/other', 'write'), false);
  });
});

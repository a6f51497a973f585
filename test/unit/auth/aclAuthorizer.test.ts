import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { aclAuthorizerOf } from '../../../src/auth/aclAuthorizer.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import type { ListenerConfig } from '../../../src/config/types.ts';

const files: Record<string, string> = {
  '/a.acl': 'topic readwrite a/#\n',
  '/b.acl': 'topic readwrite b/#\n',
};
const read = (path: string) => {
  const text = files[path];
  if (text === undefined) throw new Error(`no file ${path}`);
  return text;
};
const listener = (security: ListenerConfig['security']): ListenerConfig => ({ port: 0, protocol: 'mqtt', maxConnections: -1, security });
const sec = (aclFile?: string) => ({ allowAnonymous: true, allowZeroLengthClientId: true, autoIdPrefix: 'auto-', ...(aclFile ? { aclFile } : {}) });

describe('aclAuthorizerOf', () => {
  test('no acl_file anywhere: no authorizer', () => {
    assert.equal(aclAuthorizerOf(defaultConfig(), read), undefined);
    assert.equal(aclAuthorizerOf(defaultConfig({ perListenerSettings: true, listeners: [listener(sec()), listener(sec())] }), read), undefined);
  });

  test('per_listener_settings false: one ACL for every client, whatever its listener', () => {
    const a = aclAuthorizerOf(defaultConfig({ aclFile: '/a.acl' }), read)!;
    for (const listenerIndex of [undefined, 0, 5]) {
      assert.equal(a.allows({ clientId: 'c', listenerIndex }, 'a/x', 'write'), true);
      assert.equal(a.allows({ clientId: 'c', listenerIndex }, 'b/x', 'write'), false);
    }
  });

  test("per_listener_settings true: the ACL of the client's listener; none there allows; an unknown listener is refused", () => {
    const config = defaultConfig({ perListenerSettings: true, listeners: [listener(sec('/a.acl')), listener(sec('/b.acl')), listener(sec())] });
    const a = aclAuthorizerOf(config, read)!;
    assert.equal(a.allows({ clientId: 'c', listenerIndex: 0 }, 'a/x', 'write'), true);
    assert.equal(a.allows({ clientId: 'c', listenerIndex: 0 }, 'b/x', 'read'), false);
    assert.equal(a.allows({ clientId: 'c', listenerIndex: 1 }, 'b/x', 'read'), true);
    assert.equal(a.allows({ clientId: 'c', listenerIndex: 1 }, 'a/x', 'write'), false);
    assert.equal(a.allows({ clientId: 'c', listenerIndex: 2 }, 'anything', 'write'), true);
    // no acl_file still refuses publishing to $SYS (acl__check_dollar)
    assert.equal(a.allows({ clientId: 'c', listenerIndex: 2 }, '$SYS/x', 'write'), false);
    assert.equal(a.allows({ clientId: 'c' }, 'a/x', 'read'), false);
    assert.equal(a.allows({ clientId: 'c', listenerIndex: 3 }, 'a/x', 'read'), false);
  });

  test('a file named by several listeners is read once', () => {
    let reads = 0;
    const config = defaultConfig({ perListenerSettings: true, listeners: [listener(sec('/a.acl')), listener(sec('/a.acl'))] });
    aclAuthorizerOf(config, (p) => (reads++, read(p)));
    assert.equal(reads, 1);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mountFilter, mountTopic, unmountTopic } from '../../../src/link/mountPoint.ts';

describe('mount_point mapping (Mosquitto: the prefix is put in front as text)', () => {
  test('topics are prefixed as text, without a separator of their own', () => {
    assert.equal(mountTopic('tenant1/', 'a/b'), 'tenant1/a/b');
    assert.equal(mountTopic('tenant', 'a/b'), 'tenanta/b');
    assert.equal(mountTopic('t/', '$SYS/x'), 't/$SYS/x');
  });

  test('filters are prefixed; a shared filter inside its $share/group/', () => {
    assert.deepEqual(mountFilter('t/', { raw: 'a/#', filter: 'a/#', group: undefined }), { raw: 't/a/#', filter: 't/a/#', group: undefined });
    assert.deepEqual(mountFilter('t/', { raw: '$share/g/+/x', filter: '+/x', group: 'g' }), { raw: '$share/g/t/+/x', filter: 't/+/x', group: 'g' });
  });

  test('unmounting removes the prefix; a topic not continuing past it is not for the client', () => {
    assert.equal(unmountTopic('t/', 't/a/b'), 'a/b');
    assert.equal(unmountTopic('t/', 't/'), undefined);
    assert.equal(unmountTopic('t/', 't'), undefined);
    assert.equal(unmountTopic('t/', 'u/a'), undefined);
  });
});

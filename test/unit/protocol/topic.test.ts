import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isValidTopicFilter, isValidTopicName, parseSharedFilter } from '../../../src/protocol/topic.ts';
import { isMqttUtf8, readMqttString } from '../../../src/protocol/utf8.ts';

const long = (bytes: number): string => 'a'.repeat(bytes);

describe('isValidTopicName', () => {
  const cases: Array<[string, boolean, string]> = [
    ['a/b/c', true, 'plain levels'],
    ['/', true, 'two empty levels'],
    ['a//b', true, 'empty middle level'],
    ['$SYS/broker', true, '$ topics are names too'],
    ['città/€/😀', true, 'multi-byte UTF-8'],
    [long(65_535), true, '65535 bytes'],
    ['a/'.repeat(200) + 'a', true, '201 levels (200 separators, Mosquitto\'s TOPIC_HIERARCHY_LIMIT)'],
    ['a/'.repeat(201) + 'a', false, '202 levels'],
    ['', false, '[MQTT-4.7.3-1] empty'],
    ['a/+/c', false, '[MQTT-4.7.1-1] + wildcard'],
    ['a/#', false, '[MQTT-4.7.1-1] # wildcard'],
    ['a+b', false, '[MQTT-4.7.1-1] + inside a level'],
    ['a\u0000b', false, '[MQTT-4.7.3-2] U+0000'],
    [long(65_536), false, 'longer than 65535 bytes'],
    ['€'.repeat(21_846), false, 'longer than 65535 bytes once encoded (3 bytes per char)'],
  ];
  for (const [topic, valid, why] of cases) {
    test(`${why}: ${valid ? 'valid' : 'invalid'}`, () => assert.equal(isValidTopicName(topic), valid));
  }
});

describe('isValidTopicFilter', () => {
  const cases: Array<[string, boolean, string]> = [
    ['a/b', true, 'no wildcards'],
    ['#', true, '[MQTT-4.7.1-2] # alone'],
    ['a/#', true, '[MQTT-4.7.1-2] # last, alone in its level'],
    ['+', true, '[MQTT-4.7.1-3] + alone'],
    ['+/+/#', true, 'wildcards combined'],
    ['a/+/c', true, '[MQTT-4.7.1-3] + in a middle level'],
    ['/+', true, '+ after an empty level'],
    ['+/', true, '+ before an empty level'],
    ['$share/g/a/#', true, 'shared filter is a filter'],
    ['+/'.repeat(200) + '#', true, '201 levels (Mosquitto\'s TOPIC_HIERARCHY_LIMIT)'],
    ['+/'.repeat(201) + '#', false, '202 levels'],
    ['', false, '[MQTT-4.7.3-1] empty'],
    ['a/#/b', false, '[MQTT-4.7.1-2] # not last'],
    ['a#', false, '[MQTT-4.7.1-2] # sharing a level'],
    ['#/', false, '[MQTT-4.7.1-2] # followed by a level'],
    ['a+', false, '[MQTT-4.7.1-3] + sharing a level (after)'],
    ['+a', false, '[MQTT-4.7.1-3] + sharing a level (before)'],
    ['a/b+/c', false, '[MQTT-4.7.1-3] + inside a middle level'],
    ['a/\u0000', false, '[MQTT-4.7.3-2] U+0000'],
    [long(65_536), false, 'longer than 65535 bytes'],
  ];
  for (const [filter, valid, why] of cases) {
    test(`${why}: ${JSON.stringify(filter.length > 40 ? filter.slice(0, 10) + '…' : filter)} ${valid ? 'valid' : 'invalid'}`,
      () => assert.equal(isValidTopicFilter(filter), valid));
  }
});

describe('parseSharedFilter', () => {
  test('a filter not starting with $share/ is not shared', () => {
    assert.equal(parseSharedFilter('a/b'), undefined);
    assert.equal(parseSharedFilter('$share'), undefined);
    assert.equal(parseSharedFilter('$SHARE/g/a'), undefined);
    assert.equal(parseSharedFilter('$sharex/g/a'), undefined);
  });
  test('[MQTT-4.8.2-1] [MQTT-4.8.2-2] group and filter are split at the first / after the share name', () => {
    assert.deepStrictEqual(parseSharedFilter('$share/g1/a/+/#'), { group: 'g1', filter: 'a/+/#', valid: true });
    assert.deepStrictEqual(parseSharedFilter('$share/g/$SYS/x'), { group: 'g', filter: '$SYS/x', valid: true });
  });
  const invalid: Array<[string, string]> = [
    ['$share/', 'no share name'],
    ['$share//a', '[MQTT-4.8.2-1] empty share name'],
    ['$share/g', 'no filter part'],
    ['$share/g/', 'empty filter part'],
    ['$share/g+/a', '[MQTT-4.8.2-2] + in the share name'],
    ['$share/#/a', '[MQTT-4.8.2-2] # in the share name'],
    ['$share/g/a/#/b', 'invalid filter part'],
  ];
  for (const [filter, why] of invalid) {
    test(`${why}: ${filter} is marked invalid`, () => {
      const parsed = parseSharedFilter(filter);
      assert.ok(parsed !== undefined);
      assert.equal(parsed.valid, false);
    });
  }
});

describe('MQTT UTF-8 strings', () => {
  const cases: Array<[string, boolean, string]> = [
    ['616263', true, 'ASCII'],
    ['efbfbd', true, '[MQTT-1.5.4-1] a genuine U+FFFD is well-formed'],
    ['f09f9880', true, '4-byte sequence'],
    ['c328', false, '[MQTT-1.5.4-1] bad continuation byte'],
    ['eda080', false, '[MQTT-1.5.4-1] encoded surrogate U+D800'],
    ['c0af', false, '[MQTT-1.5.4-1] overlong encoding'],
    ['f4908080', false, '[MQTT-1.5.4-1] above U+10FFFF'],
    ['e282', false, '[MQTT-1.5.4-1] truncated sequence'],
    ['610062', false, '[MQTT-1.5.4-2] U+0000'],
  ];
  for (const [hex, valid, why] of cases) {
    test(`${why}: ${valid ? 'accepted' : 'rejected'}`, () => {
      const bytes = Buffer.from('ff' + hex + 'ff', 'hex');
      assert.equal(readMqttString(bytes, 1, bytes.length - 1) !== undefined, valid);
      assert.equal(isMqttUtf8(bytes, 1, bytes.length - 1), valid);
    });
  }
  test('a U+0000 outside the range does not count', () => {
    const bytes = Buffer.from('00616200', 'hex');
    assert.equal(isMqttUtf8(bytes, 1, 3), true);
    assert.equal(readMqttString(bytes, 1, 3), 'ab');
  });
});

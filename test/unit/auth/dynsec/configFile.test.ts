/**
 * The dynamic security file: read as Mosquitto 2.0.11's plugin reads it (plugin.c, clients.c,
 * groups.c, roles.c dynsec_*__config_load) and written byte for byte as it writes it
 * (cJSON_Print of dynsec__config_save).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../../../src/config/errors.ts';
import { printFormatted } from '../../../../src/auth/dynsec/cjson.ts';
import { formatDynsecFile, parseDynsecFile } from '../../../../src/auth/dynsec/configFile.ts';

const fixture = (name: string): string => readFileSync(new URL(`../../../fixtures/dynsec/${name}`, import.meta.url), 'utf8');
const SALT = Buffer.alloc(12, 1).toString('base64');
const HASH = Buffer.alloc(64, 2).toString('base64');

describe('writing', () => {
  test('a file Mosquitto wrote is read and written back byte for byte', () => {
    const text = fixture('mosquitto-written.json');
    assert.equal(formatDynsecFile(parseDynsecFile(text, 'f.json')), text);
  });

  test('cJSON_Print layout: tabs, "key":<TAB>value, arrays on one line with ", ", no final newline', () => {
    assert.equal(printFormatted({ a: [], b: {}, c: [{ x: 1 }, { y: 'q"\n' }], d: true }), '{\n\t"a":\t[],\n\t"b":\t{\n\t},\n\t"c":\t[{\n\t\t\t"x":\t1\n\t\t}, {\n\t\t\t"y":\t"q\\"\\n"\n\t\t}],\n\t"d":\ttrue\n}');
  });

  test('an empty state is written with every section, in the plugin order', () => {
    const text = formatDynsecFile(parseDynsecFile('', 'f.json'));
    assert.deepEqual(Object.keys(JSON.parse(text)), ['defaultACLAccess', 'clients', 'groups', 'roles']);
  });
});

describe('reading', () => {
  test('the file of `mosquitto_ctrl dynsec init`: admin with its hash, textName read as textname (member names in any case)', () => {
    const state = parseDynsecFile(fixture('init.json'), 'init.json');
    const admin = state.clients.get('admin')!;
    assert.equal(admin.textname, 'Dynsec admin user');
    assert.equal(admin.password?.iterations, 101);
    assert.equal(admin.password?.salt.length, 12);
    assert.equal(admin.password?.hash.length, 64);
    assert.deepEqual(admin.roles, [{ rolename: 'admin', priority: -1 }]);
    assert.equal(state.roles.get('admin')!.acls.subscribePattern.length, 3);
    assert.deepEqual(state.defaultAccess, { publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true });
  });

  test('an empty file is an empty state; no defaultACLAccess leaves every default false (the plugin initialiser)', () => {
    for (const text of ['', '{}']) {
      const state = parseDynsecFile(text, 'f.json');
      assert.equal(state.clients.size, 0);
      assert.deepEqual(state.defaultAccess, { publishClientSend: false, publishClientReceive: false, subscribe: false, unsubscribe: false });
    }
    const partial = parseDynsecFile('{"defaultACLAccess":{"subscribe":true,"unsubscribe":"yes"}}', 'f.json');
    assert.deepEqual(partial.defaultAccess, { publishClientSend: false, publishClientReceive: false, subscribe: true, unsubscribe: false });
  });

  test('references to roles and clients that do not exist are dropped; roles sort by priority then name', () => {
    const state = parseDynsecFile(
      JSON.stringify({
        roles: [{ rolename: 'b' }, { rolename: 'a' }, { rolename: 'c' }, { nameless: true }, 'junk'],
        clients: [{ username: 'u', roles: [{ rolename: 'b' }, { rolename: 'ghost' }, { rolename: 'a' }, { rolename: 'c', priority: 5 }] }],
        groups: [{ groupname: 'g', roles: [{ rolename: 'ghost' }], clients: [{ username: 'u', priority: 2 }, { username: 'nobody' }] }],
        anonymousGroup: 'missing',
      }),
      'f.json',
    );
    assert.deepEqual([...state.roles.keys()].sort(), ['a', 'b', 'c']);
    assert.deepEqual(state.clients.get('u')!.roles.map((r) => r.rolename), ['c', 'a', 'b']);
    assert.deepEqual(state.groups.get('g')!.roles, []);
    assert.deepEqual(state.groups.get('g')!.clients, [{ username: 'u', priority: 2 }]);
    assert.deepEqual(state.clients.get('u')!.groups, [{ groupname: 'g', priority: 2 }]);
    assert.equal(state.anonymousGroup, undefined);
  });

  test('a client with malformed password fields is dropped; one without them has no password', () => {
    const state = parseDynsecFile(
      JSON.stringify({
        clients: [
          { username: 'ok', password: HASH, salt: SALT, iterations: 101 },
          { username: 'short-salt', password: HASH, salt: 'AAAA', iterations: 101 },
          { username: 'short-hash', password: 'AAAA', salt: SALT, iterations: 101 },
          { username: 'zero-iterations', password: HASH, salt: SALT, iterations: 0 },
          { username: 'no-iterations', password: HASH, salt: SALT },
          { username: 'disabled', disabled: true, clientid: 'only-me' },
        ],
      }),
      'f.json',
    );
    assert.deepEqual([...state.clients.keys()], ['ok', 'no-iterations', 'disabled']);
    assert.equal(state.clients.get('no-iterations')!.password, undefined);
    assert.equal(state.clients.get('disabled')!.disabled, true);
    assert.equal(state.clients.get('disabled')!.clientid, 'only-me');
  });

  test('ACLs: acltype in any case, topic required, priority 0 and allow false by default, priority order kept stable', () => {
    const state = parseDynsecFile(
      JSON.stringify({
        roles: [
          {
            rolename: 'r',
            acls: [
              { acltype: 'publishclientsend', topic: 'a' },
              { acltype: 'publishClientSend', topic: 'b', priority: 3, allow: true },
              { acltype: 'publishClientSend', topic: 'c' },
              { acltype: 'publishClientSend' },
              { acltype: 'unknown', topic: 'x' },
              { acltype: 'subscribeLiteral', topic: 's', priority: 1.9 },
            ],
          },
        ],
      }),
      'f.json',
    );
    const acls = state.roles.get('r')!.acls;
    assert.deepEqual(acls.publishClientSend, [
      { topic: 'b', priority: 3, allow: true },
      { topic: 'a', priority: 0, allow: false },
      { topic: 'c', priority: 0, allow: false },
    ]);
    assert.deepEqual(acls.subscribeLiteral, [{ topic: 's', priority: 1, allow: false }]);
  });

  test('a file that is not JSON, or whose clients/groups/roles is not an array, stops the start naming the file', () => {
    for (const [text, pattern] of [
      ['{not json', /not valid JSON/],
      ['[1]', /not a JSON object/],
      ['{"clients":{}}', /'clients' is not an array/],
      ['{"roles":"x"}', /'roles' is not an array/],
    ] as const) {
      assert.throws(() => parseDynsecFile(text, 'd.json'), (err: unknown) => err instanceof ConfigError && err.message.startsWith('d.json:0: ') && pattern.test(err.message));
    }
  });
});

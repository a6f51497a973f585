/**
 * The main thread's DynamicSecurity: the CONNECT check chained as Mosquitto 2.0 chains it, the
 * file written after each change, the kick lists of the commands (Mosquitto's
 * mosquitto_kick_client_by_username calls), and what culex does where 2.0.11 was broken.
 * The responses themselves are cross-checked against Mosquitto in mosquitto.cross.test.ts.
 */
import { after, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../../../src/config/errors.ts';
import { DynamicSecurity, type ControlResult } from '../../../../src/auth/dynsec/engine.ts';
import { createLogger } from '../../../../src/log.ts';

const quiet = createLogger({ types: [], dest: ['none'], connectionMessages: false });
const INIT = fileURLToPath(new URL('../../../fixtures/dynsec/init.json', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'culex-dynsec-engine-'));
const file = join(dir, 'dynsec.json');
let engine: DynamicSecurity;
const admin = { clientId: 'admin-1', username: 'admin' };

after(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  copyFileSync(INIT, file);
  engine = DynamicSecurity.open(file, quiet);
});

function run(...commands: Record<string, unknown>[]): Promise<ControlResult> {
  return engine.control(Buffer.from(JSON.stringify({ commands })), admin);
}

function errors(r: ControlResult): (string | undefined)[] {
  return (JSON.parse(r.response) as { responses: { error?: string }[] }).responses.map((x) => x.error);
}

describe('authentication (Mosquitto 2.0 chain: plugin, then password_file, then allow_anonymous)', () => {
  const anonymousOk = async () => 'ok' as const;

  test('a known client with a password is decided by the plugin', async () => {
    await run({ command: 'createClient', username: 'u', password: 'pw' });
    assert.equal(await engine.check('c', 'u', Buffer.from('pw'), false, anonymousOk), 'ok');
    assert.equal(await engine.check('c', 'u', Buffer.from('nope'), true, anonymousOk), 'bad_credentials');
    assert.equal(await engine.check('c', 'admin', Buffer.from('secret'), false, anonymousOk), 'ok', 'the admin of the init file');
  });

  test('a disabled client, or one bound to another client id, is refused', async () => {
    await run({ command: 'createClient', username: 'u', password: 'pw', clientid: 'only' }, { command: 'createClient', username: 'd', password: 'pw' }, { command: 'disableClient', username: 'd' });
    assert.equal(await engine.check('other', 'u', Buffer.from('pw'), false, anonymousOk), 'not_authorized');
    assert.equal(await engine.check('only', 'u', Buffer.from('pw'), false, anonymousOk), 'ok');
    assert.equal(await engine.check('c', 'd', Buffer.from('pw'), false, anonymousOk), 'not_authorized');
  });

  test('no opinion: an unknown user name is refused without a password_file, judged by it with one', async () => {
    let asked = 0;
    const fallback = async () => {
      asked++;
      return 'ok' as const;
    };
    assert.equal(await engine.check('c', 'stranger', Buffer.from('x'), false, fallback), 'bad_credentials');
    assert.equal(asked, 0);
    assert.equal(await engine.check('c', 'stranger', Buffer.from('x'), true, fallback), 'ok');
    assert.equal(asked, 1);
  });

  test('no opinion: an anonymous client goes on to allow_anonymous; a client without a password too', async () => {
    assert.equal(await engine.check('c', undefined, undefined, false, async () => 'not_authorized'), 'not_authorized');
    assert.equal(await engine.check('c', undefined, undefined, false, async () => 'ok'), 'ok');
    await run({ command: 'createClient', username: 'nopw' });
    assert.equal(await engine.authenticate('c', 'nopw', Buffer.from('x')), 'defer');
    assert.equal(await engine.authenticate('c', 'admin', undefined), 'defer');
  });

  test('only the bytes before a NUL count, as in the plugin (C strings)', async () => {
    await run({ command: 'createClient', username: 'u', password: 'pw' });
    assert.equal(await engine.authenticate('c', 'u', Buffer.from('pw\u0000tail')), 'ok');
  });
});

describe('changes', () => {
  test('a change is written to the file at once and reloads; a read-only request writes nothing and sends no snapshot', async () => {
    const before = readFileSync(file, 'utf8');
    const read = await run({ command: 'listClients' }, { command: 'getClient', username: 'nobody' });
    assert.equal(read.snapshot, undefined);
    assert.equal(readFileSync(file, 'utf8'), before);
    const changed = await run({ command: 'createClient', username: 'u', password: 'pw' });
    assert.notEqual(changed.snapshot, undefined);
    assert.ok(changed.snapshot!.clients.has('u'));
    const reloaded = DynamicSecurity.open(file, quiet);
    assert.equal(await reloaded.authenticate('c', 'u', Buffer.from('pw')), 'ok');
  });

  test('requests run one after the other, in arrival order', async () => {
    const first = run({ command: 'createClient', username: 'x', password: 'long enough to hash' });
    const second = run({ command: 'deleteClient', username: 'x' });
    assert.deepEqual(errors(await first), [undefined]);
    assert.deepEqual(errors(await second), [undefined]);
    assert.equal(engine.snapshot().clients.has('x'), false);
  });

  test('kicks follow Mosquitto: user changes kick the user, group and role changes their members', async () => {
    await run(
      { command: 'createRole', rolename: 'r' },
      { command: 'createClient', username: 'a', password: 'p' },
      { command: 'createClient', username: 'b', password: 'p' },
      { command: 'createGroup', groupname: 'g' },
      { command: 'addGroupClient', groupname: 'g', username: 'b' },
      { command: 'addClientRole', username: 'a', rolename: 'r' },
    );
    const kicked = async (cmd: Record<string, unknown>) => (await run(cmd)).kick;
    assert.deepEqual(await kicked({ command: 'disableClient', username: 'a' }), { usernames: ['a'], anonymous: false });
    assert.equal(await kicked({ command: 'enableClient', username: 'a' }), undefined);
    assert.deepEqual(await kicked({ command: 'setClientPassword', username: 'a', password: 'q' }), { usernames: ['a'], anonymous: false });
    assert.deepEqual(await kicked({ command: 'addRoleACL', rolename: 'r', acltype: 'publishClientSend', topic: 't', allow: true }), { usernames: ['a'], anonymous: false });
    assert.equal(await kicked({ command: 'modifyRole', rolename: 'r', textname: 'x' }), undefined);
    assert.deepEqual(await kicked({ command: 'addGroupRole', groupname: 'g', rolename: 'r' }), { usernames: ['b'], anonymous: false });
    assert.deepEqual(await kicked({ command: 'addGroupClient', groupname: 'nogroup', username: 'a' }), { usernames: ['a'], anonymous: false }, 'even when it fails');
    assert.deepEqual(await kicked({ command: 'setAnonymousGroup', groupname: 'g' }), { usernames: [], anonymous: true });
    assert.deepEqual(await kicked({ command: 'removeGroupRole', groupname: 'g', rolename: 'r' }), { usernames: ['b'], anonymous: true });
    assert.deepEqual(await kicked({ command: 'deleteClient', username: 'b' }), { usernames: ['b'], anonymous: false });
    assert.equal(await kicked({ command: 'createClient', username: 'c' }), undefined);
  });

  test('deleting the anonymous group is refused (2.0.11 left a dangling pointer; later releases refuse)', async () => {
    await run({ command: 'createGroup', groupname: 'g' }, { command: 'setAnonymousGroup', groupname: 'g' });
    const r = await run({ command: 'deleteGroup', groupname: 'g' }, { command: 'getAnonymousGroup' });
    assert.deepEqual(errors(r), ['Deleting the anonymous group is forbidden', undefined]);
    assert.match(r.response, /"groupname":"g"/);
  });

  test('deleteRole takes the role from every holder, however it was given', async () => {
    await run(
      { command: 'createRole', rolename: 'r' },
      { command: 'createClient', username: 'a', roles: [{ rolename: 'r' }] },
      { command: 'createGroup', groupname: 'g', roles: [{ rolename: 'r' }] },
    );
    const r = await run({ command: 'deleteRole', rolename: 'r' }, { command: 'getClient', username: 'a' }, { command: 'getGroup', groupname: 'g' });
    assert.match(r.response, /"client":\{"username":"a","roles":\[\],"groups":\[\]\}/);
    assert.match(r.response, /"group":\{"groupname":"g","clients":\[\],"roles":\[\]\}/);
  });

  test('modifyClient with a bad role list changes nothing', async () => {
    await run({ command: 'createClient', username: 'a', textname: 'before' });
    const r = await run({ command: 'modifyClient', username: 'a', textname: 'after', roles: [{ rolename: 'missing' }] }, { command: 'getClient', username: 'a' });
    assert.deepEqual(errors(r).slice(0, 1), ['Role not found']);
    assert.match(r.response, /"textname":"before"/);
  });

  test('setDefaultACLAccess takes the "access": "allow"|"deny" that the mosquitto_ctrl of 2.0.11 sends', async () => {
    const r = await run({ command: 'setDefaultACLAccess', acls: [{ acltype: 'subscribe', access: 'allow' }, { acltype: 'publishClientReceive', access: 'deny' }] });
    assert.deepEqual(errors(r), [undefined]);
    assert.deepEqual(r.snapshot!.defaults, { publishClientSend: false, publishClientReceive: false, subscribe: true, unsubscribe: true });
  });
});

describe('opening', () => {
  test('a missing or broken file stops the start with a ConfigError naming it', () => {
    assert.throws(() => DynamicSecurity.open(join(dir, 'missing.json'), quiet), (e: unknown) => e instanceof ConfigError && /missing\.json:0: cannot read/.test(e.message));
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"clients": [');
    assert.throws(() => DynamicSecurity.open(broken, quiet), (e: unknown) => e instanceof ConfigError && /not valid JSON/.test(e.message));
  });
});

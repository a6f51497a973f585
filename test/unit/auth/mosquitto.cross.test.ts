/**
 * Cross-checks against the real Mosquitto broker (skipped when it is not installed; CI
 * installs it): the ACL decisions of aclTable.ts for PUBLISH, and password files written by
 * mosquitto_passwd and by culex, accepted by both brokers' checks.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { aclCheck, parseAclFile } from '../../../src/auth/acl.ts';
import { Authenticator } from '../../../src/auth/authenticator.ts';
import { hashPassword } from '../../../src/auth/passwordFile.ts';
import { ACL_CASES, ACL_TEXT, USERS } from './aclTable.ts';
import { freePort } from '../../helpers/broker.ts';
import { pubackCode } from '../../helpers/clients.ts';

const installed =
  spawnSync('mosquitto', ['-h']).error === undefined && spawnSync('mosquitto_passwd', ['-h']).error === undefined;
const skip = installed ? false : 'mosquitto / mosquitto_passwd not installed (apt-get install mosquitto)';

/** PUBACK reason code Mosquitto gives `clientId` publishing QoS 1 to `topic` (0 = accepted). */
async function publishReason(port: number, username: string | undefined, clientId: string, topic: string): Promise<number> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    protocolVersion: 5,
    clientId,
    reconnectPeriod: 0,
    ...(username === undefined ? {} : { username, password: USERS[username] }),
  });
  try {
    return await pubackCode(client, topic);
  } finally {
    await client.endAsync();
  }
}

/** CONNACK outcome for these credentials: 'ok' or the v5 reason code. */
async function connectOutcome(port: number, username: string, password: string): Promise<string> {
  try {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 5,
      username,
      password,
      reconnectPeriod: 0,
    });
    await client.endAsync();
    return 'ok';
  } catch (err) {
    return `refused ${(err as { code?: number }).code}`;
  }
}

describe('against the real Mosquitto', { skip }, () => {
  let dir: string;
  let port: number;
  let broker: ChildProcess;
  let passwordFile: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'culex-mosq-auth-'));
    port = await freePort();
    passwordFile = join(dir, 'passwd');
    const users = Object.entries(USERS);
    const [first, ...others] = users;
    // alice and bob by mosquitto_passwd (one $7$, one $6$), su by culex's hashPassword.
    spawnSync('mosquitto_passwd', ['-b', '-c', passwordFile, first![0], first![1]], { stdio: 'ignore' });
    for (const [name, pass] of others) {
      if (name === 'su') appendFileSync(passwordFile, `${name}:${hashPassword(pass)}\n`);
      else spawnSync('mosquitto_passwd', ['-H', 'sha512', '-b', passwordFile, name, pass], { stdio: 'ignore' });
    }
    writeFileSync(join(dir, 'acl'), ACL_TEXT);
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      `listener ${port} 127.0.0.1\nallow_anonymous true\npassword_file ${passwordFile}\nacl_file ${join(dir, 'acl')}\n`,
    );
    // Run as root, Mosquitto drops to the 'mosquitto' user: let it read the files.
    chmodSync(dir, 0o755);
    for (const f of [passwordFile, join(dir, 'acl'), conf]) chmodSync(f, 0o644);
    broker = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    await new Promise<void>((resolve, reject) => {
      broker.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (/ running/.test(log)) resolve();
      });
      broker.once('exit', () => reject(new Error(`mosquitto exited:\n${log}`)));
    });
  });

  after(async () => {
    if (broker !== undefined && broker.exitCode === null && broker.signalCode === null) {
      const exited = new Promise((resolve) => broker.once('exit', resolve));
      broker.kill('SIGKILL');
      await exited;
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('every PUBLISH decision of the ACL table matches Mosquitto', async () => {
    const acl = parseAclFile(ACL_TEXT, 'acl');
    for (const c of ACL_CASES.filter((x) => x.access === 'write')) {
      const client = c.username === undefined ? { clientId: c.clientId } : { clientId: c.clientId, username: c.username };
      const reason = await publishReason(port, c.username, c.clientId, c.topic);
      const mosquittoAllows = reason < 0x80;
      assert.equal(mosquittoAllows, c.allowed, `table vs Mosquitto: ${c.username} ${c.clientId} ${c.topic} (${reason})`);
      assert.equal(aclCheck(acl, client, c.topic, 'write'), mosquittoAllows, `culex vs Mosquitto: ${c.topic}`);
    }
  });

  test('the same password file gives the same answers in Mosquitto and culex', async () => {
    const auth = new Authenticator({ allowAnonymous: true, passwordFile });
    try {
      const text = readFileSync(passwordFile, 'utf8');
      assert.match(text, /^alice:\$7\$101\$/m);
      assert.match(text, /^bob:\$6\$/m);
      assert.match(text, /^su:\$7\$101\$/m);
      for (const [name, pass] of Object.entries(USERS)) {
        assert.equal(await connectOutcome(port, name, pass), 'ok', `Mosquitto accepts ${name}`);
        assert.equal(await auth.check(name, Buffer.from(pass)), 'ok', `culex accepts ${name}`);
        assert.equal(await connectOutcome(port, name, `${pass}!`), 'refused 135', `Mosquitto refuses ${name}`);
        assert.equal(await auth.check(name, Buffer.from(`${pass}!`)), 'bad_credentials', `culex refuses ${name}`);
      }
    } finally {
      await auth.close();
    }
  });
});

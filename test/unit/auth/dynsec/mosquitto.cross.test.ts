/**
 * Cross-checks the dynamic security engine against the real Mosquitto 2.0.11 plugin (skipped
 * when mosquitto is not installed): both start from the same `mosquitto_ctrl dynsec init` file,
 * get the same script of requests (requests.ts) and must answer every one byte for byte alike,
 * end with the same file (password hashes aside: their salts are random) and take the same
 * PUBLISH and SUBSCRIBE decisions. Then Mosquitto loads the file culex wrote.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { DynamicSecurity } from '../../../../src/auth/dynsec/engine.ts';
import { DynsecAuthorizer } from '../../../../src/auth/dynsec/authorizer.ts';
import { createLogger } from '../../../../src/log.ts';
import { freePort } from '../../../helpers/broker.ts';
import { DECISIONS, REQUESTS } from './requests.ts';

const PLUGIN = '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so';
const installed = spawnSync('mosquitto', ['-h']).error === undefined && spawnSync('mosquitto_ctrl', ['--help']).error === undefined;
const skip = installed ? false : 'mosquitto / mosquitto_ctrl not installed (apt-get install mosquitto mosquitto-clients)';
const quiet = createLogger({ types: [], dest: ['none'], connectionMessages: false });
const PASSWORDS: Record<string, string> = { alice: 'apw', bob: 'bpw', carol: 'new' };

/** The file with every password hash and salt replaced by a placeholder. */
function withoutHashes(text: string): string {
  return text.replace(/"(password|salt)":\t"[^"]*"/g, '"$1":\t"…"');
}

async function startMosquitto(dir: string, file: string): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const conf = join(dir, `mosquitto-${port}.conf`);
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nuser root\nplugin ${PLUGIN}\nplugin_opt_config_file ${file}\nlog_type all\n`);
  const proc = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    proc.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (/ running/.test(log)) resolve();
    });
    proc.once('exit', () => reject(new Error(`mosquitto exited:\n${log}`)));
  });
  return { port, proc };
}

async function stop(proc: ChildProcess | undefined): Promise<void> {
  if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGKILL');
  await exited;
}

/** An admin connection that sends one request at a time and returns the response payload. */
async function adminClient(port: number): Promise<{ client: MqttClient; ask(payload: string): Promise<string> }> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, username: 'admin', password: 'secret', reconnectPeriod: 0 });
  const waiting: ((p: string) => void)[] = [];
  client.on('message', (_topic, payload) => waiting.shift()?.(payload.toString()));
  await client.subscribeAsync('$CONTROL/dynamic-security/v1/response', { qos: 1 });
  return {
    client,
    ask: (payload) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no response to ${payload}`)), 5000);
        waiting.push((p) => {
          clearTimeout(timer);
          resolve(p);
        });
        client.publish('$CONTROL/dynamic-security/v1', payload, { qos: 1 });
      }),
  };
}

/** Mosquitto's decision: PUBACK / SUBACK reason below 0x80. */
async function mosquittoAllows(port: number, username: string | undefined, clientId: string, topic: string, access: 'write' | 'subscribe'): Promise<boolean> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    protocolVersion: 5,
    clientId,
    reconnectPeriod: 0,
    ...(username === undefined ? {} : { username, password: PASSWORDS[username] }),
  });
  try {
    if (access === 'subscribe') {
      const granted = await client.subscribeAsync(topic, { qos: 1 });
      return granted[0]!.qos < 0x80;
    }
    await client.publishAsync(topic, 'x', { qos: 1 });
    return true;
  } catch (err) {
    // a refused SUBSCRIBE (SUBACK 0x87) or PUBLISH (PUBACK 0x87)
    if ((err as { packet?: { granted?: number[] } }).packet?.granted !== undefined) return false;
    if (typeof (err as { code?: unknown }).code === 'number') return false;
    throw err;
  } finally {
    await client.endAsync();
  }
}

describe('dynamic security against the real Mosquitto plugin', { skip }, () => {
  let dir: string;
  let mosquittoFile: string;
  let culexFile: string;
  let mosq: { port: number; proc: ChildProcess } | undefined;
  let engine: DynamicSecurity;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'culex-dynsec-cross-'));
    chmodSync(dir, 0o755);
    mosquittoFile = join(dir, 'mosquitto.json');
    culexFile = join(dir, 'culex.json');
    spawnSync('mosquitto_ctrl', ['dynsec', 'init', mosquittoFile, 'admin', 'secret'], { stdio: 'ignore' });
    copyFileSync(mosquittoFile, culexFile);
    mosq = await startMosquitto(dir, mosquittoFile);
    engine = DynamicSecurity.open(culexFile, quiet);
  });

  after(async () => {
    await stop(mosq?.proc);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('every response of the request script is the one Mosquitto gives, byte for byte', async () => {
    const admin = await adminClient(mosq!.port);
    try {
      for (const payload of REQUESTS) {
        const expected = await admin.ask(payload);
        const actual = await engine.control(Buffer.from(payload), { clientId: 'admin-1', username: 'admin' });
        assert.equal(actual.response, expected, `request ${payload}`);
      }
    } finally {
      await admin.client.endAsync();
    }
  });

  test('the file written is the one Mosquitto writes (password hashes aside)', () => {
    const ours = readFileSync(culexFile, 'utf8');
    const theirs = readFileSync(mosquittoFile, 'utf8');
    assert.equal(withoutHashes(ours), withoutHashes(theirs));
    assert.match(ours, /"iterations":\t101/);
  });

  test('PUBLISH and SUBSCRIBE decisions match Mosquitto, priorities, groups, anonymous group and default access included', async () => {
    const authorizer = new DynsecAuthorizer(engine.snapshot(), undefined);
    const seen = new Set<string>();
    for (const [username, clientId, topic, access] of DECISIONS) {
      const theirs = await mosquittoAllows(mosq!.port, username, clientId, topic, access);
      const client = username === undefined ? { clientId } : { clientId, username };
      assert.equal(authorizer.allows(client, topic, access), theirs, `${username}/${clientId} ${access} ${topic}`);
      seen.add(`${access} ${theirs}`);
    }
    assert.equal(seen.size, 4, 'the table has allowed and refused PUBLISHes and SUBSCRIBEs');
  });

  test('the same passwords log in: Mosquitto and culex agree on every client', async () => {
    for (const [username, password] of Object.entries(PASSWORDS)) {
      const clientId = username === 'alice' ? 'alice-id' : `${username}-x`;
      assert.equal(await engine.authenticate(clientId, username, Buffer.from(password)), 'ok', username);
      assert.equal(await engine.authenticate(clientId, username, Buffer.from(`${password}!`)), 'bad_credentials', username);
    }
    assert.equal(await engine.authenticate('other-id', 'alice', Buffer.from('apw')), 'not_authorized', 'alice is bound to alice-id');
    assert.equal(await engine.authenticate('x', 'nobody', Buffer.from('p')), 'defer');
  });

  test('Mosquitto loads the file culex wrote: its clients log in and it answers from it', async () => {
    await stop(mosq?.proc);
    mosq = await startMosquitto(dir, culexFile);
    const admin = await adminClient(mosq.port);
    try {
      const payload = JSON.stringify({ commands: [{ command: 'listClients', verbose: true }, { command: 'listGroups', verbose: true }, { command: 'listRoles', verbose: true }, { command: 'getDefaultACLAccess' }, { command: 'getAnonymousGroup' }] });
      const ours = await engine.control(Buffer.from(payload), { clientId: 'admin-1', username: 'admin' });
      assert.equal(await admin.ask(payload), ours.response);
    } finally {
      await admin.client.endAsync();
    }
    assert.equal(await mosquittoAllows(mosq.port, 'bob', 'bob-2', 'w/secret', 'write'), false);
    assert.equal(await mosquittoAllows(mosq.port, 'alice', 'alice-id', 'e/x', 'write'), true);
  });
});

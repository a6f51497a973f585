/**
 * Interop with Eclipse Mosquitto's command-line clients (mosquitto_pub / mosquitto_sub, libmosquitto)
 * at MQTT 3.1.1 and 5.0: QoS 0/1/2, retained messages, persistent sessions, v5 properties.
 * Skipped only when the binaries are missing (CI installs mosquitto-clients).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Harness, Inbox, subscribe, uniqueId } from '../helpers/clients.ts';
import type { TestBroker } from '../helpers/broker.ts';

const binaries = ['/usr/bin/mosquitto_pub', '/usr/bin/mosquitto_sub'];
const missing = binaries.filter((b) => !existsSync(b));
const skip = missing.length > 0 ? `mosquitto clients not installed (${missing.join(', ')}): apt-get install mosquitto-clients` : false;

const h = new Harness();
let broker: TestBroker;

before(async () => { if (!skip) broker = await h.broker(); });
after(() => h.teardown());

/** One line mosquitto_sub prints per message: marker|topic|qos|retain|payload. */
const format = 'MSG|%t|%q|%r|%p';

interface Sub {
  /** resolves once the broker's SUBACK was received */
  readonly subscribed: Promise<void>;
  /** resolves with the message lines when mosquitto_sub exits */
  readonly done: Promise<{ code: number | null; messages: string[][]; output: string }>;
}

/** Runs mosquitto_sub; `-d` output tells when the subscription is in place. */
function mosquittoSub(args: readonly string[]): Sub {
  // stdbuf: mosquitto_sub's stdout is block-buffered on a pipe; the SUBACK line must come at once
  const proc = spawn('stdbuf', ['-oL', '/usr/bin/mosquitto_sub', '-h', '127.0.0.1', '-p', String(broker.port), '-d', '-F', format, '-W', '30', ...args]);
  let out = '';
  let onSuback: () => void = () => {};
  const subscribed = new Promise<void>((resolve) => { onSuback = resolve; });
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('received SUBACK')) onSuback();
  });
  proc.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const done = new Promise<{ code: number | null; messages: string[][]; output: string }>((resolve) => {
    // 'close', not 'exit': the last lines of stdout may still be unread when the process has exited
    proc.once('close', (code) => {
      onSuback();
      const messages = out.split('\n').filter((l) => l.startsWith('MSG|')).map((l) => l.split('|').slice(1));
      resolve({ code, messages, output: out });
    });
  });
  return { subscribed, done };
}

/** Runs mosquitto_pub to completion; rejects on a non-zero exit. */
async function mosquittoPub(args: readonly string[]): Promise<void> {
  const proc = spawn('/usr/bin/mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.port), ...args]);
  let err = '';
  proc.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
  if (code !== 0) throw new Error(`mosquitto_pub ${args.join(' ')} exited ${code}: ${err}`);
}

for (const [vflag, vname, protocolVersion] of [['mqttv311', '3.1.1', 4], ['mqttv5', '5.0', 5]] as const) {
  describe(`mosquitto_pub / mosquitto_sub, MQTT ${vname}`, { skip }, () => {
    for (const qos of [0, 1, 2] as const) {
      test(`QoS ${qos}: three messages from mosquitto_pub reach mosquitto_sub in order`, async () => {
        const topic = `interop/${uniqueId()}`;
        const sub = mosquittoSub(['-V', vflag, '-t', topic, '-q', String(qos), '-C', '3']);
        await sub.subscribed;
        for (const m of ['one', 'two', 'three']) await mosquittoPub(['-V', vflag, '-t', topic, '-q', String(qos), '-m', m]);
        const { code, messages, output } = await sub.done;
        assert.equal(code, 0, output);
        assert.deepEqual(messages, ['one', 'two', 'three'].map((m) => [topic, String(qos), '0', m]));
      });
    }

    test('a retained message from mosquitto_pub is delivered to a later mosquitto_sub with the retain flag, then cleared', async () => {
      const topic = `interop/${uniqueId()}`;
      await mosquittoPub(['-V', vflag, '-t', topic, '-q', '1', '-r', '-m', 'kept']);
      const sub = mosquittoSub(['-V', vflag, '-t', topic, '-q', '1', '-C', '1']);
      const { code, messages, output } = await sub.done;
      assert.equal(code, 0, output);
      assert.deepEqual(messages, [[topic, '1', '1', 'kept']]);
      await mosquittoPub(['-V', vflag, '-t', topic, '-r', '-n']);
      const check = await h.connect(broker.url, { protocolVersion });
      const inbox = new Inbox(check);
      await subscribe(check, topic, { qos: 1 });
      await inbox.expectNone(250, 0);
    });

    test('persistent session (-c -i): QoS 1 messages published while mosquitto_sub was away are delivered when it returns', async () => {
      const topic = `interop/${uniqueId()}`;
      const id = uniqueId('mosq');
      const session = ['-V', vflag, '-c', '-i', id, '-q', '1', '-t', topic, ...(protocolVersion === 5 ? ['-x', '300'] : [])];
      const first = mosquittoSub([...session, '-E']);
      assert.equal((await first.done).code, 0);
      for (const m of ['a', 'b', 'c']) await mosquittoPub(['-V', vflag, '-t', topic, '-q', '1', '-m', m]);
      const back = mosquittoSub([...session, '-C', '3']);
      const { code, messages, output } = await back.done;
      assert.equal(code, 0, output);
      assert.deepEqual(messages.map((m) => m[3]), ['a', 'b', 'c']);
    });

    test('mosquitto_pub to an MQTT.js subscriber and MQTT.js to mosquitto_sub', async () => {
      const topic = `interop/${uniqueId()}`;
      const js = await h.connect(broker.url, { protocolVersion });
      const inbox = new Inbox(js);
      await subscribe(js, `${topic}/to-js`, { qos: 2 });
      await mosquittoPub(['-V', vflag, '-t', `${topic}/to-js`, '-q', '2', '-m', 'from-mosquitto']);
      const [m] = await inbox.waitFor(1);
      assert.equal(m!.payload.toString(), 'from-mosquitto');
      assert.equal(m!.packet.qos, 2);
      const sub = mosquittoSub(['-V', vflag, '-t', `${topic}/from-js`, '-q', '2', '-C', '1']);
      await sub.subscribed;
      await js.publishAsync(`${topic}/from-js`, 'from-mqttjs', { qos: 2 });
      const { messages } = await sub.done;
      assert.deepEqual(messages, [[`${topic}/from-js`, '2', '0', 'from-mqttjs']]);
    });
  });
}

describe('mosquitto clients, MQTT 5.0 properties', { skip }, () => {
  test('user properties and content type set by mosquitto_pub -D reach an MQTT.js subscriber', async () => {
    const topic = `interop/${uniqueId()}`;
    const js = await h.connect(broker.url, { protocolVersion: 5 });
    const inbox = new Inbox(js);
    await subscribe(js, topic, { qos: 1 });
    await mosquittoPub(['-V', 'mqttv5', '-t', topic, '-q', '1', '-m', 'p',
      '-D', 'publish', 'user-property', 'site', 'north',
      '-D', 'publish', 'content-type', 'text/plain',
      '-D', 'publish', 'message-expiry-interval', '3600']);
    const [m] = await inbox.waitFor(1);
    const props = m!.packet.properties!;
    assert.deepEqual({ ...props.userProperties }, { site: 'north' });
    assert.equal(props.contentType, 'text/plain');
    assert.ok(props.messageExpiryInterval! > 3590 && props.messageExpiryInterval! <= 3600);
  });
});

/**
 * Runs one planned fuzz session over a real connection and judges how it ended.
 *
 * A session writes its stream, then waits for its resolution: valid ones for every answer owed,
 * poisoned ones for the close, the others for a close or a PINGRESP to the final PINGREQ. One that
 * has not resolved `settleMs` after its last write is parked (its slot goes to a new session)
 * and waits on, until the broker's own timer must have ended it: 10 s without CONNECT (culex's
 * CONNECT timeout, src/link/outbox.ts), 1.5 x keep-alive without a packet [MQTT-3.1.2-24], or at
 * once after a refusing CONNACK or a DISCONNECT; plus `graceMs` and 30% of the timer for a loaded
 * machine. Still open then, it has hung. One whose timer would end after the run (keep-alive 0, long keep-alives) is
 * counted as open and explained, not waited for.
 * called from: tests, scripts/fuzz.ts
 */
import mqttPacket from 'mqtt-packet';
import type { Packet as MqttPacket } from 'mqtt-packet';
import { hex, Observer } from './observe.ts';
import type { Plan } from './plan.ts';
import { openWire, type Target, type Wire } from './wire.ts';

/** culex closes a connection that sent no CONNECT for 40 sweeps of 250 ms (src/link/outbox.ts) */
const CONNECT_TIMEOUT_MS = 10_250;
const SWEEP_MS = 250;

export interface SessionLimits {
  /** after the last write, how long a session holds its slot before it is parked */
  readonly settleMs: number;
  /** slack over the broker's own timers before a silent connection counts as hung */
  readonly graceMs: number;
  /** how long valid and poisoned sessions may take to be answered or closed */
  readonly answerMs: number;
  /** absolute time (ms) when waiting for a broker's timer stops: such sessions still open then are explained */
  readonly hardStop: number;
  readonly connectTimeoutMs: number;
}

export interface Outcome {
  readonly plan: Plan;
  readonly target: Target;
  /** how it ended, for the report: "closed after DISCONNECT 0x81", "answered", "open: keep-alive 0", … */
  readonly end: string;
  readonly violations: readonly string[];
  readonly parked: boolean;
  readonly bytesSent: number;
  /** broker packet types received (first 32) */
  readonly received: readonly number[];
}

const sleep = (ms: number) => new Promise<void>((r) => (ms < 0 ? setImmediate(r) : setTimeout(r, ms)));

/** The keep-alive the CONNECT that went out asks for, when mqtt-packet can read it. */
function sentKeepalive(plan: Plan): number | undefined {
  if (plan.keepalive !== undefined) return plan.keepalive;
  let found: number | undefined;
  try {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: MqttPacket) => { if (found === undefined && p.cmd === 'connect') found = p.keepalive ?? 0; });
    parser.on('error', () => {});
    parser.parse(Buffer.concat(plan.writes));
  } catch {
    return undefined;
  }
  return found;
}

/**
 * Runs `plan` against `target`. `onSettled` is called once, when the session ends or is parked.
 */
export async function runSession(plan: Plan, target: Target, limits: SessionLimits, onSettled: () => void): Promise<Outcome> {
  let settled = false;
  const settle = () => { if (!settled) { settled = true; onSettled(); } };
  const obs = new Observer();
  let wire: Wire;
  try {
    wire = await openWire(target, limits.connectTimeoutMs);
  } catch (err) {
    settle();
    return { plan, target, end: 'could not connect', violations: [`cannot connect to ${target.name}: ${(err as Error).message}`], parked: false, bytesSent: 0, received: [] };
  }
  let closed = false;
  let wake: (() => void) | undefined;
  wire.onData = (c) => { obs.push(c); wake?.(); };
  let closedAt = 0;
  wire.onClose = () => { closed = true; closedAt = Date.now(); wake?.(); };
  const waitEvent = (ms: number) => new Promise<void>((resolve) => {
    const t = setTimeout(() => { wake = undefined; resolve(); }, Math.max(0, ms));
    wake = () => { clearTimeout(t); wake = undefined; resolve(); };
  });

  let bytesSent = 0;
  for (let i = 0; i < plan.writes.length && !closed; i++) {
    const pause = plan.pauses[i]!;
    if (pause !== 0) await sleep(pause);
    wire.write(plan.writes[i]!);
    bytesSent += plan.writes[i]!.length;
  }
  const lastWrite = Date.now();
  const violations: string[] = [];
  const mode = plan.mode;
  const keepalive = mode === 'mutate' || mode === 'noise' ? sentKeepalive(plan) : plan.keepalive;
  let parked = false;

  /** valid: everything owed has come */
  const owedLeft = [...plan.owed];
  const takeAnswers = () => {
    for (let i = owedLeft.length - 1; i >= 0; i--) if (obs.take(owedLeft[i]!.type, owedLeft[i]!.packetId)) owedLeft.splice(i, 1);
  };
  const resolved = (): boolean => {
    if (mode === 'valid') {
      takeAnswers();
      return closed || owedLeft.length === 0;
    }
    if (mode === 'poison' || mode === 'poisonConnect') return closed || obs.pingresps > 0 || (mode === 'poisonConnect' && obs.connackCode === 0);
    return closed || obs.pingresps > 0;
  };
  /** when the broker must have closed the connection by itself, and why; Infinity: never (keep-alive 0) */
  const deadline = (): { at: number; why: string } => {
    if (mode === 'valid' || mode === 'poison' || mode === 'poisonConnect') return { at: lastWrite + limits.answerMs, why: 'answer' };
    if (obs.disconnectCode !== undefined) return { at: obs.disconnectAt, why: 'close after DISCONNECT' };
    if (obs.connackCode !== undefined && obs.connackCode !== 0) return { at: obs.connackAt, why: 'close after a refusing CONNACK' };
    if (obs.connackCode === undefined) return { at: lastWrite + CONNECT_TIMEOUT_MS, why: 'CONNECT timeout' };
    const k = obs.serverKeepAlive ?? keepalive;
    if (k === undefined) return { at: Infinity, why: 'keep-alive unknown' };
    if (k === 0) return { at: Infinity, why: 'keep-alive 0' };
    return { at: lastWrite + k * 1500 + SWEEP_MS, why: `keep-alive ${k} s` };
  };

  let end = '';
  let confirming = false;
  for (;;) {
    if (resolved()) break;
    const now = Date.now();
    if (!parked && now - lastWrite >= limits.settleMs) {
      parked = true;
      settle();
    }
    const d = deadline();
    // the broker's timers tick in its workers' event loops, which run late on a loaded machine:
    // 30% of the timer's length on top of the grace
    const limit = d.why === 'answer' ? d.at : d.at + limits.graceMs + Math.max(0, d.at - lastWrite) * 0.3;
    // valid and poisoned sessions are always waited for (answerMs); a broker's timer past the run is not
    const cutShort = d.why !== 'answer';
    if (parked && cutShort && limit > limits.hardStop) {
      end = `open: ${d.why}${Number.isFinite(d.at) ? ' (after the run)' : ''}`;
      break;
    }
    if (now >= limit && !confirming) {
      // timers run before I/O callbacks in a loop turn: after a stall of this process, a close
      // may be waiting behind the deadline. Look again once pending I/O has been delivered.
      confirming = true;
      await waitEvent(250);
      continue;
    }
    if (now >= limit) {
      end = 'hung';
      if (mode === 'valid') violations.push(`valid session: no ${owedLeft.map((o) => `${typeName(o.type)}${o.packetId !== undefined ? ` ${o.packetId}` : ''}`).join(', ')} within ${limits.answerMs} ms`);
      else if (mode === 'poison' || mode === 'poisonConnect') violations.push(`poisoned session still open ${limits.answerMs} ms after "${plan.poison}"`);
      else violations.push(`hung: open ${now - lastWrite} ms after the last write, past the ${d.why} (+${Math.round(limit - d.at)} ms of grace)`);
      break;
    }
    await waitEvent(Math.min(limit, parked ? (cutShort ? limits.hardStop : limit) : lastWrite + limits.settleMs) - now);
  }

  if (end === '') end = describe(obs, closed, mode, closedAt - lastWrite, keepalive);
  judge(plan, obs, closed, owedLeft.length, violations);
  if (mode === 'valid' && !closed && plan.disconnect !== undefined) {
    wire.end(plan.disconnect);
    await waitEvent(500);
  }
  if (!closed) wire.destroy();
  settle();
  return { plan, target, end, violations: [...obs.violations, ...violations], parked, bytesSent, received: obs.types };
}

/** The mode's own rules, once the session has resolved. */
function judge(plan: Plan, obs: Observer, closed: boolean, owedLeft: number, violations: string[]): void {
  switch (plan.mode) {
    case 'valid':
      if (obs.connackCode !== 0) violations.push(`valid CONNECT ${obs.connackCode === undefined ? 'not answered' : `refused with 0x${hex(obs.connackCode)}`}`);
      else if (closed && owedLeft > 0) violations.push(`valid session closed by the broker with ${owedLeft} answer(s) owed`);
      return;
    case 'poison':
      // no CONNACK is allowed: the poison may come in the same read as the CONNECT, and a close needs none
      if (obs.connackCode !== undefined && obs.connackCode !== 0) violations.push(`the valid CONNECT before the poison was refused with 0x${hex(obs.connackCode)}`);
      if (obs.pingresps > 0) violations.push(`broker answered the PINGREQ after "${plan.poison}": the packet was accepted`);
      if (obs.disconnectCode !== undefined && obs.disconnectCode < 0x80) violations.push(`DISCONNECT 0x${hex(obs.disconnectCode)} after "${plan.poison}"`);
      return;
    case 'poisonConnect':
      if (obs.connackCode === 0) violations.push(`broker accepted "${plan.poison}" with CONNACK 0x00`);
      if (obs.pingresps > 0) violations.push(`broker answered a PINGREQ after "${plan.poison}"`);
      return;
    default:
  }
}

function describe(obs: Observer, closed: boolean, mode: string, closedAfter: number, keepalive: number | undefined): string {
  if (!closed) return mode === 'valid' ? 'answered (valid)' : 'answered (PINGRESP)';
  if (obs.disconnectCode !== undefined) return `closed after DISCONNECT 0x${hex(obs.disconnectCode)}`;
  if (obs.connackCode === undefined) return closedAfter >= CONNECT_TIMEOUT_MS - 2 * SWEEP_MS ? 'closed by the CONNECT timeout' : 'closed before CONNACK';
  if (obs.connackCode !== 0) return `closed after CONNACK 0x${hex(obs.connackCode)}`;
  const k = obs.serverKeepAlive ?? keepalive;
  if (k !== undefined && k > 0 && closedAfter >= k * 1500 - 2 * SWEEP_MS) return 'closed by keep-alive (no DISCONNECT)';
  return `closed after CONNACK 0x00 (${obs.v5 ? 'v5' : 'v3'}, no DISCONNECT)`;
}

const NAMES = ['type 0', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK',
  'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH'];

export function typeName(type: number): string {
  return NAMES[type] ?? String(type);
}


/**
 * One fuzz session, decided entirely by (campaign seed, session number): its mode, protocol
 * level, listener, the packets and how they are mutated, how the byte stream is cut into writes
 * and the pauses between them, and what the broker owes in return. Nothing here depends on time
 * or on the broker's answers, so `planSession(seed, n)` replays a session byte for byte.
 *
 * Modes:
 * - valid: a unique client's well-formed session; every answer owed must come, no close.
 * - poison: a valid session, then one packet the broker must refuse (poison.ts); it must close.
 * - poisonConnect: a CONNECT the broker must refuse; never a CONNACK 0x00.
 * - mutate: a session of valid, foreign-version and fixture packets, some mutated (mutate.ts).
 * - noise: random bytes, alone or after a valid CONNECT.
 * called from: tests, scripts/fuzz.ts
 */
import { fixtureBytes, packetFixtures } from '../../fixtures/packets.ts';
import { PacketType } from '../packets.ts';
import { mutate } from './mutate.ts';
import { connectPoison, sessionPoison } from './poison.ts';
import { mix, Rng } from './prng.ts';
import { ValidGen, type Gen, type Owed, type Version } from './valid.ts';

export type Mode = 'valid' | 'poison' | 'poisonConnect' | 'mutate' | 'noise';

export interface PlanOptions {
  /** how many targets (listeners) the session may pick from */
  readonly targets: number;
  /** the broker's Topic Alias Maximum */
  readonly maxTopicAlias: number;
}

export interface Plan {
  /** "seed:n", what `scripts/fuzz.ts --replay` takes */
  readonly id: string;
  readonly mode: Mode;
  /** the protocol level the session was built for (a mutation may change what the broker sees) */
  readonly version: Version;
  readonly target: number;
  /** the byte stream, cut into writes */
  readonly writes: readonly Buffer[];
  /** before writes[i]: 0 = write at once, -1 = next event-loop turn, > 0 = milliseconds */
  readonly pauses: readonly number[];
  /** packets generated (before mutation) */
  readonly packets: number;
  /** valid mode: the answers the broker owes, in any order */
  readonly owed: readonly Owed[];
  /** valid mode: sent once every owed answer came */
  readonly disconnect?: Buffer;
  readonly poison?: string;
  readonly mutations: readonly string[];
  /** how the stream was cut */
  readonly cut: string;
  /** the CONNECT's keep-alive when it went out unmutated */
  readonly keepalive?: number;
}

const seedFixtures = packetFixtures.filter((f) => f.expectReason === undefined && !f.hex.startsWith('10'));

function sessionVersion(rng: Rng): Version {
  return rng.weighted<Version>([[1, 3], [4, 4], [5, 5]]);
}

/** Builds session `n` of campaign `seed`. */
export function planSession(seed: number, n: number, opts: PlanOptions): Plan {
  const rng = new Rng(mix(seed, n));
  const id = `${seed}:${n}`;
  const mode = rng.weighted<Mode>([[15, 'valid'], [15, 'poison'], [10, 'poisonConnect'], [55, 'mutate'], [5, 'noise']]);
  const version = sessionVersion(rng);
  const target = rng.int(opts.targets);
  const unique = `fv-${seed.toString(36)}-${n}`;
  const packets: Buffer[] = [];
  const owed: Owed[] = [];
  const mutations: string[] = [];
  let poison: string | undefined;
  let disconnect: Buffer | undefined;
  let keepalive: number | undefined;
  const add = (g: Gen) => {
    packets.push(g.bytes);
    if (g.owed) owed.push(g.owed);
  };

  switch (mode) {
    case 'valid': {
      const gen = new ValidGen(rng, { version, clientId: unique, maxTopicAlias: opts.maxTopicAlias, ephemeral: true });
      keepalive = gen.keepalive;
      add(gen.connect());
      for (let i = rng.range(0, 8); i > 0; i--) add(gen.next());
      add(gen.pingreq());
      if (rng.chance(0.8)) disconnect = gen.disconnect().bytes;
      break;
    }
    case 'poison': {
      const gen = new ValidGen(rng, { version, clientId: unique, maxTopicAlias: opts.maxTopicAlias, ephemeral: true });
      keepalive = gen.keepalive;
      packets.push(gen.connect().bytes);
      for (let i = rng.range(0, 4); i > 0; i--) {
        const g = gen.next();
        if (g.type !== PacketType.PINGREQ) packets.push(g.bytes); // a PINGRESP must mean the poison was ignored
      }
      const p = sessionPoison(rng, version, opts.maxTopicAlias);
      poison = p.name;
      packets.push(p.bytes, gen.pingreq().bytes);
      break;
    }
    case 'poisonConnect': {
      const p = connectPoison(rng, version);
      poison = p.name;
      packets.push(p.bytes);
      const gen = new ValidGen(rng, { version, maxTopicAlias: opts.maxTopicAlias, ephemeral: false });
      for (let i = rng.range(0, 3); i > 0; i--) packets.push(gen.next().bytes);
      packets.push(gen.pingreq().bytes);
      break;
    }
    case 'mutate': {
      const gen = new ValidGen(rng, { version, maxTopicAlias: opts.maxTopicAlias, ephemeral: rng.chance(0.5) });
      const other = new ValidGen(rng, { version: version === 5 ? 4 : 5, maxTopicAlias: opts.maxTopicAlias, ephemeral: true });
      packets.push(gen.connect().bytes);
      for (let i = rng.range(0, 10); i > 0; i--) {
        packets.push(rng.weighted<() => Buffer>([
          [80, () => gen.next().bytes],
          [5, () => (version === 5 ? gen.auth().bytes : gen.next().bytes)],
          [5, () => fixtureBytes(rng.pick(seedFixtures))],
          [5, () => sessionPoison(rng, version, opts.maxTopicAlias).bytes],
          [5, () => other.next().bytes],
        ])());
      }
      if (rng.chance(0.1)) packets.push(gen.disconnect().bytes);
      const count = packets.length;
      if (rng.chance(0.85)) {
        for (let k = rng.range(1, 3); k > 0; k--) {
          // the CONNECT is mutated in about one session in three
          const i = rng.chance(0.3) ? 0 : rng.int(count);
          const m = mutate(rng, packets[i]!, version);
          packets[i] = m.bytes;
          mutations.push(`${m.name}@${i}`);
        }
      } else {
        const stream = Buffer.concat(packets);
        const m = mutate(rng, stream, version);
        packets.length = 0;
        packets.push(m.bytes);
        mutations.push(`${m.name}@stream`);
      }
      if (rng.chance(0.7)) packets.push(gen.pingreq().bytes);
      break;
    }
    case 'noise': {
      if (rng.chance(0.5)) packets.push(new ValidGen(rng, { version, maxTopicAlias: opts.maxTopicAlias, ephemeral: true }).connect().bytes);
      packets.push(rng.bytes(rng.range(1, 300)));
      if (rng.chance(0.5)) packets.push(Buffer.from([0xc0, 0x00]));
      break;
    }
  }

  const { writes, pauses, cut } = cutStream(rng, packets);
  return {
    id, mode, version, target, writes, pauses, packets: packets.length, owed, disconnect, poison, mutations, cut, keepalive,
  };
}

/**
 * Cuts the packets into writes: one per packet, all in one (several packets per write), at random
 * places (a packet split over writes), or byte by byte; with pauses so that the broker sees the
 * pieces in separate reads.
 */
function cutStream(rng: Rng, packets: readonly Buffer[]): { writes: Buffer[]; pauses: number[]; cut: string } {
  const stream = Buffer.concat(packets);
  let writes: Buffer[];
  const cut = rng.weighted<string>([[40, 'perPacket'], [25, 'oneWrite'], [30, 'randomSplit'], [5, 'bytewise']]);
  switch (cut) {
    case 'perPacket':
      writes = packets.filter((p) => p.length > 0);
      break;
    case 'oneWrite':
      writes = [stream];
      break;
    case 'bytewise':
      writes = stream.length <= 400 ? [...stream].map((b) => Buffer.from([b])) : [stream];
      break;
    default: {
      const points = new Set<number>();
      for (let i = rng.range(1, 6); i > 0; i--) points.add(rng.range(1, Math.max(1, stream.length - 1)));
      const sorted = [...points].filter((p) => p < stream.length).sort((a, b) => a - b);
      writes = [];
      let prev = 0;
      for (const p of sorted) {
        writes.push(stream.subarray(prev, p));
        prev = p;
      }
      writes.push(stream.subarray(prev));
    }
  }
  if (writes.length === 0) writes = [stream];
  const pauses = writes.map((_, i) => (i === 0 ? 0 : rng.weighted([[70, 0], [25, -1], [5, rng.range(1, 20)]])));
  return { writes, pauses, cut };
}

/**
 * What a worker keeps alive per unit (a connection): two heap snapshots of the same thread, one
 * before the load and one while it is held, compared by object kind (V8's node type and
 * constructor name) as bytes and objects per unit. Exact, unlike sampling: each row is what
 * every connection holds (e.g. 1.00 Connection of 312 B, 2.00 Deque).
 *   node native-bench/profile/heldSummary.ts BEFORE.heapsnapshot HELD.heapsnapshot UNITS [--top N]
 * called from: native-bench/profile/held.sh, the command line (never part of the broker)
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** count and self size by "type:name" (strings and code summed as one kind each) */
function kinds(file: string): Map<string, { count: number; bytes: number }> {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + typeAt]!]!;
    const name = type.endsWith('string') ? '(strings)' : type === 'code' ? '(code)' : s.strings[s.nodes[i + nameAt]!]!.slice(0, 60);
    const key = `${type}:${name}`;
    const k = out.get(key) ?? { count: 0, bytes: 0 };
    k.count++;
    k.bytes += s.nodes[i + sizeAt]!;
    out.set(key, k);
  }
  return out;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' } } });
const [before, held, unitsArg] = positionals;
if (before === undefined || held === undefined || unitsArg === undefined) throw new Error('usage: heldSummary.ts BEFORE HELD UNITS [--top N]');
const units = Number(unitsArg);
const a = kinds(before);
const rows: { key: string; count: number; bytes: number }[] = [];
for (const [key, k] of kinds(held)) {
  const was = a.get(key) ?? { count: 0, bytes: 0 };
  rows.push({ key, count: (k.count - was.count) / units, bytes: (k.bytes - was.bytes) / units });
}
// kinds that about every unit holds once or more: the per-unit set, not start-up leftovers
const perUnit = rows.filter((r) => r.count >= 0.9).sort((x, y) => y.bytes - x.bytes);
const total = perUnit.reduce((sum, r) => sum + r.bytes, 0);
console.log(`${total.toFixed(0)} B of heap per unit in the kinds every unit holds (${units} units; 'native:' rows are Node's C++ objects as V8 sees them)`);
for (const r of perUnit.slice(0, Number(values.top))) console.log(`${r.bytes.toFixed(0).padStart(7)} B  ${r.count.toFixed(2).padStart(5)} per unit  ${r.key}`);

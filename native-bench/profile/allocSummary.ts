/**
 * Reads a sampled allocation profile (.heapprofile from allocSampler.mjs) and prints bytes
 * allocated per unit (a connection, a message) by allocating function, or, with --callers NAME,
 * by the call stacks that reach NAME.
 *   node native-bench/profile/allocSummary.ts FILE UNITS [--top N] [--callers NAME] [--depth D]
 * called from: the command line (never part of the broker)
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, callers: { type: 'string' }, depth: { type: 'string', default: '4' } },
});
const [file, unitsText] = positionals;
if (file === undefined) throw new Error('usage: allocSummary.ts FILE UNITS [--top N] [--callers NAME] [--depth D]');
const units = Number(unitsText ?? 1);
const head = (JSON.parse(readFileSync(file, 'utf8')) as { head: Node }).head;
const name = (n: Node) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*\/(src|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
const inclusive = (n: Node): number => n.children.reduce((sum, c) => sum + inclusive(c), n.selfSize);
const per = (bytes: number) => (bytes / units).toFixed(0).padStart(8);

const totals = new Map<string, number>();
const add = (key: string, bytes: number) => totals.set(key, (totals.get(key) ?? 0) + bytes);
const walk = (n: Node, stack: string[]): void => {
  const here = [...stack, name(n)];
  if (values.callers === undefined) add(name(n), n.selfSize);
  else if ((n.callFrame.functionName || '(anon)') === values.callers) {
    add(here.slice(-Number(values.depth) - 1, -1).reverse().join(' < '), inclusive(n));
    return;
  }
  for (const c of n.children) walk(c, here);
};
walk(head, []);
console.log(`${per(inclusive(head))}  bytes allocated per unit in all (${units} units)`);
for (const [key, bytes] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`${per(bytes)}  ${key}`);

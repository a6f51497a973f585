/**
 * The table of a scale.sh run: for each scenario and metric, Mosquitto once and culex and the
 * floor at each worker count (medians), with culex ÷ Mosquitto and culex ÷ floor.
 *   node native-bench/scale-table.ts RESULTS_FOLDER
 * called from: main
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { METRICS } from './runner/scenarios.ts';
import type { ScenarioSummary } from './runner/stats.ts';
import { human } from './runner/table.ts';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: scale-table.ts RESULTS_FOLDER');

function summary(sub: string): ScenarioSummary[] {
  const file = path.join(dir!, sub, 'latest.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { summary: ScenarioSummary[] }).summary : [];
}

const mosquitto = summary('mosquitto');
const counts = readdirSync(dir).filter((d) => /^w\d+$/.test(d)).map((d) => Number(d.slice(1))).sort((a, b) => a - b);
const byWorkers = new Map(counts.map((w) => [w, summary(`w${w}`)]));
const rows = ['| scenario | metric | workers | culex | floor | mosquitto | culex / mosquitto | culex / floor |', '| --- | --- | --- | --- | --- | --- | --- | --- |'];
for (const m of mosquitto) {
  for (const metric of m.compare) {
    const mos = m.brokers.mosquitto?.metrics[metric]?.median;
    for (const w of counts) {
      const s = byWorkers.get(w)!.find((x) => x.scenario === m.scenario);
      const c = s?.brokers.culex?.metrics[metric]?.median;
      const f = s?.brokers.floor?.metrics[metric]?.median;
      const ratio = (a: number | undefined, b: number | undefined): string => (a !== undefined && b !== undefined && b > 0 ? (a / b).toFixed(2) : '–');
      const v = (x: number | undefined): string => (x === undefined ? '–' : human(x));
      rows.push(`| ${m.scenario} | ${METRICS[metric].label} | ${w} | ${v(c)} | ${v(f)} | ${v(mos)} | ${ratio(c, mos)} | ${ratio(c, f)} |`);
    }
  }
}
process.stdout.write(rows.join('\n') + '\n');

/**
 * An SVG bar chart of culex's advantage over Mosquitto per scenario and metric, on a log2
 * axis centred on 1 (bars to the right: culex better). Written by hand, no package.
 */
import { METRICS } from './scenarios.ts';
import type { ScenarioSummary } from './stats.ts';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The chart as an SVG document; `subtitle` lines name the machine, versions and date. */
export function renderChart(summaries: readonly ScenarioSummary[], subtitle: readonly string[]): string {
  const bars = summaries.flatMap((s) => s.ratios.filter((r) => r.versus === 'mosquitto').map((r) => ({ label: `${s.scenario}: ${METRICS[r.metric].label}`, adv: r.advantage })));
  const rowH = 28;
  const labelW = 330;
  const plotW = 460;
  const top = 50 + 18 * subtitle.length;
  const width = labelW + plotW + 90;
  const height = top + Math.max(1, bars.length) * rowH + 50;
  const maxLog = Math.max(2, ...bars.map((b) => Math.ceil(Math.abs(Math.log2(b.adv)))));
  const x = (adv: number): number => labelW + plotW / 2 + (Math.log2(adv) / maxLog) * (plotW / 2);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="22" font-size="16" font-weight="bold">culex vs Mosquitto: culex advantage (×, log scale; right of 1 = culex better)</text>`,
    ...subtitle.map((line, i) => `<text x="12" y="${42 + 18 * i}" fill="#555">${esc(line)}</text>`),
  ];
  for (let k = -maxLog; k <= maxLog; k++) {
    const gx = x(2 ** k);
    parts.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${height - 40}" stroke="${k === 0 ? '#000' : '#ddd'}"/>`);
    parts.push(`<text x="${gx}" y="${height - 24}" text-anchor="middle" fill="#555">${k < 0 ? `1/${2 ** -k}` : 2 ** k}</text>`);
  }
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const x0 = x(1);
    const x1 = x(Math.min(2 ** maxLog, Math.max(2 ** -maxLog, b.adv)));
    const color = b.adv >= 1 ? '#2b8a3e' : '#c92a2a';
    parts.push(`<text x="${labelW - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(b.label)}</text>`);
    parts.push(`<rect x="${Math.min(x0, x1)}" y="${y + 5}" width="${Math.max(1, Math.abs(x1 - x0))}" height="${rowH - 10}" fill="${color}"/>`);
    const tx = b.adv >= 1 ? x1 + 6 : x1 - 6;
    parts.push(`<text x="${tx}" y="${y + rowH / 2 + 4}" text-anchor="${b.adv >= 1 ? 'start' : 'end'}">${b.adv.toFixed(2)}×</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/**
 * A tiny timing harness for the micro-benchmarks: runs a batch function repeatedly for a fixed
 * time after a warm-up and prints operations per second (median of 5 samples, and the range).
 * Before/after numbers for a hot-path change: run the same file on both commits.
 */

/** `fn` performs `opsPerCall` operations per call. */
export function bench(name: string, opsPerCall: number, fn: () => void, sampleMs = 300): number {
  const samples: number[] = [];
  const warmEnd = performance.now() + sampleMs;
  while (performance.now() < warmEnd) fn();
  for (let s = 0; s < 5; s++) {
    let calls = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < sampleMs) {
      fn();
      calls++;
      t = performance.now();
    }
    samples.push((calls * opsPerCall) / ((t - t0) / 1000));
  }
  samples.sort((a, b) => a - b);
  const median = samples[2]!;
  process.stdout.write(`${name.padEnd(52)} ${fmt(median).padStart(9)} ops/s  (${fmt(samples[0]!)}–${fmt(samples[4]!)})\n`);
  return median;
}

/** 1234567 -> "1.23M" */
export function fmt(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(0);
}

/** A header line naming the machine's Node, so pasted numbers say where they come from. */
export function header(title: string): void {
  process.stdout.write(`# ${title} — node ${process.version}\n`);
}

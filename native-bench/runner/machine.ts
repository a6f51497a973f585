/** What the benchmark ran on, recorded with every result. */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly os: string;
  readonly kernel: string;
  readonly node: string;
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

export function machineInfo(): MachineInfo {
  const osRelease = readOr('/etc/os-release', '');
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: /PRETTY_NAME="([^"]*)"/.exec(osRelease)?.[1] ?? os.type(),
    kernel: os.release(),
    node: process.version,
  };
}

/** "AMD EPYC, 2 cores, 24 GB, Debian GNU/Linux 12 (bookworm), Linux 6.1" */
export function describeMachine(m: MachineInfo): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}, Linux ${m.kernel}`;
}

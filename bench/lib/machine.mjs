// Machine notes for RESULTS.md: CPU, cores, memory, Node, SQLite, fsync latency, load.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';

function cpuModel() {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim();
    const mhz = /^cpu MHz\s*:\s*([\d.]+)$/m.exec(info)?.[1];
    return `${model ?? cpus()[0]?.model ?? 'unknown'}${mhz ? ` @ ${Math.round(Number(mhz))} MHz` : ''}`;
  } catch {
    return cpus()[0]?.model ?? 'unknown';
  }
}

/** Median latency of a 4 KiB append + fsync in `dir`: what one durable commit costs on this disk. */
function fsyncLatencyUs(dir) {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'fsync-probe');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  const times = [];
  try {
    for (let i = 0; i < 200; i++) {
      const t = process.hrtime.bigint();
      writeSync(fd, block);
      fsyncSync(fd);
      times.push(Number(process.hrtime.bigint() - t) / 1000);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  times.sort((a, b) => a - b);
  return Math.round(times[times.length >> 1]);
}

/** @param {string} dataDir  where the benchmark writes (fsync is probed there) */
export function machineNotes(dataDir, sqlite) {
  return {
    cpu: cpuModel(),
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    sqlite,
    fsyncUs: fsyncLatencyUs(dataDir),
    loadAvg: loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
}

/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), so tests check
 * that `store.metrics()` is what a Prometheus server would accept, not just that it contains
 * some text: every line is a HELP, a TYPE or a sample; names, labels and values are well formed;
 * every sample belongs to a declared family; histograms have cumulative buckets ending at +Inf.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;

export function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      const name = line.slice(7).split(' ')[0]!;
      if (!NAME.test(name)) throw new Error(`bad HELP line: ${line}`);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      if (!NAME.test(name!) || !['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type!)) {
        throw new Error(`bad TYPE line: ${line}`);
      }
      if (types.has(name!)) throw new Error(`TYPE repeated: ${line}`);
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith('#')) throw new Error(`unexpected comment: ${line}`);
    const match = SAMPLE.exec(line);
    if (match === null) throw new Error(`bad sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (match[3] !== undefined && match[3] !== '') {
      LABEL.lastIndex = 0;
      let end = 0;
      while (end < match[3].length) {
        const label = LABEL.exec(match[3]);
        if (label === null) throw new Error(`bad labels: ${line}`);
        if (labels[label[1]!] !== undefined) throw new Error(`label repeated: ${line}`);
        labels[label[1]!] = label[2]!;
        end = LABEL.lastIndex;
      }
    }
    const raw = match[4]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    if (raw !== 'NaN' && Number.isNaN(value)) throw new Error(`bad value: ${line}`);
    const family = match[1]!.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(match[1]!) && types.get(family) !== 'histogram') throw new Error(`sample without a TYPE: ${line}`);
    samples.push({ name: match[1]!, labels, value });
  }
  checkHistograms(samples, types);
  return { samples, types };
}

function checkHistograms(samples: Sample[], types: Map<string, string>): void {
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const s of samples.filter((x) => x.name === `${family}_bucket`)) {
      const { le, ...rest } = s.labels;
      if (le === undefined) throw new Error(`bucket without le in ${family}`);
      const id = JSON.stringify(rest);
      series.set(id, [...(series.get(id) ?? []), s]);
    }
    for (const [id, buckets] of series) {
      let last = -1;
      let bound = -Infinity;
      for (const b of buckets) {
        const le = b.labels.le === '+Inf' ? Infinity : Number(b.labels.le);
        if (!(le > bound) || b.value < last) throw new Error(`buckets not cumulative in ${family} ${id}`);
        bound = le;
        last = b.value;
      }
      if (bound !== Infinity) throw new Error(`no +Inf bucket in ${family} ${id}`);
      const count = samples.find((s) => s.name === `${family}_count` && JSON.stringify(s.labels) === id);
      if (count?.value !== last) throw new Error(`_count differs from the +Inf bucket in ${family} ${id}`);
    }
  }
}

/** The value of the one sample named `name` whose labels include `labels`; undefined when none. */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

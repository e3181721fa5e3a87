import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where each benchmark leaves its result for the run summary (set by the global setup). */
export const RESULTS_DIR_ENV = 'LEADRELAY_BENCH_RESULTS_DIR';

/** A measured figure compared with a target: printed PASS/MISS, never fails the run. */
export interface BenchTarget {
  name: string;
  value: number;
  unit: string;
  /** e.g. `>= 0.80` */
  target: string;
  pass: boolean;
}

/** A correctness condition (no lead lost, none dead): a failed one fails the run. */
export interface BenchIntegrity {
  name: string;
  ok: boolean;
  detail: string;
}

export interface BenchResult {
  id: string;
  title: string;
  figures: Record<string, { value: number | string; unit: string; headline?: boolean }>;
  targets: BenchTarget[];
  integrity: BenchIntegrity[];
  notes: string[];
}

export function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Formats a number for people: at most 3 significant decimals, thousands kept readable. */
export function fmt(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return Math.abs(value) >= 1000 ? Math.round(value).toLocaleString('en-US') : value.toFixed(digits);
}

/** One benchmark's figures, targets and integrity checks: printed as they come, saved for the summary. */
export class BenchReport {
  private readonly result: BenchResult;

  constructor(id: string, title: string) {
    this.result = { id, title, figures: {}, targets: [], integrity: [], notes: [] };
    console.log(`\n=== ${id}: ${title} ===`);
  }

  get data(): BenchResult {
    return this.result;
  }

  /** A plain measurement; a `headline` one is repeated in the run's summary table. */
  figure(name: string, value: number | string, unit = '', options: { headline?: boolean } = {}): void {
    this.result.figures[name] = { value: typeof value === 'number' ? Number(value.toFixed(4)) : value, unit, ...(options.headline ? { headline: true } : {}) };
    console.log(`  ${name}: ${typeof value === 'number' ? fmt(value) : value}${unit ? ` ${unit}` : ''}`);
  }

  note(text: string): void {
    this.result.notes.push(text);
    console.log(`  note: ${text}`);
  }

  atLeast(name: string, value: number, min: number, unit = ''): BenchTarget {
    return this.target({ name, value, unit, target: `>= ${fmt(min)}${unit ? ` ${unit}` : ''}`, pass: value >= min });
  }

  atMost(name: string, value: number, max: number, unit = ''): BenchTarget {
    return this.target({ name, value, unit, target: `<= ${fmt(max)}${unit ? ` ${unit}` : ''}`, pass: value <= max });
  }

  /** Records a correctness condition; the caller fails the benchmark when any is not ok (see `assertIntegrity`). */
  integrity(name: string, ok: boolean, detail: string): void {
    this.result.integrity.push({ name, ok, detail });
    console.log(`  [${ok ? ' OK ' : 'FAIL'}] ${name}: ${detail}`);
  }

  /** Throws (failing the run) when a correctness condition failed; saves first so the summary shows it. */
  assertIntegrity(): void {
    this.save();
    const failed = this.result.integrity.filter((i) => !i.ok);
    if (failed.length > 0) throw new Error(`${this.result.id}: ${failed.map((f) => `${f.name}: ${f.detail}`).join('; ')}`);
  }

  save(): void {
    const dir = process.env[RESULTS_DIR_ENV];
    if (dir) writeFileSync(join(dir, `${this.result.id}.json`), JSON.stringify(this.result, null, 2));
  }

  private target(t: BenchTarget): BenchTarget {
    this.result.targets.push(t);
    console.log(`  [${t.pass ? 'PASS' : 'MISS'}] ${t.name}: ${fmt(t.value)}${t.unit ? ` ${t.unit}` : ''} (target ${t.target})`);
    return t;
  }
}

/** The run's final table: every target and every failed integrity check, one line each. */
export function formatSummary(results: BenchResult[]): string {
  const rows: string[][] = [['benchmark', 'measure', 'value', 'target', 'verdict']];
  for (const r of results) {
    for (const [name, f] of Object.entries(r.figures)) {
      if (f.headline) rows.push([r.id, name, `${typeof f.value === 'number' ? fmt(f.value) : f.value}${f.unit ? ` ${f.unit}` : ''}`, '', '']);
    }
    for (const t of r.targets) rows.push([r.id, t.name, `${fmt(t.value)}${t.unit ? ` ${t.unit}` : ''}`, t.target, t.pass ? 'PASS' : 'MISS']);
    for (const i of r.integrity) rows.push([r.id, i.name, i.detail.length > 48 ? `${i.detail.slice(0, 45)}...` : i.detail, 'must hold', i.ok ? 'OK' : 'FAIL']);
  }
  if (rows.length === 1) return 'No benchmark results (did every benchmark crash before measuring?).';
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ');
  return ['Benchmark summary', line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

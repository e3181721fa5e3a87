/** Where commands print: data to stdout, progress and problems to stderr. Tests pass their own. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
  /** True when progress may be drawn (stderr is a terminal and --json is off). */
  interactive: boolean;
}

export const processOutput = (json: boolean): Output => ({
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  interactive: !json && Boolean(process.stderr.isTTY),
});

/** A plain aligned table; empty cells print as '-'. */
export function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cell = (v: unknown) => (v === undefined || v === null || v === '' ? '-' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => (i === vals.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}

/** Draws `label done/total` on one terminal line; silent when not interactive. */
export function progress(output: Output, label: string, total?: number): { update(done: number): void; end(): void } {
  let drawn = false;
  return {
    update(done) {
      if (!output.interactive) return;
      process.stderr.write(`\r${label} ${done}${total === undefined ? '' : `/${total}`}`);
      drawn = true;
    },
    end() {
      if (drawn) process.stderr.write('\n');
    },
  };
}

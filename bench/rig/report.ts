// What the benchmarks print: progress on stderr, figures and tables on stdout, and the number
// formats and statistics they use.

/** A progress line on stderr, after `prefix`. */
export const progressWith =
  (prefix: string) =>
  (line: string): void => {
    process.stderr.write(`${prefix}${line}\n`);
  };
export const progress = progressWith('  ');
/** A line of the report on stdout. */
export const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

/** en-US grouping, `digits` decimals; '–' for NaN and infinities. */
export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : '–';
export const mb = (bytes: number): string => `${fmt(bytes / 2 ** 20, 1)} MiB`;
export const kb = (bytes: number): string => `${fmt(bytes / 1024, 1)} KiB`;

/** The nearest-rank percentile (p in 0..100); NaN for no values. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (!values.length) return NaN;
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
export const mean = (v: number[]): number => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);

/** A plain-text table: the first `leftColumns` columns left-aligned, the others right-aligned. */
export function table(head: string[], rows: string[][], leftColumns = 1): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

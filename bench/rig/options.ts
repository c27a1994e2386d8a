// Command-line options shared by the benchmarks: `--name value` flags, numbers with a full-size and a
// `--quick` default, switches, and `--help` (the usage comment at the top of the script).
import { readFileSync } from 'node:fs';

/** `--quick`: small sizes, a smoke run of a few minutes. */
export const QUICK = process.argv.includes('--quick');

/** A switch such as `--no-wait`. */
export const has = (name: string): boolean => process.argv.includes(`--${name}`);

/** The value after `--name`, if given. */
export function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** A number option: `full` by default, `quick` with `--quick`; a given value must be a number >= min. */
export function num(name: string, full: number, quick = full, min = 0): number {
  const raw = flag(name);
  if (raw === undefined) return QUICK ? quick : full;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} ${raw} is not a number >= ${min}`);
  return n;
}

/**
 * With `--help`, prints the script's opening comment (its usage) and returns true. `file` is the
 * script's `__filename`.
 */
export function printedHelp(file: string): boolean {
  if (!has('help')) return false;
  const head = readFileSync(file, 'utf8').split('\n');
  const end = head.findIndex((l) => !l.startsWith('//'));
  process.stdout.write(
    `${head
      .slice(0, end)
      .map((l) => l.replace(/^\/\/ ?/, ''))
      .join('\n')}\n`,
  );
  return true;
}

/** Runs a script's main and exits: 0 when it resolves, 1 with the error's stack on stderr. */
export function runMain(main: () => Promise<void>, prefix = 'bench: '): void {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      process.stderr.write(`${prefix}${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

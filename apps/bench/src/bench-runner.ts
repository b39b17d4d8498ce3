import { parseArgs } from 'node:util';
import { table } from './stats';

/**
 * The one way a bench command line reads its options and reports: node's own `parseArgs`, one
 * usage format (`--help`), every value checked once before the bench starts (the error names the
 * option), results on stdout as tables, progress on stderr, a failure as one line and exit code 1.
 */

/** One option: how its text becomes a value, its help line, and its default. */
export interface BenchOption<T> {
  readonly help: string;
  /** What the usage shows after the flag (`<n>`, `<list>`); absent for a flag (present or not). */
  readonly arg?: string;
  readonly fallback?: T;
  /** No default: the bench refuses to start without it. */
  readonly required?: boolean;
  /** The value of `text`; throws a UsageError naming `--flag` when it is not one. */
  read(text: string, flag: string): T;
}

export type OptionSpecs = Record<string, BenchOption<unknown>>;
export type OptionValues<S extends OptionSpecs> = { [K in keyof S]: S[K] extends BenchOption<infer T> ? T : never };

/** A bad command line: printed with a pointer to `--help`, exit code 2. */
export class UsageError extends Error {}

function checked(flag: string, text: string, ok: (n: number) => boolean, expected: string): number {
  const value = text.trim() === '' ? NaN : Number(text);
  if (!ok(value)) throw new UsageError(`--${flag} expects ${expected}, got '${text}'`);
  return value;
}

const listOf = (text: string) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

function numeric(help: string, fallback: number, ok: (n: number) => boolean, expected: string): BenchOption<number> {
  return { help, arg: '<n>', fallback, read: (text, flag) => checked(flag, text, ok, expected) };
}

/** The kinds of option a bench takes. */
export const opt = {
  /** A number above 0. */
  positive: (help: string, fallback: number) => numeric(help, fallback, (n) => n > 0, 'a number above 0'),
  /** A whole number, `min` or more (0 unless given). */
  whole: (help: string, fallback: number, min = 0) =>
    numeric(help, fallback, (n) => Number.isInteger(n) && n >= min, `a whole number ≥ ${min}`),
  /** Like `whole`, with no default: absent means "the service's own default". */
  wholeOrUnset: (help: string, min = 1): BenchOption<number | undefined> => ({
    help,
    arg: '<n>',
    read: (text, flag) => checked(flag, text, (n) => Number.isInteger(n) && n >= min, `a whole number ≥ ${min}`),
  }),
  /** Comma-separated numbers above 0. */
  positives: (help: string, fallback: string): BenchOption<number[]> => ({
    help,
    arg: '<list>',
    fallback: listOf(fallback).map(Number),
    read(text, flag) {
      const items = listOf(text);
      if (items.length === 0) throw new UsageError(`--${flag} expects a comma-separated list, got '${text}'`);
      return items.map((item) => checked(flag, item, (n) => n > 0, 'numbers above 0'));
    },
  }),
  /** Comma-separated names from `allowed` (none: an empty list). */
  list: <T extends string>(help: string, allowed: readonly T[], fallback: string): BenchOption<T[]> => ({
    help: `${help} (${allowed.join(', ')})`,
    arg: '<list>',
    fallback: listOf(fallback) as T[],
    read(text, flag) {
      const items = listOf(text);
      const bad = items.find((item) => !allowed.includes(item as T));
      if (bad !== undefined) throw new UsageError(`--${flag}: '${bad}' is not one of ${allowed.join(', ')}`);
      return items as T[];
    },
  }),
  /** One of `allowed`. */
  choice: <T extends string>(help: string, allowed: readonly T[], fallback: T): BenchOption<T> => ({
    help: `${help} (${allowed.join(', ')})`,
    arg: '<name>',
    fallback,
    read(text, flag) {
      if (!allowed.includes(text as T))
        throw new UsageError(`--${flag} expects one of ${allowed.join(', ')}, got '${text}'`);
      return text as T;
    },
  }),
  /** Free text (a path, a URL); `arg` names it in the usage. */
  text: (help: string, fallback: string, arg = '<text>'): BenchOption<string> => ({
    help,
    arg,
    fallback,
    read: (text) => text,
  }),
  /** Free text the bench cannot start without. */
  required: (help: string, arg = '<text>'): BenchOption<string> => ({
    help,
    arg,
    required: true,
    read: (text) => text,
  }),
  /** Free text that may be absent. */
  optional: (help: string, arg = '<text>'): BenchOption<string | undefined> => ({ help, arg, read: (text) => text }),
  /** `KEY=VALUE,…` settings for a spawned service. */
  settings: (help: string, fallback: string): BenchOption<Record<string, string>> => ({
    help,
    arg: '<list>',
    fallback: settingsOf(fallback, ''),
    read: (text, flag) => settingsOf(text, flag),
  }),
  /** Present or not. */
  flag: (help: string): BenchOption<boolean> => ({ help, fallback: false, read: () => true }),
};

function settingsOf(text: string, flag: string): Record<string, string> {
  return Object.fromEntries(
    listOf(text).map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new UsageError(`--${flag} expects KEY=VALUE pairs, got '${pair}'`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

/** `workerMetrics` → `worker-metrics`. */
const flagName = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The usage text `--help` prints. */
export function usage(command: string, about: string, options: OptionSpecs, positionals?: string): string {
  const rows = Object.entries(options).map(([key, spec]) => {
    const left = `--${flagName(key)}${spec.arg ? ` ${spec.arg}` : ''}`;
    const shown = spec.fallback === undefined || spec.fallback === false ? '' : String(spec.fallback);
    const fallback = shown === '' ? '' : ` [${shown}]`;
    return [left, `${spec.help}${spec.required ? ' (required)' : fallback}`];
  });
  const width = Math.max(...rows.map(([left]) => left.length), '--help'.length);
  return [
    `usage: ${command} [options]${positionals ? ` ${positionals}` : ''}`,
    '',
    about,
    '',
    'options:',
    ...[...rows, ['--help', 'this text']].map(([left, right]) => `  ${left.padEnd(width)}  ${right}`),
  ].join('\n');
}

/** Reads `argv` against `options`: every value checked, a default for each absent one. */
export function parseBenchArgs<S extends OptionSpecs>(
  argv: readonly string[],
  options: S,
  takesPositionals = false,
): OptionValues<S> & { help: boolean; positionals: string[] } {
  const config = Object.fromEntries(
    Object.entries(options).map(([key, spec]) => [flagName(key), { type: spec.arg ? 'string' : 'boolean' } as const]),
  );
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: { ...config, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: takesPositionals,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const parsed: Record<string, unknown> = { help: values.help === true, positionals };
  for (const [key, spec] of Object.entries(options)) {
    const text = values[flagName(key)];
    if (text === undefined && spec.required && !parsed.help) throw new UsageError(`--${flagName(key)} is required`);
    parsed[key] = text === undefined ? spec.fallback : spec.read(String(text), flagName(key));
  }
  return parsed as OptionValues<S> & { help: boolean; positionals: string[] };
}

/**
 * Runs a bench: parses the command line, prints usage for `--help`, then `main`. A number it
 * returns is the exit code (for benches that leave handles open, or report a failed check).
 */
export function runBench<S extends OptionSpecs>(
  cli: {
    /** The npm script (`bench:run`), or with `command` a name for messages. */
    name: string;
    /** How it is run, where not `npm run <name> --`. */
    command?: string;
    about: string;
    options: S;
    /** The usage of its positional arguments; absent: it takes none. */
    positionals?: string;
  },
  main: (options: OptionValues<S>, positionals: string[]) => Promise<number | void>,
  argv: readonly string[] = process.argv.slice(2),
): void {
  const fail = (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${cli.name}: ${err.message} (--help lists the options)\n`);
      process.exit(2);
    }
    process.stderr.write(`${cli.name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  };
  let options: OptionValues<S> & { help: boolean; positionals: string[] };
  try {
    options = parseBenchArgs(argv, cli.options, cli.positionals !== undefined);
  } catch (err) {
    return fail(err);
  }
  if (options.help) {
    process.stdout.write(
      `${usage(cli.command ?? `npm run ${cli.name} --`, cli.about, cli.options, cli.positionals)}\n`,
    );
    return;
  }
  main(options, options.positionals).then((code) => {
    if (typeof code === 'number') process.exit(code);
  }, fail);
}

/** Progress for whoever watches the terminal; stdout keeps only results. */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** A results table on stdout. */
export function printTable(headers: string[], rows: (string | number)[][]): void {
  process.stdout.write(`${table(headers, rows)}\n`);
}

/** A ratio as every bench prints one: two decimals and a times sign. */
export function ratio(numerator: number, denominator: number): string {
  return `${(numerator / denominator).toFixed(2)}×`;
}

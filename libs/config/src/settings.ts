import { z } from 'zod';

/** One environment variable: its name, its schema (with its default), and a line for the docs. */
export interface Setting<S extends z.ZodType = z.ZodType> {
  readonly env: string;
  readonly schema: S;
}

export function setting<S extends z.ZodType>(env: string, schema: S): Setting<S> {
  return { env, schema };
}

/** A tree of settings: leaves are settings, inner nodes are sections of the resulting config. */
export interface SettingsTree {
  readonly [key: string]: Setting | SettingsTree;
}

/** The typed value a tree of settings loads to: each leaf becomes its schema's output. */
export type Loaded<T> = T extends Setting<infer S> ? z.output<S> : { -readonly [K in keyof T]: Loaded<T[K]> };

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  readonly code = 'E_CONFIG';
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

function isSetting(x: Setting | SettingsTree): x is Setting {
  return typeof (x as Setting).env === 'string' && (x as Setting).schema instanceof z.ZodType;
}

/**
 * Reads every setting of `tree` from `env`, validating each with its schema; every failure is
 * collected and reported at once, each naming its variable. Empty strings mean "unset", so
 * `FOO= npm start` behaves like not setting FOO.
 */
export function loadSettings<T extends SettingsTree>(tree: T, env: Env): Loaded<T> {
  const issues: string[] = [];
  const walk = (node: SettingsTree): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(node)) {
      if (!isSetting(child)) {
        out[key] = walk(child);
        continue;
      }
      const raw = env[child.env];
      const parsed = child.schema.safeParse(raw === '' ? undefined : raw);
      if (parsed.success) out[key] = parsed.data;
      else for (const i of parsed.error.issues) issues.push(`${child.env}: ${i.message}`);
    }
    return out;
  };
  const loaded = walk(tree);
  if (issues.length) throw new ConfigError(issues);
  return loaded as Loaded<T>;
}

/**
 * Every variable a tree reads (the docs check holds the README and docs/ to this list:
 * apps/tools/test/docs-check.test.ts).
 */
export function settingNames(tree: SettingsTree): string[] {
  return Object.values(tree).flatMap((child) => (isSetting(child) ? [child.env] : settingNames(child)));
}

// Schema helpers shared by every role's settings.
export const int = (min: number, max: number) => z.coerce.number<string>().int().min(min).max(max);
export const num = (min: number, max: number) => z.coerce.number<string>().min(min).max(max);
export const list = z.string().transform((v) =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);
export const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
export const id = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, ".", "_" or "-" only');

/** The process's environment: the one place outside tests that reads it (a lint test holds the rest to it). */
export function processEnv(): Env {
  return process.env;
}

import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { SCHEMA_VERSION } from '@vision/redis';
import { VisionError } from '@vision/wire';
import { TALLIES, type Tallies } from './state-keys';

/**
 * A backup is one file: gzip'd lines of JSON. The first is the manifest, then one line per state
 * key (its `DUMP`, base64, and remaining TTL) and per site file, and last a line with the count of
 * the others and the SHA-256 of their text, so a truncated or altered file is refused before
 * anything is written. docs/backup.md describes it.
 */
export const BACKUP_FORMAT = 'vision-site-backup';
/** Raised when the file's layout changes; a tool refuses files newer than it reads. */
export const BACKUP_FORMAT_VERSION = 1;

export const FILE_ROLES = ['cameras', 'site', 'env'] as const;
export type FileRole = (typeof FILE_ROLES)[number];

const manifestSchema = z.object({
  format: z.literal(BACKUP_FORMAT),
  formatVersion: z.number().int().min(1),
  schemaVersion: z.number().int().min(1),
  createdAt: z.string(),
  prefix: z.string(),
  redisVersion: z.string(),
  tallies: z.object(
    Object.fromEntries(TALLIES.map((t) => [t, z.number().int().min(0)])) as Record<keyof Tallies, z.ZodNumber>,
  ),
  files: z.array(z.object({ role: z.enum(FILE_ROLES), path: z.string(), bytes: z.number().int().min(0) })),
});
export type Manifest = z.infer<typeof manifestSchema>;

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
const keyLine = z.object({ key: z.string().min(1), ttlMs: z.number().int().min(-1), dump: base64 });
const fileLine = z.object({ file: z.enum(FILE_ROLES), path: z.string(), mode: z.number().int(), data: base64 });
const endLine = z.object({ end: z.literal(true), lines: z.number().int().min(1), sha256: z.string() });

/** A state key: its name under the prefix, its remaining TTL (-1: none) and its `DUMP`. */
export interface KeyEntry {
  name: string;
  ttlMs: number;
  dump: Buffer;
}

export interface SiteFile {
  role: FileRole;
  path: string;
  mode: number;
  data: Buffer;
}

export interface SiteBackup {
  manifest: Manifest;
  keys: KeyEntry[];
  files: SiteFile[];
}

/** Writes the backup beside `path` and renames it into place: a file under that name is whole. */
export function writeBackupFile(path: string, backup: SiteBackup): number {
  const lines = [
    JSON.stringify(backup.manifest),
    ...backup.keys.map((k) => JSON.stringify({ key: k.name, ttlMs: k.ttlMs, dump: k.dump.toString('base64') })),
    ...backup.files.map((f) =>
      JSON.stringify({ file: f.role, path: f.path, mode: f.mode, data: f.data.toString('base64') }),
    ),
  ];
  const body = lines.join('\n');
  const end = JSON.stringify({ end: true, lines: lines.length, sha256: sha256(body) });
  const packed = gzipSync(`${body}\n${end}\n`);
  const partial = `${path}.partial`;
  // The .env inside holds the site's secrets: owner only.
  writeFileSync(partial, packed, { mode: 0o600 });
  renameSync(partial, path);
  return packed.length;
}

/**
 * Reads and checks a whole backup: `E_BACKUP_INVALID` for anything that is not an intact backup,
 * `E_CONFIG` for one from a newer schema than this release reads.
 */
export function readBackupFile(path: string): SiteBackup {
  let text: string;
  try {
    text = gunzipSync(readFileSync(path)).toString('utf8');
  } catch (err) {
    throw invalid(path, `not a backup, or cut short (${(err as Error).message})`);
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const end = parse(path, endLine, lines.pop(), 'its last line');
  const body = lines.join('\n');
  if (end.lines !== lines.length || end.sha256 !== sha256(body))
    throw invalid(path, 'its checksum does not match its content (altered or cut short)');
  const manifest = parse(path, manifestSchema, lines[0], 'its manifest');
  if (manifest.formatVersion > BACKUP_FORMAT_VERSION)
    throw invalid(path, `format ${manifest.formatVersion} is newer than this tool reads (${BACKUP_FORMAT_VERSION})`);
  if (manifest.schemaVersion > SCHEMA_VERSION)
    throw new VisionError(
      'E_CONFIG',
      `${path} holds state at schema version ${manifest.schemaVersion}; this release supports schema version ` +
        `${SCHEMA_VERSION}: restore it with a release that supports ${manifest.schemaVersion} (docs/upgrade.md)`,
    );
  const keys: KeyEntry[] = [];
  const files: SiteFile[] = [];
  for (const [i, line] of lines.slice(1).entries()) {
    const row = parse(path, z.union([keyLine, fileLine]), line, `line ${i + 2}`);
    if ('key' in row) keys.push({ name: row.key, ttlMs: row.ttlMs, dump: Buffer.from(row.dump, 'base64') });
    else files.push({ role: row.file, path: row.path, mode: row.mode, data: Buffer.from(row.data, 'base64') });
  }
  if (keys.length !== manifest.tallies.keys)
    throw invalid(path, `the manifest counts ${manifest.tallies.keys} keys, the file holds ${keys.length}`);
  return { manifest, keys, files };
}

function parse<S extends z.ZodType>(path: string, schema: S, line: string | undefined, what: string): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(line ?? '');
  } catch {
    throw invalid(path, `${what} is not JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalid(path, `${what} is malformed (${parsed.error.issues[0]?.message})`);
  return parsed.data;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function invalid(path: string, reason: string): VisionError {
  return new VisionError('E_BACKUP_INVALID', `${path}: ${reason}`);
}
